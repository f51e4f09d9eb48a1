//! The lines obs writes about itself: `obs.start` once when `init` returns,
//! and `obs.shutdown` once when the guard is dropped, after every exporter
//! but the log writer has flushed, with what each signal handed on and lost.
//! A real OpenTelemetry collector (Rotel) receives the spans.

mod support;

use std::time::Duration;

use obs_runtime::observe;
use support::MemoryWriter;
use support::collector::Collector;

#[observe(level = "info")]
fn handle(order: u64) -> u64 {
    order * 2
}

#[test]
fn the_guard_logs_one_shutdown_line_with_what_was_flushed_per_signal() {
    let collector = Collector::start();
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("system-events-test")
        .log_writer(logs.clone())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .otlp_endpoint(format!("http://{}", collector.http))
        .otlp_batch_delay(Duration::from_millis(50))
        .otlp_header("authorization", "Bearer s3cret-token")
        .label_values_limit(40)
        .init()
        .expect("init");
    for order in 0..5 {
        handle(order);
    }
    drop(guard);

    let lines = logs.lines();
    let starts: Vec<_> = lines.iter().filter(|l| l["event"] == "obs.start").collect();
    assert_eq!(starts.len(), 1, "one obs.start line: {lines:#?}");
    // The effective settings, secrets left out.
    let start = starts[0];
    assert_eq!(start["level"], "INFO", "{start}");
    assert_eq!(start["exports"], format!("traces to http://{}/v1/traces (HttpProtobuf)", collector.http), "{start}");
    assert_eq!(start["metrics.namespace"], "obs", "{start}");
    assert_eq!(start["metrics.label_values_limit"], 40, "{start}");
    assert_eq!(start["metrics.max_series"], 1000, "{start}");
    assert_eq!(start["poll.slow_ms"].as_f64(), Some(10.0), "{start}");
    assert!(start["metrics.buckets"].as_str().is_some_and(|b| b.starts_with('[')), "{start}");
    assert!(!logs.text().contains("s3cret"), "no header value in any line");
    let shutdowns: Vec<_> = lines.iter().filter(|l| l["event"] == "obs.shutdown").collect();
    assert_eq!(shutdowns.len(), 1, "one obs.shutdown line: {lines:#?}");
    let line = shutdowns[0];
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["service"], "system-events-test", "{line}");
    assert_eq!(line["message"], "obs: stopped", "{line}");
    assert!(line["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    // The five spans were flushed before the line was written.
    assert_eq!(line["traces.exported"], 5, "{line}");
    assert_eq!(line["traces.dropped"], 0, "{line}");
    assert_eq!(line["traces.failed"], 0, "{line}");
    assert_eq!(line["log_lines.dropped"], 0, "{line}");
    // Signals that were not exported are left out, not reported as zero.
    assert!(line.get("logs.exported").is_none() && line.get("metrics.exported").is_none(), "{line}");
    // The last line obs writes.
    assert_eq!(lines.last().map(|l| &l["event"]), Some(&serde_json::json!("obs.shutdown")), "{lines:#?}");
}
