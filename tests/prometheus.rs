//! `/metrics` against the real Prometheus tools: the scraped text passes
//! `promtool check metrics`, and a `prometheus` server started here scrapes
//! the app and answers queries over the instrumented functions.

mod support;

use std::time::{Duration, Instant};

use obs_runtime::{ErrorKind, observe};
use support::{http_get, promtool_check, require_tool};

#[derive(Debug, ErrorKind)]
enum CheckoutError {
    CardDeclined,
}

impl std::fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

#[observe]
async fn checkout(cart: u32) -> Result<u32, CheckoutError> {
    tokio::time::sleep(Duration::from_millis(15)).await;
    if cart.is_multiple_of(4) { Err(CheckoutError::CardDeclined) } else { Ok(cart * 100) }
}

#[observe(name = "label \"with\" quotes")]
fn oddly_named() {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_and_queries_the_function_metrics() {
    let promtool_present = require_tool("promtool");
    require_tool("prometheus");
    let _ = promtool_present;

    let guard = obs_runtime::builder()
        .service_name("prometheus-test")
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let app = guard.http_addr().unwrap();
    for cart in 1..=12 {
        let _ = checkout(cart).await;
    }
    oddly_named();

    let (status, text) = http_get(app, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(
        text.contains("obs_function_duration_seconds_bucket{function=\"checkout\",module=\"prometheus\",le=\"0.025\"}"),
        "{text}"
    );
    assert!(text.contains(r#"function="label \"with\" quotes""#), "quotes in label values are escaped:\n{text}");
    promtool_check(&text);

    // A real Prometheus server scraping the app every second.
    let server = support::Prometheus::start("prometheus", app, &[]);

    let deadline = Instant::now() + Duration::from_secs(90);
    let calls = loop {
        if server.ready() {
            let result = server.query_ok(r#"obs_function_calls_total{function="checkout"}"#);
            if result.len() >= 2 {
                break result;
            }
        }
        assert!(Instant::now() < deadline, "Prometheus did not scrape the app within 90 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let value_of = |status: &str| {
        calls
            .iter()
            .find(|s| s["metric"]["status"] == status)
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(value_of("ok"), Some(9.0));
    assert_eq!(value_of("error"), Some(3.0));
    assert_eq!(calls[0]["metric"]["job"], "app");

    let p99 = server.query_ok(
        r#"histogram_quantile(0.99, sum by (le) (obs_function_duration_seconds_bucket{function="checkout"}))"#,
    );
    let p99: f64 = p99[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((0.01..=0.1).contains(&p99), "p99 of 15 ms sleeps should fall in the 10–100 ms buckets, got {p99}");

    let errors = server.query_ok(r#"obs_function_errors_total{function="checkout",error="card_declined"}"#);
    assert_eq!(errors[0]["value"][1], "3");

    drop(server);
}
