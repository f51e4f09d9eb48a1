//! End to end: a real Prometheus loaded with the generated rules scrapes an
//! app whose checkout fails on purpose, a real Alertmanager with the
//! generated routing receives the alert, and the webhook server run here gets
//! it, with its `severity` label and `runbook_url` annotation.
//!
//! A second case (a child process: `init` runs once per process) loads the
//! generated rules into a real Prometheus scraping an app that first logs no
//! error, then logs errors at a high rate: `ObsErrorLogRateHigh` stays silent,
//! then fires.
//!
//! The windows are shortened with the documented scale factor
//! (`OpsSettings::time_scale(1/60)`: the 1h/5m page pair becomes 1m/5s, its
//! `for` 2s), never by changing the formulas.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use obs_runtime::observe;
use obs_runtime::ops::{OpsSettings, Receivers};
use support::{ChildGuard, PaymentError, free_port, http_get, require_tool, run_child};

const SERVICE: &str = "ops-e2e";

#[observe(objective(success = 99.9))]
fn charge(cents: u64) -> Result<u64, PaymentError> {
    let _ = cents;
    Err(PaymentError::Declined)
}

/// A webhook receiver: every POST body, as JSON, on the channel.
fn webhook_server() -> (u16, mpsc::Receiver<serde_json::Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(json) = serde_json::from_slice(&body)
            {
                let _ = tx.send(json);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, rx)
}

fn wait_ready(addr: std::net::SocketAddr, what: &str, deadline: Instant) {
    while !http_get(addr, "/-/ready").map(|(s, _)| s == 200).unwrap_or(false) {
        assert!(Instant::now() < deadline, "{what} did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_failing_function_pages_through_prometheus_and_alertmanager_to_the_webhook() {
    let started = Instant::now();
    let prometheus_bin = require_tool("prometheus");
    let alertmanager_bin = require_tool("prometheus-alertmanager");
    let dir = std::env::temp_dir().join(format!("obs-ops-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let secret = |name: &str| {
        let path = dir.join(name);
        std::fs::write(&path, "placeholder\n").unwrap();
        path.display().to_string()
    };

    let (webhook_port, alerts) = webhook_server();
    let receivers = Receivers::default()
        .webhook(format!("http://127.0.0.1:{webhook_port}/alerts"))
        .email_password_file(secret("smtp_password"))
        .slack(secret("slack_api_url"), "#alerts")
        .pagerduty_routing_key_file(secret("pagerduty_routing_key"))
        .timing(Duration::from_secs(1), Duration::from_secs(1), Duration::from_secs(3600));
    let guard = obs_runtime::builder()
        .service_name(SERVICE)
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .ops(OpsSettings::default().time_scale(1.0 / 60.0).receivers(receivers))
        .init()
        .expect("init");
    let app = guard.http_addr().unwrap();

    // The app fails on purpose, all the time.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let _ = charge(n);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    // The artifacts as a user fetches them from the app.
    let (_, rules) = http_get(app, "/obs/rules.yml").unwrap();
    std::fs::write(dir.join("rules.yml"), &rules).unwrap();
    let (_, routing) = http_get(app, "/obs/alertmanager.yml").unwrap();
    std::fs::write(dir.join("alertmanager.yml"), &routing).unwrap();

    let am_port = free_port();
    let _alertmanager = ChildGuard(
        Command::new(alertmanager_bin)
            .arg(format!("--config.file={}", dir.join("alertmanager.yml").display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("alertmanager starts"),
    );
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
             scrape_configs:\n  - job_name: {SERVICE}\n    static_configs:\n      - targets: ['{app}']\n"
        ),
    )
    .unwrap();
    let prom_port = free_port();
    let _prometheus = ChildGuard(
        Command::new(prometheus_bin)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("prom-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    wait_ready(format!("127.0.0.1:{am_port}").parse().unwrap(), "alertmanager", deadline);
    wait_ready(format!("127.0.0.1:{prom_port}").parse().unwrap(), "prometheus", deadline);

    let alert = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(!remaining.is_zero(), "no ObsSloBurnRateFast alert reached the webhook within 120 s");
        let Ok(notification) = alerts.recv_timeout(remaining) else { continue };
        let found = notification["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["labels"]["alertname"] == "ObsSloBurnRateFast" && a["status"] == "firing")
            .cloned();
        if let Some(alert) = found {
            break alert;
        }
    };
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();

    assert_eq!(alert["labels"]["severity"], "page", "{alert}");
    assert_eq!(alert["labels"]["service"], SERVICE, "{alert}");
    assert_eq!(alert["labels"]["function"], "charge", "{alert}");
    assert_eq!(alert["labels"]["slo"], "success", "{alert}");
    assert_eq!(alert["annotations"]["runbook_url"], "https://runbooks.example/ObsSloBurnRateFast", "{alert}");
    assert!(alert["annotations"]["summary"].as_str().unwrap().contains("charge"), "{alert}");
    eprintln!("end to end: the page reached the webhook {:.1} s after the test started", elapsed.as_secs_f64());
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn error_logs_above_the_threshold_fire_obs_error_log_rate_high_and_none_stay_silent() {
    run_child("error-logs");
}

#[test]
fn child() {
    let Ok(case) = std::env::var("OBS_TEST_CHILD") else { return };
    match case.as_str() {
        "error-logs" => error_logs(),
        other => panic!("unknown case {other}"),
    }
    println!("case {case} passed");
}

#[observe]
fn browse(page: u64) -> u64 {
    page
}

/// Waits (up to `limit`) until `done` holds for the series `promql` returns.
fn wait_for(server: &support::Prometheus, promql: &str, limit: Duration, done: impl Fn(&[serde_json::Value]) -> bool) {
    let deadline = Instant::now() + limit;
    while !done(&server.query(promql)) {
        assert!(Instant::now() < deadline, "{promql} did not get there within {limit:?}: {:?}", server.query(promql));
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn error_logs() {
    require_tool("prometheus");
    let started = Instant::now();
    // 1/60: the 5m rate window becomes 5s, the alert's 10m `for` 10s.
    let guard = obs_runtime::builder()
        .service_name(SERVICE)
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .ops(OpsSettings::default().time_scale(1.0 / 60.0).job("app"))
        .init()
        .expect("init");
    let app = guard.http_addr().unwrap();
    let (_, rules) = http_get(app, "/obs/rules.yml").unwrap();
    assert!(rules.contains("alert: \"ObsErrorLogRateHigh\""), "{rules}");

    let noisy = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (noisy, stop) = (noisy.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                browse(n);
                tracing::info!(page = n, "browsed");
                if noisy.load(Ordering::Relaxed) {
                    tracing::error!(page = n, "the catalog is unreachable");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let server = support::Prometheus::start_with_rules("ops-error-logs", app, Some(&rules), &[]);
    let errors = r#"obs_log_events_total{job="app",level="error"}"#;
    let alert = r#"ALERTS{alertname="ObsErrorLogRateHigh",job="app"}"#;
    // Quiet: the error series is scraped (at zero), info lines flow, and after
    // a whole window and the alert's `for` no alert is pending or firing.
    wait_for(&server, errors, Duration::from_secs(60), |r| r.len() == 1 && r[0]["value"][1] == "0");
    wait_for(&server, r#"rate(obs_log_events_total{level="info"}[5s])"#, Duration::from_secs(20), |r| {
        r.first().and_then(|s| s["value"][1].as_str()).and_then(|v| v.parse::<f64>().ok()).is_some_and(|v| v > 1.0)
    });
    std::thread::sleep(Duration::from_secs(17));
    assert!(server.query(alert).is_empty(), "no error logged, yet: {:?}", server.query(alert));

    // Noisy: about 50 ERROR lines a second, far above 0.1.
    noisy.store(true, Ordering::Relaxed);
    let firing = r#"ALERTS{alertname="ObsErrorLogRateHigh",job="app",alertstate="firing"}"#;
    wait_for(&server, firing, Duration::from_secs(40), |r| r.len() == 1);
    let firing = server.query(firing);
    assert_eq!(firing[0]["metric"]["severity"], "ticket", "{firing:?}");
    assert_eq!(firing[0]["metric"]["alertstate"], "firing", "{firing:?}");
    eprintln!("ObsErrorLogRateHigh fired {:.1} s after the test started", started.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();
    drop(server);
    drop(guard);
}
