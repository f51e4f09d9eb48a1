//! Exemplars end to end: `/metrics` speaks OpenMetrics to a client that asks
//! for it, and then each bucket of a function's duration histogram and each
//! status of its calls counter carries the trace of one recent call; a real
//! `prometheus` with exemplar storage scrapes them, and every trace id it
//! returns from `/api/v1/query_exemplars` is one the real collector (Rotel)
//! received. A trace that will not be stored never becomes an exemplar: with
//! head sampling off and `keep_error_traces`, only failed local roots qualify;
//! without trace export, nothing does. The OpenMetrics text passes the strict
//! parser of the reference client library (`prometheus_client`, in the test
//! venv); the classic text is unchanged and passes `promtool check metrics`.
//!
//! `init` runs once per process, so each case runs in a child process.

mod support;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use obs_runtime::export::otlp::TraceSampler;
use obs_runtime::observe;
use support::collector::Collector;
use support::{MemoryWriter, PaymentError, http_get, http_get_full, promtool_check, run_child};

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

#[observe]
fn charge(order: u32) -> Result<u32, PaymentError> {
    if order.is_multiple_of(4) { Err(PaymentError::Declined) } else { Ok(order) }
}

/// Succeeds although a call inside it failed: its trace is not kept after the fact.
#[observe]
fn checkout(order: u32) -> Result<u32, PaymentError> {
    Ok(charge(order).unwrap_or(0))
}

#[test]
fn sampled_calls_become_exemplars_that_prometheus_stores_and_the_collector_has() {
    run_child("sampled");
}

#[test]
fn with_sampling_off_only_the_failed_roots_that_are_kept_become_exemplars() {
    run_child("kept_errors");
}

#[test]
fn without_trace_export_there_are_no_exemplars() {
    run_child("no_export");
}

#[test]
fn child() {
    let Ok(case) = std::env::var("OBS_TEST_CHILD") else { return };
    match case.as_str() {
        "sampled" => sampled(),
        "kept_errors" => kept_errors(),
        "no_export" => no_export(),
        other => panic!("unknown case {other}"),
    }
    println!("case {case} passed");
}

/// An exemplar as the OpenMetrics text shows it: the sample's line and the trace id.
#[derive(Debug)]
struct Shown {
    line: String,
    trace_id: String,
}

/// Scrapes `/metrics` asking for OpenMetrics; checks the content type and the
/// `# EOF`, and returns the text and its exemplars.
fn scrape_openmetrics(app: std::net::SocketAddr) -> (String, Vec<Shown>) {
    let (status, head, text) = http_get_full(app, "/metrics", &[("Accept", OPENMETRICS)]).unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(head.contains("content-type: application/openmetrics-text; version=1.0.0"), "{head}");
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF:\n{text}");
    let shown = text
        .lines()
        .filter_map(|line| {
            let (_, exemplar) = line.split_once(" # {")?;
            let trace_id = exemplar.split("trace_id=\"").nth(1)?.split('"').next()?.to_owned();
            Some(Shown { line: line.to_owned(), trace_id })
        })
        .collect();
    (text, shown)
}

/// Parses `text` with `prometheus_client`'s OpenMetrics parser (strict: it
/// refuses what the specification refuses) and returns how many exemplars it read.
fn reference_parser_exemplars(text: &str) -> usize {
    let venv = std::env::var_os("OBS_VENV").map(std::path::PathBuf::from).unwrap_or_else(|| "/opt/obs-venv".into());
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n\
                  n = sum(1 for f in p(sys.stdin.read()) for s in f.samples if s.exemplar)\nprint(n)\n";
    let mut child = Command::new(venv.join("bin/python"))
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test venv's python (scripts/install-test-deps.sh)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the OpenMetrics text:\n{}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a count")
}

fn is_hex_id(id: &str, len: usize) -> bool {
    id.len() == len && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0')
}

/// Waits until the collector has received a span of every one of `traces`.
fn wait_for_traces(collector: &Collector, traces: &BTreeSet<String>) {
    collector.wait_until(Duration::from_secs(60), "the traces the exemplars name", |c| {
        let received: BTreeSet<String> = c.spans().into_iter().map(|s| s.trace_id).collect();
        traces.is_subset(&received).then_some(())
    });
}

/// obs serving `/metrics` on a free port and exporting traces to `collector`.
fn exporting_to(collector: &Collector) -> obs_runtime::Builder {
    obs_runtime::builder()
        .service_name("exemplars")
        .log_writer(MemoryWriter::default())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .otlp_endpoint(format!("http://{}", collector.http))
        .otlp_batch_delay(Duration::from_millis(50))
}

fn sampled() {
    let collector = Collector::start();
    let guard = exporting_to(&collector)
        .otlp_metrics(true)
        .otlp_metric_interval(Duration::from_millis(300))
        .init()
        .expect("init");
    let app = guard.http_addr().unwrap();
    for order in 1..=12 {
        let _ = charge(order);
    }

    // The classic text is what it always was: no exemplar, promtool accepts it.
    let (_, classic) = http_get(app, "/metrics").unwrap();
    assert!(!classic.contains(" # {"), "no exemplar in the Prometheus text format:\n{classic}");
    assert!(classic.contains("# TYPE obs_function_calls_total counter"), "{classic}");
    promtool_check(&classic);

    let (text, shown) = scrape_openmetrics(app);
    assert!(text.contains("# TYPE obs_function_calls counter"), "OpenMetrics names the family without _total:\n{text}");
    let on = |prefix: &str| shown.iter().filter(|s| s.line.starts_with(prefix)).collect::<Vec<_>>();
    let ok = on(r#"obs_function_calls_total{function="charge",module="exemplars",status="ok"}"#);
    let failed = on(r#"obs_function_calls_total{function="charge",module="exemplars",status="error"}"#);
    let buckets = on(r#"obs_function_duration_seconds_bucket{function="charge""#);
    assert_eq!((ok.len(), failed.len()), (1, 1), "one exemplar per calls counter:\n{text}");
    assert!(!buckets.is_empty(), "the buckets the calls fell in carry exemplars:\n{text}");
    assert!(ok[0].line.contains(r#"} 9 # {trace_id=""#), "{}", ok[0].line);
    for s in &shown {
        assert!(is_hex_id(&s.trace_id, 32), "{s:?}");
    }
    assert_eq!(reference_parser_exemplars(&text), shown.len());

    // A real Prometheus with exemplar storage scrapes the app (it asks for OpenMetrics itself).
    let _server = support::Prometheus::start("exemplars", app, &["--enable-feature=exemplar-storage"]);
    let prometheus = _server.addr;
    // Calls after Prometheus started, so its scrapes take fresh exemplars too.
    let deadline = Instant::now() + Duration::from_secs(90);
    let stored: BTreeSet<String> = loop {
        for order in 1..=4 {
            let _ = charge(order);
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let query = format!(
            "/api/v1/query_exemplars?query=obs_function_duration_seconds_bucket%7Bfunction%3D%22charge%22%7D&start={}&end={}",
            now - 600,
            now + 60
        );
        if let Ok((200, body)) = http_get(prometheus, &query) {
            let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            let ids: BTreeSet<String> = json["data"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_owned))
                .collect();
            if !ids.is_empty() {
                break ids;
            }
        }
        assert!(Instant::now() < deadline, "Prometheus stored no exemplar within 90 s");
        std::thread::sleep(Duration::from_millis(500));
    };
    drop(guard);
    wait_for_traces(&collector, &stored);
    // OTLP metrics carry exemplars too, each naming a trace the collector received.
    let sent: BTreeSet<String> = collector
        .metric_points()
        .into_iter()
        .filter(|p| p.name.starts_with("obs_function_"))
        .flat_map(|p| p.exemplar_traces)
        .collect();
    assert!(!sent.is_empty(), "no exemplar in the OTLP metric points:\n{}", collector.output());
    wait_for_traces(&collector, &sent);
}

fn kept_errors() {
    let collector = Collector::start();
    let guard = exporting_to(&collector)
        .trace_sampler(TraceSampler::ParentBasedRatio(0.0))
        .keep_error_traces(true)
        .init()
        .expect("init");
    let app = guard.http_addr().unwrap();
    // Inner failures in successful roots first: their traces are dropped, so
    // none of them may take the error slot before the kept roots come.
    for order in [4, 8, 12] {
        assert!(checkout(order).is_ok());
    }
    let (text, shown) = scrape_openmetrics(app);
    assert!(shown.is_empty(), "no stored trace yet, so no exemplar:\n{text}");

    for order in 1..=12 {
        let _ = charge(order);
    }
    let (text, shown) = scrape_openmetrics(app);
    let traces: BTreeSet<String> = shown.iter().map(|s| s.trace_id.clone()).collect();
    assert!(
        shown.iter().any(|s| s.line.contains(r#"function="charge",module="exemplars",status="error"}"#)),
        "the failed roots are kept, so they qualify:\n{text}"
    );
    assert!(
        !shown.iter().any(|s| s.line.contains(r#"status="ok""#)),
        "successful calls of unsampled traces are not stored, so no exemplar:\n{text}"
    );
    assert!(!shown.iter().any(|s| s.line.contains(r#"function="checkout""#)), "{text}");
    assert_eq!(reference_parser_exemplars(&text), shown.len());
    drop(guard);
    wait_for_traces(&collector, &traces);
}

fn no_export() {
    let guard = obs_runtime::builder()
        .service_name("exemplars")
        .log_writer(MemoryWriter::default())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    for order in 1..=8 {
        let _ = charge(order);
    }
    let (text, shown) = scrape_openmetrics(guard.http_addr().unwrap());
    assert!(shown.is_empty(), "no trace is stored anywhere, so no exemplar:\n{text}");
    assert!(text.contains(r#"obs_function_calls_total{function="charge",module="exemplars",status="ok"} 6"#), "{text}");
    assert_eq!(reference_parser_exemplars(&text), 0);
}
