//! The application's own metrics on obs's `/metrics`: the `metrics` facade's
//! counters, gauges and histograms (help and type from `describe_*`, obs's
//! buckets, escaped label values) and callback gauges
//! (`obs_runtime::metrics::gauge_fn`), read at each scrape, a panicking
//! one caught and counted; checked by promtool and a real Prometheus.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{http_get, promtool_check, require_tool, sample};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applications_metrics_and_callback_gauges_are_scraped() {
    require_tool("prometheus");
    let guard = obs_runtime::builder()
        .service_name("user-metrics-test")
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .buckets(&[0.5, 1.0, 5.0])
        .init()
        .expect("init");
    let app = guard.http_addr().unwrap();

    metrics::describe_counter!("orders_total", "Orders placed, by region.");
    metrics::counter!("orders_total", "region" => "eu \"west\"\nline").increment(3);
    metrics::counter!("orders_total", "region" => r"back\slash").increment(1);
    metrics::describe_gauge!("cart_items", metrics::Unit::Count, "Items in open carts.");
    metrics::gauge!("cart_items").set(7.0);
    metrics::describe_histogram!("payload_seconds", "Time to write a payload.");
    for seconds in [0.1, 0.7, 0.7, 3.0, 9.0] {
        metrics::histogram!("payload_seconds").record(seconds);
    }

    let idle = Arc::new(AtomicUsize::new(3));
    let reads = Arc::new(AtomicUsize::new(0));
    {
        let (idle, reads) = (idle.clone(), reads.clone());
        obs_runtime::metrics::gauge_fn("db_pool_connections", &[("state", "idle")], move || {
            reads.fetch_add(1, Ordering::Relaxed);
            idle.load(Ordering::Relaxed) as f64
        });
    }
    metrics::describe_gauge!("db_pool_connections", "Connections of the pool, by state.");
    obs_runtime::metrics::gauge_fn("db_pool_connections", &[("state", "busy"), ("pool", "main \"db\"")], || 2.0);
    obs_runtime::metrics::gauge_fn("broken_gauge", &[], || panic!("the source is gone"));
    assert_eq!(reads.load(Ordering::Relaxed), 0, "a callback runs at collection time only");

    let (status, text) = http_get(app, "/metrics").unwrap();
    assert_eq!(status, 200);
    for line in [
        "# HELP orders_total Orders placed, by region.",
        "# TYPE orders_total counter",
        r#"orders_total{region="eu \"west\"\nline"} 3"#,
        r#"orders_total{region="back\\slash"} 1"#,
        "# HELP cart_items Items in open carts.",
        "# TYPE cart_items gauge",
        "cart_items 7",
        "# HELP payload_seconds Time to write a payload.",
        "# TYPE payload_seconds histogram",
        r#"payload_seconds_bucket{le="0.5"} 1"#,
        r#"payload_seconds_bucket{le="1"} 3"#,
        r#"payload_seconds_bucket{le="5"} 4"#,
        r#"payload_seconds_bucket{le="+Inf"} 5"#,
        "payload_seconds_count 5",
        "# HELP db_pool_connections Connections of the pool, by state.",
        "# TYPE db_pool_connections gauge",
        r#"db_pool_connections{state="idle"} 3"#,
        r#"db_pool_connections{state="busy",pool="main \"db\""} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
    assert_eq!(reads.load(Ordering::Relaxed), 1, "read once per scrape");
    assert!(
        !text.lines().any(|l| l.starts_with("broken_gauge") || l.ends_with(" broken_gauge gauge")),
        "a panicking callback leaves its sample out:\n{text}"
    );
    promtool_check(&text);

    // The panic was counted, and the next scrape reads the callback again (and the new value).
    idle.store(5, Ordering::Relaxed);
    let (_, text) = http_get(app, "/metrics").unwrap();
    assert_eq!(sample(&text, "db_pool_connections", &[("state", "idle")]), Some(5.0), "{text}");
    assert_eq!(sample(&text, "obs_metric_callback_panics_total", &[("metric", "broken_gauge")]), Some(1.0), "{text}");

    // A real Prometheus sees both kinds.
    let server = support::Prometheus::start("user-metrics", app, &[]);
    let promql = r#"sum(db_pool_connections) + on() sum(orders_total)"#;
    let deadline = Instant::now() + Duration::from_secs(90);
    let value = loop {
        if server.ready() {
            let result = server.query_ok(promql);
            if let Some(value) = result.first().and_then(|series| series["value"][1].as_str()) {
                break value.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "Prometheus did not scrape the app within 90 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(value, "11", "5 idle + 2 busy + 3 + 1 orders");
    drop(server);
}
