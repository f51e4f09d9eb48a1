//! The same export from an application without any tokio runtime: spans go
//! over gRPC (the exporter drives its own runtime), log records over
//! OTLP/HTTP, each signal configured by its own standard variables, and log
//! lines are off, so the collector is the only place the events go.
//!
//! Needs the `rotel` collector (scripts/install-test-deps.sh installs it).

mod support;

use std::time::{Duration, Instant};

use obs_runtime::log::LogFormat;
use obs_runtime::observe;
use support::collector::Collector;

#[observe]
fn price(cents: i64) -> Result<i64, std::num::TryFromIntError> {
    tracing::info!(event = "price.checked", "checked the price");
    u8::try_from(cents).map(i64::from)
}

#[observe]
fn basket(items: i64) -> i64 {
    (0..items).filter_map(|i| price(i * 150).ok()).sum()
}

#[test]
fn a_non_tokio_app_exports_spans_over_grpc_and_logs_over_http() {
    let collector = Collector::start();
    // SAFETY: set before `init` reads them, while this test is the only thread of the process doing anything.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{}", collector.grpc));
        std::env::set_var("OTEL_LOGS_EXPORTER", "otlp");
        std::env::set_var("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf");
        std::env::set_var("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", format!("http://{}/v1/logs", collector.http));
    }
    let guard = obs_runtime::builder()
        .service_name("pricing")
        .log_format(LogFormat::Off)
        .without_http()
        .otlp_batch_delay(Duration::from_millis(50))
        .init()
        .expect("init");
    assert!(tokio::runtime::Handle::try_current().is_err(), "no runtime in this app");

    assert_eq!(basket(4), 150);

    let spans = collector.wait_until(Duration::from_secs(30), "the basket trace", |c| {
        let spans = c.spans();
        (spans.iter().filter(|s| s.name.starts_with("otlp_grpc_sync::")).count() >= 5).then_some(spans)
    });
    let root = spans.iter().find(|s| s.name == "otlp_grpc_sync::basket").expect("basket span");
    let prices: Vec<_> = spans.iter().filter(|s| s.name == "otlp_grpc_sync::price").collect();
    assert_eq!(prices.len(), 4);
    assert!(prices.iter().all(|p| p.trace_id == root.trace_id && p.parent_id == root.span_id));
    let failed: Vec<_> = prices.iter().filter(|p| p.status_code == "STATUS_CODE_ERROR").collect();
    assert_eq!(failed.len(), 2, "300 and 450 do not fit in a u8: {prices:#?}");
    assert_eq!(failed[0].attr("error.type"), Some("Str(TryFromIntError)"));

    let records = collector.wait_until(Duration::from_secs(30), "the log records", |c| {
        let logs = c.logs();
        (logs.iter().filter(|l| l.attr("event") == Some("Str(price.checked)")).count() >= 4).then_some(logs)
    });
    for price in &prices {
        let record = records
            .iter()
            .find(|r| r.span_id == price.span_id && r.attr("event") == Some("Str(price.checked)"))
            .unwrap_or_else(|| panic!("no record from span {} in {records:#?}", price.span_id));
        assert_eq!(record.trace_id, root.trace_id);
        assert_eq!(record.body, "Str(checked the price)");
        assert_eq!(record.resource_attr("service.name"), Some("Str(pricing)"));
    }
    let error = records
        .iter()
        .find(|r| r.attr("event") == Some("Str(function.error)"))
        .unwrap_or_else(|| panic!("no function.error record in {records:#?}"));
    assert_eq!(error.severity_text, "ERROR");
    assert_eq!(error.attr("exception.type"), Some("Str(TryFromIntError)"));
    assert!(error.attr("exception.message").is_some_and(|m| m.contains("out of range")), "{error:#?}");

    let started = Instant::now();
    drop(guard);
    assert!(started.elapsed() < Duration::from_secs(6), "shutdown took {:?}", started.elapsed());
}
