//! OTLP over gRPC (feature `otlp-grpc`) from a tokio application, to a real
//! OpenTelemetry collector (Rotel): a workflow's spans arrive as one trace
//! with its shape, attributes, error status and the resource attributes; the
//! log events arrive as OTLP log records carrying the same trace and span ids
//! as the JSON lines. The exporter's own counters say what was sent.
//!
//! Needs the `rotel` collector (scripts/install-test-deps.sh installs it).

mod support;

use std::time::Duration;

use obs_runtime::export::otlp::OtlpProtocol;
use obs_runtime::health::MemoryCheck;
use obs_runtime::{ErrorKind, HealthCheck, node, observe, workflow};
use support::MemoryWriter;
use support::collector::Collector;

#[derive(Debug, ErrorKind)]
enum ShipError {
    NoCourier,
}

impl std::fmt::Display for ShipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no courier available")
    }
}
impl std::error::Error for ShipError {}

#[derive(HealthCheck)]
struct Dependencies {
    #[health(non_critical)]
    memory: MemoryCheck,
}

#[node]
async fn pack(order: u64) -> Result<u64, ShipError> {
    tracing::info!(event = "pack.done", boxes = 2, "packed");
    Ok(order * 10)
}

#[node]
async fn ship(parcel: i64) -> Result<u64, ShipError> {
    if parcel > 500 { Err(ShipError::NoCourier) } else { Ok(parcel as u64 + 1) }
}

#[workflow]
async fn fulfil(order: u64) -> Result<u64, ShipError> {
    let parcel = pack(order).await?;
    ship(parcel as i64).await
}

#[observe]
async fn lookup(sku: &str) -> usize {
    sku.len()
}

#[observe]
async fn explode(code: i64) -> i64 {
    if code > 0 {
        panic!("boom {code}");
    }
    code
}

#[observe]
async fn wait_forever(ticket: i64) -> i64 {
    std::future::pending::<()>().await;
    ticket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_log_records_reach_a_collector_over_grpc() {
    let collector = Collector::start();
    // SAFETY: set before `init` reads it, while this test is the only thread of the process doing anything.
    unsafe { std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,team=logistics") };
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("fulfilment")
        .service_version("4.5.6")
        .log_writer(logs.clone())
        .without_http()
        .otlp_endpoint(format!("http://{}", collector.grpc))
        .otlp_protocol(OtlpProtocol::Grpc)
        .otlp_logs(true)
        .otlp_batch_delay(Duration::from_millis(50))
        .health(Dependencies { memory: MemoryCheck::new() })
        .init()
        .expect("init");

    assert_eq!(fulfil(7).await.unwrap(), 71);
    assert!(fulfil(90).await.is_err());
    assert_eq!(lookup("abc").await, 3);
    assert!(tokio::spawn(explode(3)).await.is_err(), "the panic reaches the JoinHandle");
    assert!(tokio::time::timeout(Duration::from_millis(20), wait_forever(11)).await.is_err());

    let lines = logs.lines();
    let trace_of = |order: u64| {
        let line = lines
            .iter()
            .find(|l| l["event"] == "workflow.start" && l["order"] == order)
            .unwrap_or_else(|| panic!("no workflow.start line for order {order}"));
        line["trace_id"].as_str().unwrap().to_owned()
    };
    let (ok_trace, failed_trace) = (trace_of(7), trace_of(90));
    assert_ne!(ok_trace, failed_trace);

    let spans = collector.wait_until(Duration::from_secs(30), "both workflow traces", |c| {
        let spans = c.spans();
        let count = |trace: &str| spans.iter().filter(|s| s.trace_id == trace).count();
        (count(&ok_trace) >= 3 && count(&failed_trace) >= 3).then_some(spans)
    });

    // The failed run: workflow → pack, ship; ship and the run in error.
    let run: Vec<_> = spans.iter().filter(|s| s.trace_id == failed_trace).collect();
    let named =
        |name: &str| *run.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name} in {run:#?}"));
    let root = named("otlp_grpc::fulfil");
    let pack = named("otlp_grpc::pack");
    let ship = named("otlp_grpc::ship");
    assert_eq!(root.parent_id, "", "the workflow span is the root");
    assert_eq!(pack.parent_id, root.span_id);
    assert_eq!(ship.parent_id, root.span_id);
    assert_eq!(ship.status_code, "STATUS_CODE_ERROR", "{ship:#?}");
    assert_eq!(ship.status_message, "no courier available");
    assert_eq!(ship.attr("error.type"), Some("Str(no_courier)"));
    assert_eq!(ship.attr("parcel"), Some("Int(900)"));
    assert!(ship.events.iter().any(|e| e.contains("exception")), "an exception event: {ship:#?}");
    // Each attribute once, none empty: the bridge adds no copy of the error.
    let keys: Vec<&str> = ship.attributes.iter().map(|(k, _)| k.as_str()).collect();
    for key in ["exception.message", "exception.stacktrace", "code.filepath", "busy_ns"] {
        assert!(!keys.contains(&key), "{key} on the span: {keys:?}");
    }
    assert!(ship.attributes.iter().all(|(_, v)| v != "Slice()" && v != "Str()"), "{:?}", ship.attributes);
    assert!(!ship.events.iter().any(|e| e.contains("exception.stacktrace")), "{:#?}", ship.events);
    assert_eq!(root.status_code, "STATUS_CODE_ERROR");
    assert_eq!(pack.status_code, "STATUS_CODE_UNSET");

    // A panic is an error with `error.type=panic`; a cancelled call is not an error.
    let (panicked, cancelled) = collector.wait_until(Duration::from_secs(30), "the panic and the cancel", |c| {
        let spans = c.spans();
        let find = |name: &str| spans.iter().find(|s| s.name == name).cloned();
        find("otlp_grpc::explode").zip(find("otlp_grpc::wait_forever"))
    });
    assert_eq!(panicked.status_code, "STATUS_CODE_ERROR", "{panicked:#?}");
    assert_eq!(panicked.attr("error.type"), Some("Str(panic)"));
    assert_eq!(panicked.attr("obs.outcome"), Some("Str(panic)"));
    assert_eq!(cancelled.attr("obs.outcome"), Some("Str(cancelled)"), "{cancelled:#?}");
    assert_eq!(cancelled.status_code, "STATUS_CODE_UNSET");
    assert_eq!(cancelled.attr("ticket"), Some("Int(11)"));

    // The resource: detected attributes, the builder's, and OTEL_RESOURCE_ATTRIBUTES.
    assert_eq!(root.resource_attr("service.name"), Some("Str(fulfilment)"));
    assert_eq!(root.resource_attr("service.version"), Some("Str(4.5.6)"));
    assert_eq!(root.resource_attr("process.pid"), Some(format!("Str({})", std::process::id()).as_str()));
    assert_eq!(root.resource_attr("deployment.environment.name"), Some("Str(test)"));
    assert_eq!(root.resource_attr("team"), Some("Str(logistics)"));
    assert!(root.resource_attr("service.instance.id").is_some() && root.resource_attr("host.name").is_some());

    // Log records: the same events as the JSON lines, with the same ids.
    let pack_line =
        lines.iter().find(|l| l["event"] == "pack.done" && l["trace_id"] == ok_trace.as_str()).expect("pack.done line");
    let records = collector.wait_until(Duration::from_secs(30), "the log records", |c| {
        let logs = c.logs();
        logs.iter().any(|l| l.trace_id == failed_trace && l.attr("event") == Some("Str(node.error)")).then_some(logs)
    });
    let packed = records
        .iter()
        .find(|r| r.attr("event") == Some("Str(pack.done)") && r.trace_id == ok_trace)
        .unwrap_or_else(|| panic!("no pack.done record in {records:#?}"));
    assert_eq!(packed.body, "Str(packed)");
    assert_eq!(packed.severity_text, "INFO");
    assert_eq!(packed.span_id, pack_line["span_id"].as_str().unwrap());
    assert_eq!(packed.attr("boxes"), Some("Int(2)"));
    assert_eq!(packed.attr("order"), Some("Int(7)"), "fields of the spans in scope come along");
    assert_eq!(packed.resource_attr("service.name"), Some("Str(fulfilment)"));
    let failed = records
        .iter()
        .find(|r| r.trace_id == failed_trace && r.attr("event") == Some("Str(node.error)"))
        .expect("node.error record");
    assert_eq!(failed.severity_text, "ERROR");
    assert_eq!(failed.span_id, ship.span_id, "the record of the failed node carries its span id");
    assert_eq!(failed.attr("exception.type"), Some("Str(no_courier)"));

    // Every exported span and record is counted; nothing was dropped.
    let text = guard.render_metrics().expect("prometheus");
    // The health check ran (at init, before everything above was exported) but started no trace.
    let checks = support::sample(&text, "obs_health_check_duration_seconds_count", &[("check", "memory")]);
    assert!(checks.unwrap_or(0.0) >= 1.0, "the check ran: {text}");
    let health_spans: Vec<_> = collector.spans().into_iter().filter(|s| s.name.starts_with("health")).collect();
    assert!(health_spans.is_empty(), "{health_spans:#?}");
    let count = |name: &str, signal: &str| support::sample(&text, name, &[("signal", signal)]).unwrap_or(0.0);
    assert!(count("obs_exporter_exported_spans_total", "traces") >= 7.0, "{text}");
    assert!(count("obs_exporter_exported_spans_total", "logs") >= 1.0, "{text}");
    assert_eq!(count("obs_exporter_dropped_spans_total", "traces"), 0.0);
    assert_eq!(count("obs_exporter_failed_spans_total", "logs"), 0.0);
    drop(guard);
}
