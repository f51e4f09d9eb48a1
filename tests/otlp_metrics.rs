//! OTLP metrics export to a real collector (Rotel, which receives OTLP
//! metrics over HTTP and gRPC and prints every data point): after a known
//! number of calls, the exported counters, histogram counts and bucket
//! counts and gauges equal the calls made and what `/metrics` shows, with
//! the same bucket bounds, for cumulative and delta temporality; a metric of
//! the `metrics` facade goes along; the resource is the traces' resource.
//! With the backend down, failed exports are counted and logged once, and
//! the application is not slowed.
//!
//! `init` runs once per process, so each case runs in a child process: this
//! test binary re-invoked with `OBS_TEST_CHILD` naming the case.

mod support;

use std::time::{Duration, Instant};

use obs_runtime::export::otlp::{OtlpProtocol, Temporality};
use obs_runtime::observe;
use support::collector::{Collector, ReceivedPoint};
use support::{MemoryWriter, run_child};

#[derive(Debug, obs_runtime::ErrorKind)]
enum StockError {
    Empty,
}

impl std::fmt::Display for StockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of stock")
    }
}
impl std::error::Error for StockError {}

#[observe]
fn reserve(item: u64) -> Result<u64, StockError> {
    if item % 4 == 3 { Err(StockError::Empty) } else { Ok(item) }
}

const BUCKETS: &[f64] = &[0.000_001, 0.001, 5.0];

#[test]
fn cumulative_points_equal_the_calls_made_over_http() {
    run_child("cumulative_http");
}

#[test]
fn delta_points_add_up_to_the_calls_made_over_http() {
    run_child("delta_http");
}

#[test]
fn cumulative_points_equal_the_calls_made_over_grpc() {
    run_child("cumulative_grpc");
}

#[test]
fn a_backend_that_is_down_counts_failed_points_and_logs_once() {
    run_child("backend_down");
}

#[test]
fn child() {
    let Ok(case) = std::env::var("OBS_TEST_CHILD") else { return };
    match case.as_str() {
        "cumulative_http" => exported(Temporality::Cumulative, OtlpProtocol::HttpProtobuf),
        "delta_http" => exported(Temporality::Delta, OtlpProtocol::HttpProtobuf),
        "cumulative_grpc" => exported(Temporality::Cumulative, OtlpProtocol::Grpc),
        "backend_down" => backend_down(),
        other => panic!("unknown case {other}"),
    }
    println!("case {case} passed");
}

fn attr<'a>(point: &'a ReceivedPoint, key: &str) -> Option<&'a str> {
    point.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

const FUNCTION: &str = "Str(reserve)";

fn exported(temporality: Temporality, protocol: OtlpProtocol) {
    let collector = Collector::start();
    let endpoint = match protocol {
        OtlpProtocol::Grpc => format!("http://{}", collector.grpc),
        _ => format!("http://{}", collector.http),
    };
    let guard = obs_runtime::builder()
        .service_name("stock")
        .log_writer(MemoryWriter::default())
        .without_http()
        .buckets(BUCKETS)
        .otlp_endpoint(endpoint)
        .otlp_protocol(protocol)
        .otlp_metrics(true)
        .otlp_metric_interval(Duration::from_millis(300))
        .otlp_metric_temporality(temporality)
        .const_label("environment", "prod")
        .init()
        .expect("init");
    // Two rounds, so delta has something to subtract.
    const ROUNDS: u64 = 2;
    const CALLS: u64 = 8; // per round: 6 ok, 2 errors
    for round in 0..ROUNDS {
        for item in 0..CALLS {
            let _ = reserve(item);
        }
        metrics::counter!("stock_restocks_total").increment(3);
        if round == 0 {
            std::thread::sleep(Duration::from_millis(700));
        }
    }
    let text = guard.render_metrics().expect("prometheus");
    let ok_calls = support::sample(&text, "obs_function_calls_total", &[("function", "reserve"), ("status", "ok")]);
    assert_eq!(ok_calls, Some(12.0), "{text}");
    // Shutdown exports one last collection.
    drop(guard);

    let points = collector.wait_until(Duration::from_secs(30), "the last collection", |c| {
        let points = c.metric_points();
        let total: f64 = points
            .iter()
            .filter(|p| p.name == "obs_function_calls_total" && attr(p, "function") == Some(FUNCTION))
            .filter(|p| attr(p, "status") == Some("Str(ok)"))
            .map(|p| p.value)
            .fold(0.0, |acc, v| if temporality == Temporality::Delta { acc + v } else { v });
        (total == 12.0).then_some(points)
    });
    let series = |name: &str, status: Option<&str>| -> Vec<&ReceivedPoint> {
        points
            .iter()
            .filter(|p| p.name == name && (attr(p, "function") == Some(FUNCTION) || !name.starts_with("obs_function")))
            .filter(|p| status.is_none_or(|s| attr(p, "status") == Some(s)))
            .collect()
    };
    // Cumulative: the last point holds the total. Delta: the points add up to it.
    let total = |points: &[&ReceivedPoint]| -> f64 {
        match temporality {
            Temporality::Delta => points.iter().map(|p| p.value).sum(),
            _ => points.last().map(|p| p.value).unwrap_or(0.0),
        }
    };
    let ok = series("obs_function_calls_total", Some("Str(ok)"));
    let errors = series("obs_function_calls_total", Some("Str(error)"));
    assert!(ok.len() >= 2, "several collections were exported: {ok:#?}");
    assert_eq!(total(&ok), 12.0);
    assert_eq!(total(&errors), 4.0);
    assert_eq!(total(&series("obs_function_errors_total", None)), 4.0, "the error-kind counter (facade)");
    assert_eq!(total(&series("stock_restocks_total", None)), 6.0, "a metric of the metrics facade");
    let expected_kind = match temporality {
        Temporality::Delta => "AGGREGATION_TEMPORALITY_DELTA",
        _ => "AGGREGATION_TEMPORALITY_CUMULATIVE",
    };
    assert!(ok.iter().all(|p| p.temporality == expected_kind), "{ok:#?}");
    if temporality == Temporality::Delta {
        assert!(ok.iter().any(|p| p.value == 6.0), "one round per collection: {ok:#?}");
    }

    let durations = series("obs_function_duration_seconds", None);
    assert!(!durations.is_empty(), "the duration histogram: {points:#?}");
    let count: u64 = match temporality {
        Temporality::Delta => durations.iter().map(|p| p.count).sum(),
        _ => durations.last().unwrap().count,
    };
    assert_eq!(count, 16, "every call in the histogram");
    let last = durations.last().unwrap();
    assert_eq!(last.bounds, BUCKETS, "the bounds of /metrics");
    assert_eq!(last.buckets.len(), BUCKETS.len() + 1);
    assert_eq!(last.buckets.iter().sum::<u64>(), last.count, "bucket counts add up to the count");

    let in_flight = series("obs_function_in_flight", None);
    assert_eq!(in_flight.last().map(|p| p.value), Some(0.0), "the gauge");
    assert_eq!(last.resource.iter().find(|(k, _)| k == "service.name").map(|(_, v)| v.as_str()), Some("Str(stock)"));
    assert!(last.resource.iter().any(|(k, _)| k == "service.instance.id"), "{:?}", last.resource);

    // Constant labels are attributes of every point; `target_info` is the resource, not a metric.
    let unlabelled: Vec<&str> =
        points.iter().filter(|p| attr(p, "environment") != Some("Str(prod)")).map(|p| p.name.as_str()).collect();
    assert!(unlabelled.is_empty(), "points without the constant label: {unlabelled:?}");
    assert!(!points.iter().any(|p| p.name.starts_with("target")), "target_info is not exported as a metric");
    let instance = last.resource.iter().find(|(k, _)| k == "service.instance.id").map(|(_, v)| v.clone()).unwrap();
    let shown = format!("service_instance_id=\"{}\"", instance.trim_start_matches("Str(").trim_end_matches(')'));
    assert!(text.lines().any(|l| l.starts_with("target_info{") && l.contains(&shown)), "{shown} in:\n{text}");
}

fn backend_down() {
    let port = support::free_port();
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("stock")
        .log_writer(logs.clone())
        .without_http()
        .otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .otlp_metrics(true)
        .otlp_metric_interval(Duration::from_millis(100))
        .otlp_shutdown_timeout(Duration::from_secs(2))
        .init()
        .expect("init");
    let started = Instant::now();
    for item in 0..1000 {
        let _ = reserve(item);
    }
    let burst = started.elapsed();
    assert!(burst < Duration::from_secs(2), "the calls were not held up: {burst:?}");
    let failed = |guard: &obs_runtime::ObsGuard| {
        let text = guard.render_metrics().unwrap();
        support::sample(&text, "obs_exporter_failed_spans_total", &[("signal", "metrics")]).unwrap_or(0.0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while failed(&guard) < 10.0 {
        assert!(Instant::now() < deadline, "failed points not counted: {:?}", guard.render_metrics());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(400));
    let errors: Vec<_> =
        logs.lines().into_iter().filter(|l| l["event"] == "exporter.error" && l["signal"] == "metrics").collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let error = errors[0]["error"]["message"].as_str().unwrap();
    assert_eq!(error, format!("127.0.0.1:{port}: connection refused"));
    let stopping = Instant::now();
    drop(guard);
    assert!(stopping.elapsed() < Duration::from_secs(3), "shutdown stayed bounded: {:?}", stopping.elapsed());
}
