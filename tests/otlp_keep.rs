//! Traces the head sampler said no to are still exported when they matter:
//! with `keep_error_traces(true)` and `keep_slow_traces(..)`, a workflow whose
//! node times out, a call that returns `Err` and a call slower than the
//! threshold reach a real OpenTelemetry collector (Rotel, over OTLP/HTTP) as
//! whole traces, while a fast successful call does not. Metrics and log lines
//! are recorded for every call, kept or not.
//!
//! Needs `rotel-agent` (scripts/install-test-deps.sh installs it into the test venv).

mod support;

use std::time::Duration;

use obs_runtime::export::otlp::TraceSampler;
use obs_runtime::workflow::TimeoutError;
use obs_runtime::{ErrorKind, node, observe, workflow};
use serde_json::Value;
use support::collector::{Collector, ReceivedSpan};
use support::{MemoryWriter, PaymentError, for_span, sample};

/// Traces whose root took at least this long are kept.
const SLOW: Duration = Duration::from_secs(1);

#[derive(Debug, ErrorKind)]
enum JobError {
    Timeout(TimeoutError),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Timeout(e) => e.fmt(f),
        }
    }
}
impl std::error::Error for JobError {}
impl From<TimeoutError> for JobError {
    fn from(e: TimeoutError) -> Self {
        JobError::Timeout(e)
    }
}

#[node]
async fn fetch_doc(doc: u64) -> Result<u64, JobError> {
    tokio::task::yield_now().await;
    Ok(doc + 1)
}

/// Hangs far past its timeout.
#[node(timeout = "100ms")]
async fn enrich_doc(doc: u64) -> Result<u64, JobError> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(doc)
}

#[workflow]
async fn ingest(doc: u64) -> Result<u64, JobError> {
    let raw = fetch_doc(doc).await?;
    enrich_doc(raw).await
}

#[observe]
fn validate_card(order: u32) -> u32 {
    order
}

#[observe]
fn charge(order: u32) -> Result<u32, PaymentError> {
    let order = validate_card(order);
    if order > 100 { Err(PaymentError::Declined) } else { Ok(order) }
}

#[observe]
fn slow_report(rows: u32) -> u32 {
    std::thread::sleep(SLOW + Duration::from_millis(300));
    rows
}

#[observe]
fn fast_lookup(id: u32) -> u32 {
    id + 1
}

/// The `trace_id` of the first log line with this `event` and `span`.
fn trace_of(logs: &MemoryWriter, event: &str, span: &str) -> String {
    let lines = logs.lines();
    let line = lines
        .iter()
        .find(|l| l["event"] == event && l["span"] == span)
        .unwrap_or_else(|| panic!("no {event} line of {span} in {lines:#?}"));
    let id = line["trace_id"].as_str().unwrap_or_else(|| panic!("no trace_id: {line}")).to_owned();
    assert!(id.len() == 32 && id != "0".repeat(32), "{event} of {span}: trace id {id:?}");
    id
}

/// The spans of one trace the collector received, once there are at least `count`.
fn wait_for_trace(collector: &Collector, trace_id: &str, count: usize, what: &str) -> Vec<ReceivedSpan> {
    collector.wait_until(Duration::from_secs(60), what, |c| {
        let spans: Vec<_> = c.spans().into_iter().filter(|s| s.trace_id == trace_id).collect();
        (spans.len() >= count).then_some(spans)
    })
}

fn span<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

fn is_error(span: &ReceivedSpan) -> bool {
    span.status_code.to_ascii_lowercase().contains("error")
}

fn is_root(span: &ReceivedSpan) -> bool {
    span.parent_id.is_empty() || span.parent_id.chars().all(|c| c == '0')
}

#[test]
fn failed_timed_out_and_slow_traces_are_kept_and_fast_ones_are_not() {
    let collector = Collector::start();
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("keep-test")
        .log_filter("info,otlp_keep=debug")
        .log_writer(logs.clone())
        .without_http()
        .otlp_endpoint(format!("http://{}", collector.http))
        .otlp_batch_delay(Duration::from_millis(50))
        .trace_sampler(TraceSampler::ParentBasedRatio(0.0))
        .keep_error_traces(true)
        .keep_slow_traces(SLOW)
        .init()
        .expect("init");

    // The fast call first: every trace exported later leaves the process after it would have.
    assert_eq!(fast_lookup(41), 42);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let result = runtime.block_on(ingest(7));
    assert!(matches!(result, Err(JobError::Timeout(ref e)) if e.after() == Duration::from_millis(100)), "{result:?}");
    assert!(charge(150).is_err());
    assert_eq!(slow_report(3), 3);

    let fast_trace = trace_of(&logs, "function.success", "otlp_keep::fast_lookup");
    let workflow_trace = trace_of(&logs, "workflow.error", "otlp_keep::ingest");
    let charge_trace = trace_of(&logs, "function.error", "otlp_keep::charge");
    let slow_trace = trace_of(&logs, "function.success", "otlp_keep::slow_report");
    assert_eq!(trace_of(&logs, "node.timeout", "otlp_keep::enrich_doc"), workflow_trace, "one trace per run");
    let all = [&fast_trace, &workflow_trace, &charge_trace, &slow_trace];
    for (i, a) in all.iter().enumerate() {
        assert!(all[i + 1..].iter().all(|b| a != b), "four calls, four traces: {all:?}");
    }

    // 1. The workflow whose node timed out: root, both nodes, error on the timed-out one.
    let spans = wait_for_trace(&collector, &workflow_trace, 3, "the timed-out workflow's trace");
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let root = span(&spans, "otlp_keep::ingest");
    let fetch = span(&spans, "otlp_keep::fetch_doc");
    let enrich = span(&spans, "otlp_keep::enrich_doc");
    assert!(is_root(root), "{root:#?}");
    assert_eq!(root.resource_attr("service.name"), Some("Str(keep-test)"), "a kept trace keeps its resource");
    assert_eq!(fetch.parent_id, root.span_id);
    assert_eq!(enrich.parent_id, root.span_id);
    assert!(is_error(enrich), "the timed-out node has error status: {enrich:#?}");
    assert_eq!(enrich.attr("error.type"), Some("Str(timeout)"), "{enrich:#?}");
    assert_eq!(enrich.attr("obs.outcome"), Some("Str(timeout)"), "{enrich:#?}");
    assert!(enrich.status_message.contains("timed out"), "{enrich:#?}");
    assert!(!is_error(fetch), "{fetch:#?}");
    assert!(is_error(root), "the run failed: {root:#?}");

    // 2. The call that returned Err, with its child.
    let spans = wait_for_trace(&collector, &charge_trace, 2, "the failed call's trace");
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let charge_span = span(&spans, "otlp_keep::charge");
    let validate = span(&spans, "otlp_keep::validate_card");
    assert!(is_root(charge_span));
    assert_eq!(validate.parent_id, charge_span.span_id);
    assert!(is_error(charge_span), "{charge_span:#?}");
    assert_eq!(charge_span.attr("error.type"), Some("Str(declined)"));
    assert_eq!(charge_span.attr("error.message"), Some("Str(card declined)"));
    assert!(charge_span.events.iter().any(|e| e.contains("exception")), "{charge_span:#?}");
    assert!(!is_error(validate), "{validate:#?}");
    let error_line =
        logs.lines().into_iter().find(|l| l["event"] == "function.error" && l["span"] == "otlp_keep::charge");
    assert_eq!(error_line.unwrap()["span_id"].as_str(), Some(charge_span.span_id.as_str()), "logs and spans share ids");

    // 3. The slow call that succeeded.
    let spans = wait_for_trace(&collector, &slow_trace, 1, "the slow call's trace");
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].name, "otlp_keep::slow_report");
    assert!(!is_error(&spans[0]), "{:#?}", spans[0]);

    // 4. The fast call that succeeded is not exported. It ended before everything
    // above and export keeps order, so it would have arrived by now; wait a little
    // longer anyway.
    std::thread::sleep(Duration::from_secs(1));
    let received = collector.spans();
    assert!(
        received.iter().all(|s| s.trace_id != fast_trace && s.name != "otlp_keep::fast_lookup"),
        "the fast successful call was exported: {received:#?}"
    );
    assert_eq!(received.len(), 6, "exactly the kept traces arrived: {received:#?}");

    // The exporter counts what the collector accepted (after the response, so wait for it).
    let exported = |guard: &obs_runtime::ObsGuard| {
        let text = guard.render_metrics().expect("prometheus");
        sample(&text, "obs_exporter_exported_spans_total", &[("signal", "traces")]).unwrap_or(0.0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while exported(&guard) < 6.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(exported(&guard), 6.0, "spans counted as exported");

    // Metrics and log lines are recorded for every call, sampled or not.
    let text = guard.render_metrics().expect("prometheus");
    let calls = |function: &str, status: &str| {
        sample(&text, "obs_function_calls_total", &[("function", function), ("status", status)])
    };
    assert_eq!(calls("fast_lookup", "ok"), Some(1.0), "{text}");
    assert_eq!(calls("charge", "error"), Some(1.0), "{text}");
    assert_eq!(calls("validate_card", "ok"), Some(1.0), "{text}");
    assert_eq!(calls("slow_report", "ok"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "obs_function_errors_total", &[("function", "charge"), ("error", "declined")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "obs_node_runs_total", &[("workflow", "ingest"), ("node", "enrich_doc"), ("status", "timeout")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "obs_workflow_runs_total", &[("workflow", "ingest"), ("status", "error")]),
        Some(1.0),
        "{text}"
    );
    let overflow = sample(&text, "obs_exporter_tail_buffer_overflow_spans_total", &[("signal", "traces")]);
    assert!(overflow.unwrap_or(0.0) == 0.0, "{text}");
    let fast_line: Vec<Value> = for_span(&logs, "otlp_keep::fast_lookup");
    assert_eq!(fast_line.len(), 1, "{fast_line:#?}");
    assert_eq!(fast_line[0]["event"], "function.success");
    assert!(fast_line[0]["duration_ms"].is_number(), "{}", fast_line[0]);

    drop(guard);
}
