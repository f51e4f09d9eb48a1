//! Spans exported over OTLP/HTTP reach a real backend: MLflow 3 stores the
//! traces it receives at `/v1/traces` and returns them through its REST API.
//! One trace per entry call, the parent-child shape of the nested calls,
//! their attributes and the error status, from a plain thread and from a
//! tokio runtime. Log lines carry the same trace and span ids as the spans.
//! Two axum services on loopback (A calls B with the reqwest helper) export
//! spans that form one trace. A `#[workflow]` run is one trace too: the run's
//! span at the root, a child span per node attempt (retries included), the
//! run id and attempt numbers as attributes, and the error of a failed run.
//!
//! Needs `mlflow` (scripts/install-test-deps.sh installs it into a venv).

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use obs_runtime::trace::{HttpLayer, RequestBuilderExt};
use obs_runtime::workflow::TimeoutError;
use obs_runtime::{ErrorKind, node, observe, workflow};
use serde_json::Value;
use support::mlflow::Mlflow;
use support::{MemoryWriter, PaymentError};

#[observe]
fn reserve_stock(order: u32) -> u32 {
    order * 2
}

#[observe]
fn charge_card(order: u32) -> Result<u32, PaymentError> {
    if order > 100 { Err(PaymentError::Declined) } else { Ok(order) }
}

/// The local root: two children, the second of which fails.
#[observe]
fn checkout(order: u32) -> Result<u32, PaymentError> {
    tracing::info!(event = "checkout.begin", "checking out");
    let reserved = reserve_stock(order);
    charge_card(order + reserved)
}

#[observe]
async fn fetch_price(item: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    item + 1
}

#[observe]
async fn quote(items: u32) -> u32 {
    let mut total = 0;
    for item in 0..items {
        total += fetch_price(item).await;
    }
    total
}

// ---- two services: A (POST /orders/{id}) calls B (GET /stock/{item}) ----

async fn order_handler(State(stock_service): State<SocketAddr>, Path(id): Path<u32>) -> String {
    place_order(stock_service, id).await
}

#[observe]
async fn place_order(stock_service: SocketAddr, id: u32) -> String {
    // A task spawned with the helper stays a child of this call.
    obs_runtime::trace::spawn(audit(id)).await.unwrap();
    let response = reqwest::Client::new()
        .get(format!("http://{stock_service}/stock/{id}"))
        .with_trace_context()
        .send()
        .await
        .expect("call service B");
    format!("order {id}: {} in stock", response.text().await.unwrap())
}

#[observe]
async fn audit(id: u32) {
    tokio::task::yield_now().await;
    tracing::info!(order = id, "audited");
}

async fn stock_handler(Path(item): Path<u32>) -> String {
    check_stock(item).await.to_string()
}

#[observe]
async fn check_stock(item: u32) -> u32 {
    item * 10
}

/// Starts B then A on loopback; returns A's address.
async fn start_services() -> SocketAddr {
    let b = Router::new().route("/stock/{item}", get(stock_handler)).layer(HttpLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, b).await.unwrap() });
    let a = Router::new().route("/orders/{id}", post(order_handler)).with_state(b_addr).layer(HttpLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, a).await.unwrap() });
    a_addr
}

// ---- a workflow: ingest = load → enrich (fails transiently, retried) → store (timeout) ----

#[derive(Debug, ErrorKind)]
enum IngestError {
    Unavailable,
    Timeout(TimeoutError),
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestError::Unavailable => f.write_str("enrichment unavailable"),
            IngestError::Timeout(e) => e.fmt(f),
        }
    }
}
impl std::error::Error for IngestError {}

impl From<TimeoutError> for IngestError {
    fn from(e: TimeoutError) -> Self {
        IngestError::Timeout(e)
    }
}

fn is_transient(error: &IngestError) -> bool {
    matches!(error, IngestError::Unavailable)
}

/// How many more calls of `enrich` fail before it succeeds.
static ENRICH_FAILURES_LEFT: AtomicU32 = AtomicU32::new(2);

#[node]
async fn load(doc: u32) -> Result<u32, IngestError> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    Ok(doc * 10)
}

#[node(retries = 3, backoff = "5ms", retry_if = is_transient)]
async fn enrich(doc: u32, words: u32) -> Result<u32, IngestError> {
    tokio::task::yield_now().await;
    if ENRICH_FAILURES_LEFT.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok() {
        return Err(IngestError::Unavailable);
    }
    Ok(words + doc)
}

#[node(timeout = "50ms")]
async fn store(doc: u32, total: u32) -> Result<(), IngestError> {
    // Document 2's store hangs past the node's timeout.
    if doc == 2 {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let _ = total;
    Ok(())
}

#[workflow]
async fn ingest(doc: u32) -> Result<u32, IngestError> {
    let words = load(doc).await?;
    let total = enrich(doc, words).await?;
    store(doc, total).await?;
    Ok(total)
}

/// Polls until the trace with this id (32 hex) is stored with `spans` spans.
fn wait_for_trace(mlflow: &Mlflow, experiment: &str, trace_hex: &str, spans: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    loop {
        let listed = mlflow.get(&format!("/api/2.0/mlflow/traces?experiment_ids={experiment}&max_results=100"));
        let known = listed["traces"].as_array().into_iter().flatten().any(|t| {
            let id = t["request_id"].as_str().or(t["trace_id"].as_str()).unwrap_or_default();
            id.ends_with(trace_hex)
        });
        if known {
            let trace = mlflow.get(&format!("/api/3.0/mlflow/traces/get?trace_id=tr-{trace_hex}"));
            if trace["trace"]["spans"].as_array().is_some_and(|s| s.len() >= spans) {
                return trace;
            }
            last = trace;
        }
        assert!(
            Instant::now() < deadline,
            "trace tr-{trace_hex} with {spans} spans never showed up; last list: {listed}\nlast get: {last:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A span's attribute as text; MLflow returns OTLP's `[{key, value: {string_value | int_value ...}}]`.
fn attr(span: &Value, key: &str) -> Option<String> {
    let kv = span["attributes"].as_array()?.iter().find(|kv| kv["key"] == key)?;
    let value = kv["value"].as_object()?.values().next()?;
    Some(value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()))
}

fn span_named<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

#[test]
fn traces_reach_mlflow_with_their_shape_attributes_and_errors() {
    let mlflow = Mlflow::start("otlp");
    let created = mlflow.post("/api/2.0/mlflow/experiments/create", &serde_json::json!({"name": "obs-otlp-test"}));
    let experiment = created["experiment_id"].as_str().unwrap().to_owned();

    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("checkout-service")
        .service_version("1.2.3")
        .log_filter("debug")
        .log_writer(logs.clone())
        .without_http()
        .otlp_endpoint(format!("http://{}", mlflow.addr))
        .otlp_header("x-mlflow-experiment-id", experiment.clone())
        .otlp_batch_delay(Duration::from_millis(100))
        .init()
        .expect("init");

    // A plain thread: no tokio reactor anywhere near the exporter.
    let result = std::thread::spawn(|| checkout(150)).join().unwrap();
    assert!(result.is_err());
    // And inside a tokio runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    assert_eq!(runtime.block_on(quote(3)), 6);

    let lines = logs.lines();
    let checkout_line = lines.iter().find(|l| l["event"] == "checkout.begin").expect("checkout log line");
    let checkout_trace = checkout_line["trace_id"].as_str().expect("trace_id").to_owned();
    let quote_trace = lines.iter().find(|l| l["span"] == "otlp_mlflow::quote").expect("quote line")["trace_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(checkout_trace, quote_trace, "two entry calls are two traces");

    let trace = wait_for_trace(&mlflow, &experiment, &checkout_trace, 3);
    let spans = trace["trace"]["spans"].as_array().unwrap().clone();
    assert_eq!(spans.len(), 3, "checkout, reserve_stock, charge_card: {spans:#?}");
    let root = span_named(&spans, "otlp_mlflow::checkout");
    let reserve = span_named(&spans, "otlp_mlflow::reserve_stock");
    let charge = span_named(&spans, "otlp_mlflow::charge_card");
    for span in [root, reserve, charge] {
        assert_eq!(span["trace_id"], root["trace_id"], "one trace id");
    }
    assert!(root["parent_span_id"].as_str().is_none_or(str::is_empty), "checkout is the root: {root:#}");
    assert_eq!(reserve["parent_span_id"], root["span_id"]);
    assert_eq!(charge["parent_span_id"], root["span_id"]);

    // Attributes: the call's arguments and code location, the error fields.
    assert_eq!(attr(charge, "order").as_deref(), Some("450"));
    assert_eq!(attr(root, "code.function.name").as_deref(), Some("checkout"));
    assert_eq!(attr(charge, "error.type").as_deref(), Some("declined"));
    assert_eq!(attr(charge, "error.message").as_deref(), Some("card declined"));
    assert_eq!(charge["status"]["code"], "STATUS_CODE_ERROR", "{charge:#}");
    assert!(reserve["status"]["code"].as_str().is_none_or(|c| c == "STATUS_CODE_UNSET"), "{reserve:#}");
    assert_eq!(root["status"]["code"], "STATUS_CODE_ERROR", "{root:#}");
    assert_eq!(trace["trace"]["trace_info"]["state"], "ERROR");
    assert!(
        charge["events"].as_array().into_iter().flatten().any(|e| e["name"] == "exception"),
        "an exception event on the failed span: {charge:#}"
    );

    // Log lines and spans share ids.
    let hex_span_id = |span: &Value| id_hex(span["span_id"].as_str().unwrap());
    assert_eq!(id_hex(root["trace_id"].as_str().unwrap()), checkout_trace);
    let root_line = lines.iter().find(|l| l["span"] == "otlp_mlflow::checkout" && l["event"] == "function.error");
    assert_eq!(root_line.expect("checkout error line")["span_id"].as_str().unwrap(), hex_span_id(root));

    let trace = wait_for_trace(&mlflow, &experiment, &quote_trace, 4);
    let spans = trace["trace"]["spans"].as_array().unwrap().clone();
    let quote = span_named(&spans, "otlp_mlflow::quote");
    let fetches: Vec<_> = spans.iter().filter(|s| s["name"] == "otlp_mlflow::fetch_price").collect();
    assert_eq!(fetches.len(), 3);
    assert!(fetches.iter().all(|f| f["parent_span_id"] == quote["span_id"]));

    assert_eq!(trace["trace"]["trace_info"]["state"], "OK");

    two_services_form_one_trace(&runtime, &mlflow, &experiment, &logs);
    a_workflow_run_is_one_trace(&runtime, &mlflow, &experiment, &logs);

    // HTTP server metrics by route template, and the exporter's own counters, described.
    let text = guard.render_metrics().expect("prometheus");
    let orders = support::sample(
        &text,
        "obs_http_server_request_duration_seconds_count",
        &[("http_route", "/orders/{id}"), ("http_request_method", "POST"), ("http_response_status_code", "200")],
    );
    assert_eq!(orders, Some(2.0), "{text}");
    assert!(!text.contains("/orders/7"), "raw paths never become labels");
    assert!(text.contains("# HELP obs_exporter_dropped_spans_total"), "{text}");
    let retries = support::sample(&text, "obs_node_retries_total", &[("workflow", "ingest"), ("node", "enrich")]);
    assert_eq!(retries, Some(2.0), "as many retries as failed attempt spans");
    assert!(
        support::sample(&text, "obs_exporter_exported_spans_total", &[("signal", "traces")]).unwrap_or(0.0) >= 12.0
    );

    let started = Instant::now();
    drop(guard);
    assert!(started.elapsed() < Duration::from_secs(6), "shutdown took {:?}", started.elapsed());
}

/// MLflow returns ids base64-encoded (as OTLP JSON does); this gives hex.
fn id_hex(id: &str) -> String {
    if (id.len() == 16 || id.len() == 32) && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return id.to_ascii_lowercase();
    }
    let bytes = base64_decode(id);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for b in text.bytes().filter(|&b| b != b'=') {
        let Some(v) = ALPHABET.iter().position(|&a| a == b) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn two_services_form_one_trace(
    runtime: &tokio::runtime::Runtime,
    mlflow: &Mlflow,
    experiment: &str,
    logs: &MemoryWriter,
) {
    const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let (fresh, continued) = runtime.block_on(async {
        let a = start_services().await;
        let client = reqwest::Client::new();
        let fresh = client.post(format!("http://{a}/orders/7")).send().await.unwrap();
        let fresh_status = fresh.status();
        assert_eq!(fresh_status, 200);
        assert_eq!(fresh.text().await.unwrap(), "order 7: 70 in stock");
        let continued = client
            .post(format!("http://{a}/orders/8"))
            .header("traceparent", format!("00-{CALLER_TRACE}-00f067aa0ba902b7-01"))
            .send()
            .await
            .unwrap();
        (fresh_status.as_u16(), continued.status().as_u16())
    });
    assert_eq!((fresh, continued), (200, 200));

    // The caller's trace continues through A and on into B.
    let lines = logs.lines();
    let trace_of = |span: &str, arg: (&str, u64)| {
        lines
            .iter()
            .find(|l| l["span"] == span && l[arg.0] == arg.1)
            .unwrap_or_else(|| panic!("no log line of {span} with {arg:?}"))["trace_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(trace_of("otlp_mlflow::place_order", ("id", 8)), CALLER_TRACE);
    assert_eq!(trace_of("otlp_mlflow::check_stock", ("item", 8)), CALLER_TRACE, "B continues A's trace");

    // Without a traceparent, A's server span is the root of one trace spanning both services.
    let trace_hex = trace_of("otlp_mlflow::check_stock", ("item", 7));
    assert_eq!(trace_of("otlp_mlflow::place_order", ("id", 7)), trace_hex);
    let trace = wait_for_trace(mlflow, experiment, &trace_hex, 5);
    let spans = trace["trace"]["spans"].as_array().unwrap().clone();
    let names: Vec<_> = spans.iter().map(|s| s["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(spans.len(), 5, "{names:?}");
    let a_server = span_named(&spans, "POST /orders/{id}");
    let place = span_named(&spans, "otlp_mlflow::place_order");
    let audit = span_named(&spans, "otlp_mlflow::audit");
    let b_server = span_named(&spans, "GET /stock/{item}");
    let check = span_named(&spans, "otlp_mlflow::check_stock");
    assert!(a_server["parent_span_id"].as_str().is_none_or(str::is_empty), "A's server span is the root");
    assert_eq!(place["parent_span_id"], a_server["span_id"]);
    assert_eq!(audit["parent_span_id"], place["span_id"], "the spawned task is a child of the caller");
    assert_eq!(b_server["parent_span_id"], place["span_id"], "B's server span is a child of A's call");
    assert_eq!(check["parent_span_id"], b_server["span_id"]);
    assert_eq!(attr(a_server, "http.route").as_deref(), Some("/orders/{id}"));
    assert_eq!(attr(a_server, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(attr(b_server, "http.route").as_deref(), Some("/stock/{item}"));
    assert_eq!(attr(b_server, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attr(b_server, "url.path").as_deref(), Some("/stock/7"));
}

/// Runs `ingest` twice on the test's tokio runtime: document 1 succeeds after
/// `enrich` failed transiently twice and was retried, document 2 fails when
/// `store` runs over its timeout. Each run is one trace in MLflow.
fn a_workflow_run_is_one_trace(
    runtime: &tokio::runtime::Runtime,
    mlflow: &Mlflow,
    experiment: &str,
    logs: &MemoryWriter,
) {
    assert_eq!(runtime.block_on(ingest(1)).unwrap(), 11);
    let failed = runtime.block_on(ingest(2));
    assert!(matches!(failed, Err(IngestError::Timeout(_))), "{failed:?}");

    let lines = logs.lines();
    // Slow-poll warnings depend on the machine (a first poll in a debug build on a busy one): not part of the run's story.
    let run_lines = |doc: u64| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["workflow"] == "ingest" && l["doc"] == doc)
            .filter(|l| !l["event"].as_str().unwrap_or_default().ends_with(".slow_poll"))
            .collect()
    };
    let events = |lines: &[&Value]| -> Vec<String> {
        lines.iter().map(|l| l["event"].as_str().unwrap_or_default().to_owned()).collect()
    };

    // ---- the run that succeeds after two retries ----
    let ok_lines = run_lines(1);
    assert_eq!(
        events(&ok_lines),
        [
            "workflow.start",
            "node.start",
            "node.success",
            "node.start",
            "node.retry",
            "node.start",
            "node.retry",
            "node.start",
            "node.success",
            "node.start",
            "node.success",
            "workflow.success"
        ],
        "{ok_lines:#?}"
    );
    let ok_trace = ok_lines[0]["trace_id"].as_str().unwrap();
    let trace = wait_for_trace(mlflow, experiment, ok_trace, 6);
    let spans = trace["trace"]["spans"].as_array().unwrap().clone();
    let names: Vec<_> = spans.iter().map(|s| s["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(spans.len(), 6, "ingest, load, enrich (3 attempts), store: {names:?}");
    assert_eq!(trace["trace"]["trace_info"]["state"], "OK", "retried failures do not fail the run");
    let root = span_named(&spans, "otlp_mlflow::ingest");
    assert_one_run_tree(root, &spans, ok_trace);
    assert_eq!(attr(root, "workflow").as_deref(), Some("ingest"));
    assert_eq!(attr(root, "run_id").as_deref(), ok_lines[0]["run_id"].as_str());
    assert_eq!(attr(root, "doc").as_deref(), Some("1"));
    assert_eq!(attr(root, "code.function.name").as_deref(), Some("ingest"));
    assert!(root["status"]["code"].as_str().is_none_or(|c| c == "STATUS_CODE_UNSET"), "{root:#}");
    assert_eq!(attr(root, "error.type"), None);
    assert!(events_named(root, "workflow.success").len() == 1, "{root:#}");

    let load = span_named(&spans, "otlp_mlflow::load");
    assert_eq!(attr(load, "node").as_deref(), Some("load"));
    assert_eq!(attr(load, "attempt").as_deref(), Some("1"));
    let store = span_named(&spans, "otlp_mlflow::store");
    assert_eq!(attr(store, "node").as_deref(), Some("store"));
    assert_eq!(attr(store, "total").as_deref(), Some("11"));

    // Each attempt of `enrich` is its own span, a sibling of the others under the run.
    let mut attempts: Vec<&Value> = spans.iter().filter(|s| s["name"] == "otlp_mlflow::enrich").collect();
    attempts.sort_by_key(|s| attr(s, "attempt"));
    let numbers: Vec<_> = attempts.iter().map(|s| attr(s, "attempt").unwrap_or_default()).collect();
    assert_eq!(numbers, ["1", "2", "3"]);
    for (n, attempt) in attempts.iter().enumerate() {
        assert_eq!(attr(attempt, "node").as_deref(), Some("enrich"));
        assert_eq!(attr(attempt, "words").as_deref(), Some("10"), "each attempt records its (cloned) arguments");
        let started = events_named(attempt, "node.start");
        assert_eq!(started.len(), 1, "{attempt:#}");
        assert_eq!(attr(started[0], "attempt"), Some((n + 1).to_string()));
    }
    for (n, failed) in attempts[..2].iter().enumerate() {
        assert_eq!(failed["status"]["code"], "STATUS_CODE_ERROR", "{failed:#}");
        assert_eq!(attr(failed, "error.type").as_deref(), Some("unavailable"));
        assert_eq!(attr(failed, "error.message").as_deref(), Some("enrichment unavailable"));
        let retry = events_named(failed, "node.retry");
        assert_eq!(retry.len(), 1, "one node.retry event on a failed attempt: {failed:#}");
        assert_eq!(attr(retry[0], "attempt"), Some((n + 1).to_string()));
        assert_eq!(attr(retry[0], "error.kind").as_deref(), Some("unavailable"));
        assert!(attr(retry[0], "backoff_ms").is_some(), "{failed:#}");
        assert_exception_event(failed, "unavailable", "enrichment unavailable");
    }
    let succeeded = attempts[2];
    assert!(succeeded["status"]["code"].as_str().is_none_or(|c| c == "STATUS_CODE_UNSET"), "{succeeded:#}");
    assert_eq!(attr(succeeded, "error.type"), None);
    assert_eq!(events_named(succeeded, "node.success").len(), 1, "{succeeded:#}");
    // The attempts follow each other, the backoff between them.
    for pair in attempts.windows(2) {
        let backoff_ms: f64 = attr(events_named(pair[0], "node.retry")[0], "backoff_ms").unwrap().parse().unwrap();
        let gap_ns = nanos(pair[1], "start_time_unix_nano").saturating_sub(nanos(pair[0], "end_time_unix_nano"));
        assert!(nanos(pair[1], "start_time_unix_nano") > nanos(pair[0], "end_time_unix_nano"), "{pair:#?}");
        assert!(gap_ns as f64 >= (backoff_ms - 1.0) * 1e6, "{gap_ns} ns between attempts, backoff {backoff_ms} ms");
    }
    assert_lines_match_spans(&ok_lines, &spans, ok_trace, root);

    // ---- the run that fails: `store` runs over its 50 ms timeout ----
    let failed_lines = run_lines(2);
    assert_eq!(
        events(&failed_lines),
        [
            "workflow.start",
            "node.start",
            "node.success",
            "node.start",
            "node.success",
            "node.start",
            "node.timeout",
            "workflow.error"
        ],
        "{failed_lines:#?}"
    );
    let failed_trace = failed_lines[0]["trace_id"].as_str().unwrap();
    assert_ne!(failed_trace, ok_trace, "one trace per run");
    let trace = wait_for_trace(mlflow, experiment, failed_trace, 4);
    let spans = trace["trace"]["spans"].as_array().unwrap().clone();
    let names: Vec<_> = spans.iter().map(|s| s["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(spans.len(), 4, "ingest, load, enrich, store: {names:?}");
    assert_eq!(trace["trace"]["trace_info"]["state"], "ERROR");
    let root = span_named(&spans, "otlp_mlflow::ingest");
    assert_one_run_tree(root, &spans, failed_trace);
    assert_eq!(attr(root, "run_id").as_deref(), failed_lines[0]["run_id"].as_str());
    assert_ne!(attr(root, "run_id").as_deref(), ok_lines[0]["run_id"].as_str());
    assert_eq!(root["status"]["code"], "STATUS_CODE_ERROR", "{root:#}");
    assert_eq!(attr(root, "error.type").as_deref(), Some("timeout"));
    assert_eq!(attr(root, "error.message").as_deref(), Some("node timed out after 50ms"));
    assert_eq!(attr(root, "obs.outcome"), None, "the run itself ended in a plain error");
    assert_eq!(events_named(root, "workflow.error").len(), 1, "{root:#}");
    assert_exception_event(root, "timeout", "node timed out after 50ms");
    for name in ["otlp_mlflow::load", "otlp_mlflow::enrich"] {
        let node = span_named(&spans, name);
        assert!(node["status"]["code"].as_str().is_none_or(|c| c == "STATUS_CODE_UNSET"), "{node:#}");
        assert_eq!(attr(node, "attempt").as_deref(), Some("1"));
    }
    let store = span_named(&spans, "otlp_mlflow::store");
    assert_eq!(attr(store, "node").as_deref(), Some("store"));
    assert_eq!(attr(store, "attempt").as_deref(), Some("1"));
    assert_eq!(store["status"]["code"], "STATUS_CODE_ERROR", "{store:#}");
    assert_eq!(attr(store, "error.type").as_deref(), Some("timeout"));
    assert_eq!(attr(store, "error.message").as_deref(), Some("node timed out after 50ms"));
    assert_eq!(attr(store, "obs.outcome").as_deref(), Some("timeout"));
    assert_eq!(events_named(store, "node.timeout").len(), 1, "{store:#}");
    assert_exception_event(store, "timeout", "node timed out after 50ms");
    let store_ms = (nanos(store, "end_time_unix_nano") - nanos(store, "start_time_unix_nano")) / 1_000_000;
    assert!((50..5000).contains(&store_ms), "the attempt was cut off at its timeout: {store_ms} ms");
    assert_lines_match_spans(&failed_lines, &spans, failed_trace, root);
}

/// Every span is in `trace_hex`; `root` has no parent and every other span is its child.
fn assert_one_run_tree(root: &Value, spans: &[Value], trace_hex: &str) {
    assert_eq!(id_hex(root["trace_id"].as_str().unwrap()), trace_hex);
    assert!(root["parent_span_id"].as_str().is_none_or(str::is_empty), "the workflow span is the root: {root:#}");
    for span in spans {
        assert_eq!(span["trace_id"], root["trace_id"], "one trace id: {span:#}");
        if span["span_id"] != root["span_id"] {
            assert_eq!(span["parent_span_id"], root["span_id"], "a node span is a child of the run: {span:#}");
        }
    }
}

/// The run's log lines carry its trace id, its run id (the root's `run_id`), and
/// the span id of the span they were logged in: the node attempt with their
/// `attempt` number, or the root.
fn assert_lines_match_spans(lines: &[&Value], spans: &[Value], trace_hex: &str, root: &Value) {
    for line in lines {
        assert_eq!(line["trace_id"], trace_hex, "{line}");
        assert_eq!(line["run_id"].as_str(), attr(root, "run_id").as_deref(), "{line}");
        let matching: Vec<&Value> = spans
            .iter()
            .filter(|s| s["name"] == line["span"])
            .filter(|s| line.get("attempt").is_none_or(|a| attr(s, "attempt") == Some(a.to_string())))
            .collect();
        assert_eq!(matching.len(), 1, "one span for {line}");
        assert_eq!(line["span_id"].as_str().unwrap(), id_hex(matching[0]["span_id"].as_str().unwrap()), "{line}");
    }
}

/// A span's events whose `event` attribute (the obs event name) is `event`.
fn events_named<'a>(span: &'a Value, event: &str) -> Vec<&'a Value> {
    let all = span["events"].as_array().into_iter().flatten();
    all.filter(|e| attr(e, "event").as_deref() == Some(event)).collect()
}

/// The OpenTelemetry `exception` event the exporter adds to a failed span.
fn assert_exception_event(span: &Value, kind: &str, message: &str) {
    let exception = span["events"].as_array().into_iter().flatten().find(|e| e["name"] == "exception");
    let exception = exception.unwrap_or_else(|| panic!("no exception event: {span:#}"));
    assert_eq!(attr(exception, "exception.type").as_deref(), Some(kind), "{span:#}");
    assert_eq!(attr(exception, "exception.message").as_deref(), Some(message), "{span:#}");
    assert_eq!(span["status"]["message"], message, "{span:#}");
}

fn nanos(span: &Value, key: &str) -> u64 {
    let value = &span[key];
    value.as_u64().or_else(|| value.as_str()?.parse().ok()).unwrap_or_else(|| panic!("no {key}: {span:#}"))
}
