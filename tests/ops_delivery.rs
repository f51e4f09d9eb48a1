//! How users get the operations artifacts: the routes on obs's server, the
//! functions, and `OBS_OPS_WRITE=<dir>`, which makes `init` write them and
//! the process exit 0 (a build pipeline step). And the bucket the latency
//! objective needs, added at start-up.

mod support;

use std::process::Command;

use obs_runtime::health::{DiskSpaceCheck, TcpCheck};
use obs_runtime::{HealthCheck, observe};
use support::{http_get, require_tool, sample};

#[observe(objective(success = 99.5, latency = "300ms"))]
fn quote_price() {}

#[derive(HealthCheck)]
struct Health {
    #[health(name = "price_db")]
    db: TcpCheck,
    #[health(non_critical)]
    disk: DiskSpaceCheck,
}

#[test]
fn the_routes_serve_what_the_functions_generate_and_the_threshold_is_a_bucket() {
    if std::env::var_os("OBS_OPS_CHILD").is_some() {
        return;
    }
    let guard = obs_runtime::builder()
        .service_name("ops-delivery")
        .runbook_url("https://wiki.example/runbooks/{alert}")
        .health(Health { db: TcpCheck::new("127.0.0.1:9"), disk: DiskSpaceCheck::new("/") })
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let addr = guard.http_addr().unwrap();
    quote_price();
    // The application's own families, described after init: the dashboard generated now shows them.
    metrics::describe_counter!("quotes_served_total", "Quotes served, by currency.");
    metrics::counter!("quotes_served_total", "currency" => "eur").increment(1);
    metrics::describe_histogram!("quote_build_seconds", "Time to build a quote.");

    // 0.3 s is not a default bucket bound: init added it, so the objective is counted exactly.
    let (status, metrics) = http_get(addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    let bucket =
        sample(&metrics, "obs_function_duration_seconds_bucket", &[("function", "quote_price"), ("le", "0.3")]);
    assert_eq!(bucket, Some(1.0), "{metrics}");

    let (status, rules) = http_get(addr, "/obs/rules.yml").unwrap();
    assert_eq!(status, 200);
    assert_eq!(rules, obs_runtime::ops::prometheus_rules());
    for needle in [
        r#"{job=\"ops-delivery\",function=\"quote_price\",module=\"ops_delivery\",le=\"0.3\"}"#,
        "runbook_url: \"https://wiki.example/runbooks/ObsSloBurnRateFast\"",
        "service: \"ops-delivery\"",
        // Only the critical check pages.
        r#"expr: "obs_health_status{job=\"ops-delivery\",check=~\"price_db\"} == 0""#,
    ] {
        assert!(rules.contains(needle), "missing {needle} in:\n{rules}");
    }
    let (status, alertmanager) = http_get(addr, "/obs/alertmanager.yml").unwrap();
    assert_eq!((status, alertmanager.contains("receiver: \"webhook\"")), (200, true), "{alertmanager}");
    let (status, dashboard) = http_get(addr, "/obs/dashboard.json").unwrap();
    assert_eq!(status, 200);
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("JSON");
    assert_eq!(dashboard["title"], "obs: ops-delivery");
    let (status, queries) = http_get(addr, "/obs/dashboard-queries.yml").unwrap();
    assert_eq!((status, queries.contains("record: \"obs_dashboard:panel")), (200, true), "{queries}");
    let panels = dashboard["panels"].as_array().unwrap();
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    assert!(titles.contains(&"Application"), "an application row: {titles:?}");
    let exprs = |title: &str| -> Vec<String> {
        let panel =
            panels.iter().find(|p| p["title"] == title).unwrap_or_else(|| panic!("no panel {title}: {titles:?}"));
        panel["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        exprs("quotes_served_total"),
        [r#"sum without (instance) (rate(quotes_served_total{job="ops-delivery"}[5m]))"#]
    );
    let quantiles = exprs("quote_build_seconds");
    assert_eq!(quantiles.len(), 3, "{quantiles:?}");
    assert!(
        quantiles[1].starts_with("histogram_quantile(0.95, sum without (instance) (rate(quote_build_seconds_bucket{")
    );
    assert!(!titles.iter().any(|t| t.starts_with("obs_")), "obs's own families are not application panels: {titles:?}");
    // promtool parses every query, the application's included.
    let dir = std::env::temp_dir().join(format!("obs-ops-delivery-queries-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("queries.yml"), &queries).unwrap();
    let out = Command::new(require_tool("promtool"))
        .args(["check", "rules", "queries.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Re-runs this test binary with `OBS_OPS_WRITE` set: `init` writes the files and the process exits 0.
#[test]
fn obs_ops_write_writes_the_artifacts_and_exits_zero() {
    if let Some(dir) = std::env::var_os("OBS_OPS_CHILD") {
        let _ = dir;
        let result = obs_runtime::builder().service_name("ops-pipeline").without_http().init();
        // Not reached: init exits the process once the files are written.
        panic!("init returned instead of exiting: {:?}", result.err());
    }
    let dir = std::env::temp_dir().join(format!("obs-ops-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "obs_ops_write_writes_the_artifacts_and_exits_zero", "--nocapture"])
        .env("OBS_OPS_CHILD", "1")
        .env("OBS_OPS_WRITE", &dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}:\n{stderr}", out.status.code());
    for file in obs_runtime::ops::FILES {
        assert!(dir.join(file).is_file(), "{file} not written; stderr:\n{stderr}");
        assert!(stderr.contains(&format!("obs: wrote {}", dir.join(file).display())), "{stderr}");
    }
    let rules = std::fs::read_to_string(dir.join("rules.yml")).unwrap();
    assert!(rules.contains(r#"job=\"ops-pipeline\",function=\"quote_price\""#), "{rules}");
    let check = Command::new(require_tool("promtool"))
        .args(["check", "rules", "--lint-fatal", "rules.yml", "dashboard-queries.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
