//! What `/metrics` says about where it comes from: the `target_info` family
//! (the resource, as the OpenTelemetry compatibility spec shapes it), the
//! constant labels on every sample (`Builder::const_label`, `OBS_CONST_LABELS`),
//! and the series cap of the application's own facade families; read by
//! promtool and joined in PromQL by a real Prometheus.

mod support;

use std::time::{Duration, Instant};

use obs_runtime::observe;
use support::{http_get, http_get_with, promtool_check, require_tool, run_child};

#[observe]
fn checkout() {}

#[observe(labels(tier = tier))]
fn tiered(tier: &str) {
    let _ = tier;
}

/// The series of an instant query, once Prometheus has one (within 60 s).
async fn query(prometheus: &support::Prometheus, promql: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let result = prometheus.query(promql);
        if !result.is_empty() {
            return result;
        }
        assert!(Instant::now() < deadline, "Prometheus had no result for {promql} within 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_info_and_constant_labels_join_in_prometheus() {
    require_tool("prometheus");
    let logs = support::MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("resource-test")
        .service_version("2.5.1")
        .const_label("environment", "prod")
        .const_label("region", "eu")
        .max_series_per_metric(3)
        .log_writer(logs.clone())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let app = guard.http_addr().unwrap();
    checkout();
    tiered("gold");
    metrics::describe_counter!("logins_total", "Logins, by user (an unbounded label, capped).");
    metrics::describe_counter!("deploys_total", "Deploys, by the environment the app was told.");
    for user in ["ann", "bob", "cid", "dan", "eve", "ann"] {
        metrics::counter!("logins_total", "user" => user).increment(1);
    }
    metrics::counter!("deploys_total", "environment" => "dev").increment(1);

    let start = logs.lines().into_iter().find(|l| l["event"] == "obs.start").expect("the start line");
    assert_eq!(start["metrics.const_labels"], r#"environment="prod",region="eu""#, "{start}");

    let (status, text) = http_get(app, "/metrics").unwrap();
    assert_eq!(status, 200);
    let target_info = text.lines().find(|l| l.starts_with("target_info{")).unwrap_or_else(|| panic!("{text}"));
    for label in [r#"service_name="resource-test""#, r#"service_version="2.5.1""#, r#"telemetry_sdk_language="rust""#] {
        assert!(target_info.contains(label), "{label} missing in {target_info}");
    }
    assert!(target_info.contains("service_instance_id=\"") && target_info.ends_with("} 1"), "{target_info}");
    assert!(!target_info.contains("environment") && !target_info.contains("job="), "only the resource: {target_info}");
    let consts = r#"environment="prod",region="eu""#;
    for line in [
        "# HELP target_info Target metadata".to_owned(),
        "# TYPE target_info gauge".to_owned(),
        format!(r#"obs_function_calls_total{{{consts},function="checkout",module="resource",status="ok"}} 1"#),
        format!(
            r#"obs_function_calls_total{{{consts},function="tiered",module="resource",tier="gold",status="ok"}} 1"#
        ),
        format!(r#"logins_total{{{consts},user="ann"}} 2"#),
        format!(r#"logins_total{{{consts},user="cid"}} 1"#),
        format!(r#"logins_total{{{consts},user="__overflow__"}} 2"#),
        format!(r#"obs_overflow_total{{{consts},metric="logins_total"}} 2"#),
        format!(r#"deploys_total{{{consts},exported_environment="dev"}} 1"#),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains(r#"user="dan""#), "past the cap of 3:\n{text}");
    let unlabelled: Vec<&str> =
        text.lines().filter(|l| !l.starts_with('#') && !l.starts_with("target_info") && !l.contains(consts)).collect();
    assert!(unlabelled.is_empty(), "every sample has the constant labels: {unlabelled:?}");
    promtool_check(&text);

    let (_, open) =
        http_get_with(app, "/metrics", &[("Accept", "application/openmetrics-text; version=1.0.0")]).unwrap();
    assert!(open.contains("# HELP target Target metadata\n# TYPE target info\ntarget_info{"), "{open}");

    let server = support::Prometheus::start("resource", app, &[]);
    let promql = r#"obs_function_calls_total{function="checkout",status="ok"} * on (job, instance) group_left(service_version) target_info"#;
    let result = query(&server, promql).await;
    assert_eq!(result.len(), 1, "{result:?}");
    let metric = &result[0]["metric"];
    assert_eq!(metric["service_version"], "2.5.1", "{metric}");
    assert_eq!(metric["environment"], "prod", "{metric}");
    assert_eq!(metric["job"], "app", "Prometheus' own target labels: {metric}");
    assert_eq!(metric["instance"], app.to_string(), "{metric}");
    assert_eq!(result[0]["value"][1], "1");
    drop(server);
}

#[test]
fn a_bad_constant_label_is_an_init_error() {
    run_child("bad-label");
}

#[test]
fn constant_labels_from_the_environment() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("OBS_TEST_CHILD", "env")
        .env("OBS_CONST_LABELS", "team=pay%20ments, environment=staging")
        .output()
        .expect("run the child");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("case env passed"), "{text}");

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("OBS_TEST_CHILD", "bad-env")
        .env("OBS_CONST_LABELS", "team=pay,job=secret-value")
        .output()
        .expect("run the child");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("case bad-env passed"), "{text}");
    assert!(text.contains("obs: WARN ignoring OBS_CONST_LABELS: member 2 of 2"), "{text}");
    assert!(!text.contains("secret-value"), "a warning never shows the value: {text}");
}

#[test]
fn child() {
    let Ok(case) = std::env::var("OBS_TEST_CHILD") else { return };
    let builder = obs_runtime::builder()
        .service_name("resource-child")
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap());
    match case.as_str() {
        "bad-label" => {
            for (name, value, why) in [
                ("job", "x", "const label `job`: obs or Prometheus already puts a label of this name"),
                ("region-1", "x", "const label `region-1`: a label name is [a-zA-Z_][a-zA-Z0-9_]*"),
                ("region", "", "const label `region`: the value is empty"),
                ("tier", "gold", "const label `tier`: `labels(...)` of `tiered` already puts a label of this name"),
            ] {
                let err =
                    obs_runtime::builder().without_http().const_label(name, value).init().map(|_| ()).unwrap_err();
                assert!(err.to_string().contains(why), "{err}");
            }
            let err = builder.const_label("a", "1").const_label("a", "2").init().map(|_| ()).unwrap_err();
            assert!(err.to_string().contains("const label `a` is given twice"), "{err}");
        }
        "env" => {
            let guard = builder.const_label("environment", "prod").init().expect("init");
            checkout();
            let (_, text) = http_get(guard.http_addr().unwrap(), "/metrics").unwrap();
            let line = r#"obs_function_calls_total{environment="staging",team="pay ments",function="checkout",module="resource",status="ok"} 1"#;
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        "bad-env" => {
            let guard = builder.init().expect("a bad variable is ignored, not an error");
            checkout();
            let (_, text) = http_get(guard.http_addr().unwrap(), "/metrics").unwrap();
            let line = r#"obs_function_calls_total{function="checkout",module="resource",status="ok"} 1"#;
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        other => panic!("unknown case {other}"),
    }
    println!("case {case} passed");
}
