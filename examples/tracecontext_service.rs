//! The service the W3C Trace Context test suite drives
//! (https://github.com/w3c/trace-context/tree/main/test): `POST /test` takes a
//! JSON array of `{"url": ..., "arguments": [...]}` and, for each element,
//! POSTs `arguments` as JSON to `url`, continuing the incoming trace: the same
//! trace id, a new parent id per outgoing call, the flags and `tracestate`
//! kept. It answers 200 once every call is done.
//!
//! ```text
//! cargo run -p obs-examples --example tracecontext_service -- 127.0.0.1:5000
//! # in a checkout of w3c/trace-context/test:
//! python3 test.py http://127.0.0.1:5000/test
//! ```
//!
//! The address defaults to `127.0.0.1:5000` (`TRACECONTEXT_ADDR` also sets it).
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the server spans and the calls are
//! exported too, and the outgoing parent id is that of the exported span.

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use obs_runtime::observe;
use obs_runtime::propagation::{self, TraceContext};
use serde_json::Value;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("TRACECONTEXT_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:5000".to_owned());
    let _guard = obs_runtime::builder().service_name("tracecontext-service").without_http().init().expect("telemetry");
    let app = Router::new().route("/test", post(test)).layer(obs_runtime::trace::HttpLayer::new());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!("tracecontext service on http://{}/test", listener.local_addr().unwrap());
    axum::serve(listener, app).await.expect("serve");
}

async fn test(headers: HeaderMap, Json(cases): Json<Vec<Value>>) -> StatusCode {
    let (incoming, _) = propagation::extract(&headers);
    let client = reqwest::Client::new();
    for case in cases {
        let (Some(url), Some(arguments)) = (case["url"].as_str(), case.get("arguments")) else { continue };
        call(&client, url, arguments, incoming.as_ref()).await;
    }
    StatusCode::OK
}

#[observe(skip(client, arguments, incoming))]
async fn call(client: &reqwest::Client, url: &str, arguments: &Value, incoming: Option<&TraceContext>) {
    let mut headers = HeaderMap::new();
    obs_runtime::trace::next_hop_context(incoming).inject(&mut headers);
    let _ = client.post(url).headers(headers).json(arguments).send().await;
}
