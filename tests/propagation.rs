//! W3C propagation with no exporter configured: an axum service behind
//! `HttpLayer` continues the caller's trace in its log lines and passes it on
//! to the next hop, without any OpenTelemetry backend.

mod support;

use axum::Router;
use axum::routing::get;
use obs_runtime::observe;
use obs_runtime::trace::HttpLayer;
use support::{MemoryWriter, for_span, http_get_with};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[observe]
async fn lookup_stock(item: u64) -> u64 {
    item * 3
}

async fn handler() -> String {
    let stock = lookup_stock(7).await;
    let mut next_hop = http::HeaderMap::new();
    obs_runtime::trace::inject_current(&mut next_hop);
    let traceparent = next_hop.get("traceparent").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    format!("{stock} {traceparent}")
}

#[tokio::test]
async fn an_incoming_trace_reaches_log_lines_and_the_next_hop_without_export() {
    // SAFETY: set before any thread of this test binary reads the environment.
    unsafe { std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT") };
    let logs = MemoryWriter::default();
    let _guard =
        obs_runtime::builder().log_filter("debug").log_writer(logs.clone()).without_http().init().expect("init");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/stock", get(handler)).layer(HttpLayer::new());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let traceparent = format!("00-{CALLER_TRACE}-00f067aa0ba902b7-01");
    let (status, body) = tokio::task::spawn_blocking(move || {
        http_get_with(addr, "/stock", &[("traceparent", traceparent.as_str())]).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    let (stock, sent_on) = body.split_once(' ').unwrap();
    assert_eq!(stock, "21");
    assert!(sent_on.starts_with(&format!("00-{CALLER_TRACE}-")), "the next hop continues the trace: {sent_on}");
    assert!(!sent_on.contains("00f067aa0ba902b7"), "with our own span id as parent: {sent_on}");

    let line = for_span(&logs, "propagation::lookup_stock").pop().expect("end-of-call line");
    assert_eq!(line["trace_id"], CALLER_TRACE);

    // A malformed header starts a new trace instead.
    let (status, body) = tokio::task::spawn_blocking(move || {
        http_get_with(addr, "/stock", &[("traceparent", "00-not-a-trace-01")]).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert!(!body.contains(CALLER_TRACE));
    assert!(body.split_once(' ').unwrap().1.starts_with("00-"), "a new trace is still passed on: {body}");
}
