//! Correlation ids end to end across two services on loopback, and the
//! access-log line of each request: a caller's `X-Request-Id` is on every log
//! line of the request, comes back in the response and reaches the next
//! service through the reqwest helper; a bad one is replaced.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use obs_runtime::observe;
use obs_runtime::trace::{HttpLayer, RequestBuilderExt};
use support::MemoryWriter;

#[observe]
async fn price(item: u64) -> u64 {
    item * 100
}

/// `GET path` with extra headers: the status, the response headers (lowercase names) and the body.
fn get_raw(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: correlation-test/1.0\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers =
        lines.filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned())).collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_follows_the_request_through_two_services_and_their_log_lines() {
    let logs = MemoryWriter::default();
    let _guard = obs_runtime::builder().log_filter("debug").log_writer(logs.clone()).without_http().init().unwrap();

    // The downstream service answers with the id it received.
    let inventory = serve(
        Router::new()
            .route(
                "/stock",
                get(|headers: HeaderMap| async move {
                    headers.get("x-request-id").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
                }),
            )
            .layer(HttpLayer::new()),
    )
    .await;
    let client = reqwest::Client::new();
    let shop = serve(
        Router::new()
            .route(
                "/checkout",
                get(move || {
                    let client = client.clone();
                    async move {
                        let total = price(3).await;
                        let url = format!("http://{inventory}/stock");
                        let seen = client.get(url).with_trace_context().send().await.unwrap().text().await.unwrap();
                        format!("{total} {seen}")
                    }
                }),
            )
            .route("/broken", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .layer(HttpLayer::new()),
    )
    .await;

    let (status, headers, body) =
        tokio::task::spawn_blocking(move || get_raw(shop, "/checkout", &[("X-Request-Id", "order-7731")]))
            .await
            .unwrap();
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-request-id"), Some("order-7731"), "echoed: {headers:?}");
    assert_eq!(body, "300 order-7731", "the next service got the same id");

    let lines = logs.lines();
    let of_request: Vec<_> = lines.iter().filter(|l| l["request_id"] == "order-7731").collect();
    let priced = of_request.iter().find(|l| l["span"] == "correlation::price");
    assert!(priced.is_some(), "the function's line carries the id: {lines:#?}");
    let access: Vec<_> = of_request.iter().filter(|l| l["event"] == "http.request").collect();
    assert_eq!(access.len(), 2, "one access line per service: {access:#?}");
    let shop_line = access.iter().find(|l| l["http.route"] == "/checkout").unwrap();
    assert_eq!(shop_line["level"], "INFO");
    assert_eq!(shop_line["http.request.method"], "GET");
    assert_eq!(shop_line["http.response.status_code"], 200);
    assert_eq!(shop_line["client.address"], "127.0.0.1");
    assert_eq!(shop_line["user_agent.original"], "correlation-test/1.0");
    assert_eq!(shop_line["http.response.body.size"], 14);
    assert!(shop_line["duration_ms"].as_f64().unwrap() > 0.0);
    let inventory_line = access.iter().find(|l| l["http.route"] == "/stock").unwrap();
    assert_eq!(inventory_line["trace_id"], shop_line["trace_id"], "and the same trace");

    // A bad id (too long, or with a space) is replaced by one made here; errors and misses log louder.
    let long = "x".repeat(200);
    let (_, headers, _) =
        tokio::task::spawn_blocking(move || get_raw(shop, "/broken", &[("X-Request-Id", long.as_str())]))
            .await
            .unwrap();
    let made = header(&headers, "x-request-id").unwrap().to_owned();
    assert_eq!(made.len(), 32, "{made}");
    let (status, headers, _) = tokio::task::spawn_blocking(move || get_raw(shop, "/nowhere", &[])).await.unwrap();
    assert_eq!(status, 404);
    let missing = header(&headers, "x-request-id").unwrap().to_owned();
    let lines = logs.lines();
    let line_of = |id: &str| lines.iter().find(|l| l["event"] == "http.request" && l["request_id"] == id).cloned();
    let broken = line_of(&made).expect("the 500's access line");
    assert_eq!(broken["level"], "ERROR");
    assert_eq!(broken["http.response.status_code"], 500);
    let unmatched = line_of(&missing).expect("the 404's access line");
    assert_eq!(unmatched["level"], "WARN");
    assert_eq!(unmatched["url.path"], "/nowhere");
}
