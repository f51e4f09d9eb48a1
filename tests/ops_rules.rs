//! The generated operations artifacts against the real tools: `promtool check
//! rules` accepts the rule file and the dashboard's queries, `promtool test
//! rules` runs synthetic scenarios through the generated rules (an error
//! burst pages and does not ticket, a slow leak tickets and does not page,
//! noise fires nothing, a latency step fires the anomaly alert), `amtool
//! check-config` accepts the Alertmanager template, and the dashboard's JSON
//! holds together. A tool's rejection fails the test with the tool's own words.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use obs_runtime::ops::{Generator, Objective, OpsSettings};
use obs_runtime::{node, observe, workflow};
use support::require_tool;

const SERVICE: &str = "ops-test";
const CHECKOUT: Objective = Objective::new().success(99.9).latency_ms(300).percentile(99.0);

#[observe(objective = CHECKOUT)]
fn checkout() {}

#[observe]
fn browse() {}

#[workflow(objective(success = 99))]
async fn fulfil() {
    pack().await;
}

#[node(objective(latency = "2s", percentile = 95))]
async fn pack() {}

fn generator() -> Generator {
    Generator::new(SERVICE, OpsSettings::default().runbook_url("https://runbooks.example/{alert}"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("obs-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a tool; fails with its own output unless it succeeds. Returns stdout and stderr.
fn run(tool: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(require_tool(tool)).args(args).current_dir(dir).output().expect("the tool starts");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "`{tool} {}` failed on the generated artifacts:\n{text}", args.join(" "));
    text
}

#[test]
fn promtool_accepts_the_rules_and_the_dashboard_queries() {
    let _ = (checkout(), browse(), fulfil());
    let dir = temp_dir("check");
    generator().write_to(&dir).unwrap();
    let out = run("promtool", &["check", "rules", "--lint-fatal", "rules.yml", "dashboard-queries.yml"], &dir);
    assert!(out.contains("SUCCESS"), "{out}");
    let rules = std::fs::read_to_string(dir.join("rules.yml")).unwrap();
    // Exactly the annotated code: objectives of the three sites that have one.
    for needle in [
        r#"function=\"checkout\""#,
        r#"workflow=\"fulfil\""#,
        r#"node=\"pack\""#,
        "record: \"job_function:obs_function_slo_errors:ratio_rate1h\"",
        "alert: \"ObsSloBurnRateFast\"",
        "alert: \"ObsSloBurnRateSlow\"",
        "runbook_url: \"https://runbooks.example/ObsSloBurnRateFast\"",
        // The latency objective counts calls in the bucket at its threshold (added at init: 0.3 is not a default bound).
        r#"le=\"0.3\""#,
        r#"le=\"2\""#,
    ] {
        assert!(rules.contains(needle), "missing {needle} in:\n{rules}");
    }
    assert!(!rules.contains(r#"function=\"browse\",module"#), "browse has no objective:\n{rules}");
    // Every alert says how bad it is, what is wrong, why, and where the runbook is.
    let alerts: Vec<&str> = rules.split("  - alert: ").skip(1).collect();
    assert!(alerts.len() >= 15, "{rules}");
    for alert in alerts {
        let block = alert.split("\n  - ").next().unwrap();
        for field in
            ["severity: ", "service: ", "summary: ", "description: ", "runbook_url: \"https://runbooks.example/"]
        {
            assert!(block.contains(field), "alert without {field}:\n{block}");
        }
    }
    if std::env::var_os("OBS_KEEP_ARTIFACTS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// One minute of synthetic traffic: calls that succeed and calls that fail
/// (or, for latency, the mean duration of the minute's calls).
#[derive(Clone, Copy)]
struct Minute {
    ok: u64,
    errors: u64,
    mean_seconds: f64,
    /// Calls slower than the 300 ms threshold of the latency objective.
    slow: u64,
}

/// The input series of `minutes` of checkout traffic, in promtool's notation
/// (every cumulative value written out).
fn checkout_series(minutes: &[Minute]) -> String {
    labelled_checkout_series(minutes, "")
}

/// [`checkout_series`] with more labels after `module` (`labels(...)` of the function, as `,tier="pro"`).
fn labelled_checkout_series(minutes: &[Minute], extra: &str) -> String {
    let labels = format!(r#"job="{SERVICE}",function="checkout",module="ops_rules"{extra}"#);
    let (mut ok, mut errors, mut count, mut sum) = (vec![0u64], vec![0u64], vec![0u64], vec![0f64]);
    let mut fast = vec![0u64];
    for m in minutes {
        fast.push(fast.last().unwrap() + m.ok + m.errors - m.slow);
        ok.push(ok.last().unwrap() + m.ok);
        errors.push(errors.last().unwrap() + m.errors);
        count.push(count.last().unwrap() + m.ok + m.errors);
        sum.push(sum.last().unwrap() + (m.ok + m.errors) as f64 * m.mean_seconds);
    }
    let join = |values: Vec<String>| values.join(" ");
    let series = [
        (format!("obs_function_calls_total{{{labels},status=\"ok\"}}"), join(ok.iter().map(u64::to_string).collect())),
        (
            format!("obs_function_calls_total{{{labels},status=\"error\"}}"),
            join(errors.iter().map(u64::to_string).collect()),
        ),
        (format!("obs_function_duration_seconds_count{{{labels}}}"), join(count.iter().map(u64::to_string).collect())),
        (
            format!("obs_function_duration_seconds_sum{{{labels}}}"),
            join(sum.iter().map(|v| format!("{v:.3}")).collect()),
        ),
        (
            format!("obs_function_duration_seconds_bucket{{{labels},le=\"0.3\"}}"),
            join(fast.iter().map(u64::to_string).collect()),
        ),
        (
            format!("obs_function_duration_seconds_bucket{{{labels},le=\"+Inf\"}}"),
            join(count.iter().map(u64::to_string).collect()),
        ),
    ];
    series.iter().map(|(name, values)| format!("      - series: '{name}'\n        values: '{values}'\n")).collect()
}

/// A check that `alert` (of the success objective) is (`firing = true`) or is not firing for checkout at `minute`.
fn expect(alert: &str, minute: u64, firing: bool) -> String {
    expect_state(alert, "success", "firing", minute, firing)
}

/// A check that `alert` of objective `slo` is (`present = true`) or is not in `state` at `minute`.
fn expect_state(alert: &str, slo: &str, state: &str, minute: u64, present: bool) -> String {
    let severity = if alert == "ObsSloBurnRateFast" { "page" } else { "ticket" };
    let mut labels = vec![
        format!("alertname=\"{alert}\""),
        format!("alertstate=\"{state}\""),
        "function=\"checkout\"".to_owned(),
        format!("job=\"{SERVICE}\""),
    ];
    if alert.starts_with("ObsSlo") {
        labels.extend([
            "module=\"ops_rules\"".to_owned(),
            format!("service=\"{SERVICE}\""),
            format!("severity=\"{severity}\""),
        ]);
        labels.push(format!("slo=\"{slo}\""));
    } else {
        labels.extend([
            "kind=\"function\"".to_owned(),
            "module=\"ops_rules\"".to_owned(),
            format!("service=\"{SERVICE}\""),
            "severity=\"ticket\"".to_owned(),
        ]);
    }
    labels.sort();
    let samples = if present {
        format!("\n          - labels: 'ALERTS{{{}}}'\n            value: 1", labels.join(","))
    } else {
        " []".to_owned()
    };
    format!(
        "      - expr: 'ALERTS{{alertname=\"{alert}\",alertstate=\"{state}\",function=\"checkout\",slo=~\"{slo}|\"}}'\n        eval_time: {minute}m\n        exp_samples:{samples}\n"
    )
}

/// Writes a `promtool test rules` file for one scenario and runs it; fails with promtool's words.
fn scenario(name: &str, minutes: &[Minute], checks: &[String]) {
    scenario_over(name, &checkout_series(minutes), checks);
}

/// [`scenario`] over input series written by the caller.
fn scenario_over(name: &str, series: &str, checks: &[String]) {
    let dir = temp_dir(name);
    generator().filter_sites(|site| site.name() == "checkout").write_to(&dir).unwrap();
    let test = format!(
        "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{}    promql_expr_test:\n{}",
        series,
        checks.concat()
    );
    std::fs::write(dir.join(format!("{name}.test.yml")), test).unwrap();
    run("promtool", &["test", "rules", &format!("{name}.test.yml")], &dir);
    if std::env::var_os("OBS_KEEP_ARTIFACTS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A small deterministic generator for noise (the same every run).
fn noise(seed: &mut u64) -> f64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

fn healthy(ok: u64) -> Minute {
    Minute { ok, errors: 0, mean_seconds: 0.1, slow: 0 }
}

#[test]
fn an_error_burst_pages_within_its_for_window_and_does_not_ticket() {
    // Two healthy hours, then half of the calls fail for 30 minutes.
    let mut minutes = vec![healthy(1000); 120];
    minutes.extend(vec![Minute { ok: 500, errors: 500, mean_seconds: 0.1, slow: 0 }; 30]);
    scenario(
        "burst",
        &minutes,
        &[
            expect("ObsSloBurnRateFast", 119, false),
            // 2 minutes of `for` after the 1h and 5m windows both cross 14.4x.
            expect("ObsSloBurnRateFast", 126, true),
            expect("ObsSloBurnRateSlow", 126, false),
            // The ticket condition holds too, but its `for` (1h) outlasts the burst's page.
            expect_state("ObsSloBurnRateSlow", "success", "pending", 126, true),
            expect("ObsSloBurnRateSlow", 149, false),
            // The latency objective is untouched.
            expect_state("ObsSloBurnRateFast", "latency", "firing", 126, false),
        ],
    );
}

/// A function with `labels(...)` has a series per label value: its objective is
/// over their sum. Half the traffic (tier "pro") fails outright, which pages for
/// the function as a whole, and the alert carries no `tier` label.
#[test]
fn a_labelled_functions_objective_sums_over_its_labels() {
    let mut free = vec![healthy(500); 120];
    free.extend(vec![healthy(500); 30]);
    let mut pro = vec![healthy(500); 120];
    pro.extend(vec![Minute { ok: 0, errors: 500, mean_seconds: 0.1, slow: 0 }; 30]);
    let series = labelled_checkout_series(&free, r#",tier="free""#) + &labelled_checkout_series(&pro, r#",tier="pro""#);
    scenario_over(
        "labelled",
        &series,
        &[expect("ObsSloBurnRateFast", 119, false), expect("ObsSloBurnRateFast", 126, true)],
    );
}

#[test]
fn slow_calls_page_the_latency_objective() {
    // An hour within the objective, then half of the calls take longer than 300 ms
    // (a 99 % objective: 50 times its budget). The 6h/30m pair crosses 6x within about
    // 10 minutes here (the 6h window holds only the 70 minutes there are), the 1h/5m
    // pair 14.4x after about 18. The success objective is untouched.
    let mut minutes = vec![Minute { ok: 1000, errors: 0, mean_seconds: 0.1, slow: 2 }; 60];
    minutes.extend(vec![Minute { ok: 1000, errors: 0, mean_seconds: 0.2, slow: 500 }; 30]);
    scenario(
        "latency-burn",
        &minutes,
        &[
            expect_state("ObsSloBurnRateFast", "latency", "firing", 59, false),
            expect_state("ObsSloBurnRateFast", "latency", "firing", 85, true),
            expect_state("ObsSloBurnRateFast", "success", "firing", 85, false),
        ],
    );
}

#[test]
fn a_slow_leak_tickets_and_does_not_page() {
    // 0.5 % of calls fail from the start: 5 times the budget of a 99.9 % objective,
    // above the ticket pairs (3x, 1x), below the page pairs (14.4x, 6x).
    let minutes = vec![Minute { ok: 995, errors: 5, mean_seconds: 0.1, slow: 0 }; 5 * 60];
    scenario(
        "leak",
        &minutes,
        &[
            expect("ObsSloBurnRateSlow", 30, false),
            expect("ObsSloBurnRateSlow", 4 * 60, true),
            expect("ObsSloBurnRateFast", 4 * 60, false),
            expect("ObsSloBurnRateFast", 5 * 60, false),
        ],
    );
}

#[test]
fn noise_within_the_budget_fires_nothing() {
    // Up to 0.09 % of calls fail at random, latency wobbles by ±10 %: within a 99.9 % objective, and stationary.
    let mut seed = 7;
    let minutes: Vec<Minute> = (0..26 * 60)
        .map(|_| {
            let errors = (noise(&mut seed) * 0.9).round() as u64;
            Minute { ok: 1000 - errors, errors, mean_seconds: 0.1 * (0.9 + 0.2 * noise(&mut seed)), slow: 0 }
        })
        .collect();
    let mut checks = Vec::new();
    for minute in [60, 6 * 60, 12 * 60, 25 * 60, 26 * 60] {
        for alert in ["ObsSloBurnRateFast", "ObsSloBurnRateSlow", "ObsLatencyAnomaly", "ObsErrorRatioAnomaly"] {
            checks.push(expect(alert, minute, false));
        }
    }
    scenario("noise", &minutes, &checks);
}

#[test]
fn a_latency_step_fires_the_anomaly_alert() {
    // A day and a half of stationary noise around 100 ms, then every call takes 200 ms.
    let mut seed = 11;
    let mut minutes: Vec<Minute> = (0..36 * 60)
        .map(|_| Minute { ok: 1000, errors: 0, mean_seconds: 0.1 * (0.9 + 0.2 * noise(&mut seed)), slow: 0 })
        .collect();
    let step = minutes.len() as u64;
    minutes.extend(vec![Minute { ok: 1000, errors: 0, mean_seconds: 0.2, slow: 0 }; 30]);
    scenario(
        "latency-step",
        &minutes,
        &[
            expect("ObsLatencyAnomaly", step - 1, false),
            // 10 minutes of `for` once the 5m mean has moved.
            expect("ObsLatencyAnomaly", step + 20, true),
        ],
    );
}

#[test]
fn amtool_accepts_the_alertmanager_template_with_its_secret_files() {
    let dir = temp_dir("alertmanager");
    let secret = |name: &str| {
        let path = dir.join(name);
        std::fs::write(&path, "placeholder\n").unwrap();
        path.display().to_string()
    };
    let receivers = obs_runtime::ops::Receivers::default()
        .email_password_file(secret("smtp_password"))
        .slack(secret("slack_api_url"), "#checkout")
        .pagerduty_routing_key_file(secret("pagerduty_routing_key"))
        .webhook("http://127.0.0.1:5001/alerts");
    let generator = Generator::new(SERVICE, OpsSettings::default().receivers(receivers));
    let config = generator.alertmanager_config();
    std::fs::write(dir.join("alertmanager.yml"), &config).unwrap();
    let out = run("amtool", &["check-config", "alertmanager.yml"], &dir);
    assert!(out.contains("SUCCESS") && out.contains("2 inhibit rules") && out.contains("3 receivers"), "{out}");
    // Secrets are file paths only; the routing and timing the issue asks for are there.
    assert!(!config.contains("placeholder"), "{config}");
    for needle in [
        "routing_key_file:",
        "auth_password_file:",
        "slack_api_url_file:",
        "group_wait: \"10s\"",
        "group_interval: \"10s\"",
        "repeat_interval: \"1h\"",
        "send_resolved: true",
        "- \"severity=\\\"page\\\"\"",
    ] {
        assert!(config.contains(needle), "missing {needle} in:\n{config}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_applications_families_get_panels_that_promtool_accepts() {
    use obs_runtime::metrics::MetricType;
    let generator = generator()
        .app_family("orders_total", MetricType::Counter, "Orders placed.")
        .app_family("cart_items", MetricType::Gauge, "Items in open carts.")
        .app_family("payload-seconds", MetricType::Histogram, "Time to write a payload.");
    let dashboard: serde_json::Value = serde_json::from_str(&generator.grafana_dashboard()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let rows: Vec<_> = panels.iter().filter(|p| p["type"] == "row").map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(rows.last(), Some(&"Application"), "{rows:?}");
    let expr = |title: &str, i: usize| -> String {
        let panel = panels.iter().find(|p| p["title"] == title).unwrap_or_else(|| panic!("no panel {title}"));
        assert!(!panel["description"].as_str().unwrap().is_empty(), "{panel}");
        panel["targets"][i]["expr"].as_str().unwrap().to_owned()
    };
    assert_eq!(expr("orders_total", 0), r#"sum without (instance) (rate(orders_total{job="ops-test"}[5m]))"#);
    assert_eq!(expr("cart_items", 0), r#"cart_items{job="ops-test"}"#);
    assert_eq!(
        expr("payload_seconds", 2),
        r#"histogram_quantile(0.99, sum without (instance) (rate(payload_seconds_bucket{job="ops-test"}[5m])))"#,
        "the name as /metrics spells it"
    );
    let dir = temp_dir("app-families");
    generator.write_to(&dir).unwrap();
    let queries = std::fs::read_to_string(dir.join("dashboard-queries.yml")).unwrap();
    assert!(queries.contains("rate(orders_total{"), "{queries}");
    let out = run("promtool", &["check", "rules", "--lint-fatal", "dashboard-queries.yml"], &dir);
    assert!(out.contains("SUCCESS"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_dashboard_holds_together() {
    let dashboard: serde_json::Value = serde_json::from_str(&generator().grafana_dashboard()).expect("valid JSON");
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert_eq!(variables[0]["type"], "datasource");
    assert_eq!(variables[0]["query"], "prometheus");
    let names: Vec<_> = variables.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["datasource", "function", "workflow"]);

    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = std::collections::HashSet::new();
    let mut boxes: Vec<(u64, u64, u64, u64, String)> = Vec::new();
    let rows: Vec<_> = panels.iter().filter(|p| p["type"] == "row").map(|p| p["title"].as_str().unwrap()).collect();
    // The process row is there because the process families are (feature `process`).
    assert_eq!(rows, ["Overview", "Workflows", "Nodes", "Health", "Process"]);
    for panel in panels {
        let title = panel["title"].as_str().unwrap().to_owned();
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "panel id {} used twice", panel["id"]);
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{title} has no query");
            for target in targets {
                assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            }
        }
        let g = &panel["gridPos"];
        let (x, y, w, h) =
            (g["x"].as_u64().unwrap(), g["y"].as_u64().unwrap(), g["w"].as_u64().unwrap(), g["h"].as_u64().unwrap());
        assert!(x + w <= 24, "{title} is wider than the grid");
        for (ox, oy, ow, oh, other) in &boxes {
            let overlap = x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h;
            assert!(!overlap, "{title} overlaps {other}");
        }
        boxes.push((x, y, w, h, title));
    }
    let titles: Vec<_> = boxes.iter().map(|b| b.4.as_str()).collect();
    for wanted in ["SLO burn rate (1h)", "Error budget remaining (3d)", "Node duration", "Active runs"] {
        assert!(titles.contains(&wanted), "no panel {wanted:?} in {titles:?}");
    }
}

#[test]
fn an_error_ratio_step_fires_the_anomaly_alert() {
    // A day and a half with up to 0.09 % of calls failing at random, then 5 % fail
    // (which burns the 99.9 % objective too; this test looks at the anomaly alert alone).
    let mut seed = 13;
    let mut minutes: Vec<Minute> = (0..36 * 60)
        .map(|_| {
            let errors = (noise(&mut seed) * 0.9).round() as u64;
            Minute { ok: 1000 - errors, errors, mean_seconds: 0.1, slow: 0 }
        })
        .collect();
    let step = minutes.len() as u64;
    minutes.extend(vec![Minute { ok: 950, errors: 50, mean_seconds: 0.1, slow: 0 }; 30]);
    scenario(
        "error-step",
        &minutes,
        &[
            expect("ObsErrorRatioAnomaly", step - 1, false),
            expect("ObsErrorRatioAnomaly", step + 20, true),
            expect("ObsLatencyAnomaly", step + 20, false),
        ],
    );
}

#[test]
fn the_time_scale_shortens_windows_and_keeps_the_formulas() {
    let unscaled = generator().prometheus_rules();
    let scaled = Generator::new(SERVICE, OpsSettings::default().time_scale(1.0 / 60.0)).prometheus_rules();
    // 1h/5m at 14.4x becomes 1m/5s at 14.4x: the same thresholds against shorter windows.
    let fast = "job_function:obs_function_slo_errors:ratio_rate1h{job=\\\"ops-test\\\",function=\\\"checkout\\\",module=\\\"ops_rules\\\",slo=\\\"success\\\"} > 0.0144";
    assert!(unscaled.contains(fast), "{unscaled}");
    assert!(scaled.contains(&fast.replace("rate1h", "rate1m")), "{scaled}");
    assert!(scaled.contains("[5s]") && scaled.contains("for: \"2s\"") && !scaled.contains("[5m]"), "{scaled}");
    // Apart from the durations, the two files are the same text.
    let strip = |text: &str| {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                while chars.peek().is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.') {
                    chars.next();
                }
                out.push('#');
            } else {
                out.push(c);
            }
        }
        out
    };
    assert_eq!(strip(&unscaled), strip(&scaled));
}

/// `ObsErrorLogRateHigh`, evaluated by Prometheus's rule engine (`promtool test rules`):
/// 30 ERROR events a minute (0.5/s) for long enough fires it, 3 a minute does not.
#[test]
fn a_sustained_error_log_rate_tickets() {
    let dir = temp_dir("error-log-rate");
    generator().filter_sites(|site| site.name() == "checkout").write_to(&dir).unwrap();
    let series = |level: &str, per_minute: u64, minutes: u64| {
        let values: Vec<String> = (0..=minutes).map(|m| (m * per_minute).to_string()).collect();
        format!(
            "      - series: 'obs_log_events_total{{job=\"{SERVICE}\",instance=\"a:1\",level=\"{level}\"}}'\n        values: '{}'\n",
            values.join(" ")
        )
    };
    let check = |minute: u64, firing: bool| {
        let samples = if firing {
            format!(
                "\n          - labels: 'ALERTS{{alertname=\"ObsErrorLogRateHigh\",alertstate=\"firing\",job=\"{SERVICE}\",level=\"error\",service=\"{SERVICE}\",severity=\"ticket\"}}'\n            value: 1"
            )
        } else {
            " []".to_owned()
        };
        format!(
            "      - expr: 'ALERTS{{alertname=\"ObsErrorLogRateHigh\",alertstate=\"firing\"}}'\n        eval_time: {minute}m\n        exp_samples:{samples}\n"
        )
    };
    let test = format!(
        "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{}{}    promql_expr_test:\n{}{}{}",
        series("error", 30, 40),
        series("info", 600, 40),
        check(5, false),
        check(30, true),
        "",
    );
    std::fs::write(dir.join("errors.test.yml"), test).unwrap();
    run("promtool", &["test", "rules", "errors.test.yml"], &dir);
    let quiet = format!(
        "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{}    promql_expr_test:\n{}",
        series("error", 3, 40),
        check(30, false),
    );
    std::fs::write(dir.join("quiet.test.yml"), quiet).unwrap();
    run("promtool", &["test", "rules", "quiet.test.yml"], &dir);
    let _ = std::fs::remove_dir_all(&dir);
}
