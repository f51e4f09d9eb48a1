//! OTLP over TLS to a real TLS endpoint: stunnel4 terminating TLS in front of
//! the Rotel collector, with a CA, server and client certificates this test
//! makes with the openssl CLI.
//!
//! - spans and log records arrive over `https://` (OTLP/HTTP, CA from the
//!   builder) and over gRPC (CA from `OTEL_EXPORTER_OTLP_CERTIFICATE`);
//! - trusting another CA, nothing arrives: every export fails and is counted,
//!   and one error line (not one per batch) names the host and says the
//!   server's certificate is not trusted;
//! - with stunnel asking for a client certificate, export with the client
//!   certificate works (`OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE` and `..._TRACES_CLIENT_KEY`) and
//!   export without one fails with a TLS cause.
//!
//! `init` runs once per process, so each case runs in a child process: this
//! test binary re-invoked with `OBS_TEST_CHILD` naming the case (the test
//! `child` does nothing without it). Needs rotel, stunnel4 and openssl
//! (scripts/install-test-deps.sh).

mod support;

use std::time::Duration;

use obs_runtime::export::otlp::OtlpProtocol;
use obs_runtime::observe;
use support::collector::Collector;
use support::tls::{Certs, Stunnel};
use support::{MemoryWriter, run_child};

#[observe]
fn charge(order: u64) -> u64 {
    tracing::info!(event = "charge.done", order, "charged");
    order + 1
}

fn counter(guard: &obs_runtime::ObsGuard, name: &str, signal: &str) -> f64 {
    let text = guard.render_metrics().expect("prometheus");
    support::sample(&text, name, &[("signal", signal)]).unwrap_or(0.0)
}

/// Runs `case` in a child process and fails with its output when it fails.
#[test]
fn spans_and_logs_arrive_over_https_with_a_custom_ca() {
    run_child("custom_ca_http");
}

#[test]
fn spans_and_logs_arrive_over_grpc_with_tls_and_a_ca_from_the_environment() {
    run_child("custom_ca_grpc");
}

#[test]
fn a_server_certificate_from_another_ca_fails_with_one_line_and_counted_failures() {
    run_child("wrong_ca");
}

#[test]
fn over_grpc_a_server_certificate_from_another_ca_fails_with_one_line_too() {
    run_child("wrong_ca_grpc");
}

#[test]
fn mutual_tls_works_with_a_client_certificate_and_fails_without() {
    run_child("mutual");
    run_child("mutual_without_client_certificate");
}

#[test]
fn child() {
    let Ok(case) = std::env::var("OBS_TEST_CHILD") else { return };
    match case.as_str() {
        "custom_ca_http" => arrives(Protocol::Http),
        "custom_ca_grpc" => arrives(Protocol::Grpc),
        "wrong_ca" => wrong_ca(Protocol::Http),
        "wrong_ca_grpc" => wrong_ca(Protocol::Grpc),
        "mutual" => mutual(true),
        "mutual_without_client_certificate" => mutual(false),
        other => panic!("unknown case {other}"),
    }
    println!("case {case} passed");
}

#[derive(PartialEq)]
enum Protocol {
    Http,
    Grpc,
}

fn arrives(protocol: Protocol) {
    let certs = Certs::generate();
    let collector = Collector::start();
    let backend = if protocol == Protocol::Http { collector.http } else { collector.grpc };
    let tls = Stunnel::start(&certs, &[backend], false);
    let logs = MemoryWriter::default();
    let builder = obs_runtime::builder()
        .service_name("tls-shop")
        .log_writer(logs.clone())
        .without_http()
        .otlp_endpoint(format!("https://127.0.0.1:{}", tls.addrs[0].port()))
        .otlp_logs(true)
        .otlp_batch_delay(Duration::from_millis(50));
    let builder = match protocol {
        Protocol::Http => builder.otlp_certificate(certs.path("ca.pem")),
        Protocol::Grpc => {
            // SAFETY: set before `init` reads it, while this child runs one test on one thread.
            unsafe { std::env::set_var("OTEL_EXPORTER_OTLP_CERTIFICATE", certs.path("ca.pem")) };
            builder.otlp_protocol(OtlpProtocol::Grpc)
        }
    };
    let guard = builder.init().expect("init");
    assert_eq!(charge(41), 42);
    let line = logs.lines().into_iter().find(|l| l["event"] == "charge.done").expect("charge.done line");
    let trace = line["trace_id"].as_str().unwrap().to_owned();

    let span = collector.wait_until(Duration::from_secs(30), "the span over TLS", |c| {
        c.spans().into_iter().find(|s| s.trace_id == trace && s.name == "otlp_tls::charge")
    });
    assert_eq!(span.resource_attr("service.name"), Some("Str(tls-shop)"));
    // Each attribute once, with the current semantic-convention names; no bridge timing attributes.
    let keys: Vec<&str> = span.attributes.iter().map(|(k, _)| k.as_str()).collect();
    for key in ["code.file.path", "code.line.number", "code.function.name"] {
        assert_eq!(keys.iter().filter(|k| **k == key).count(), 1, "{key} once: {keys:?}");
    }
    for key in ["code.filepath", "code.lineno", "code.function", "code.namespace", "busy_ns", "idle_ns"] {
        assert!(!keys.contains(&key), "{key} is not exported: {keys:?}");
    }
    assert!(
        span.attr("code.file.path").is_some_and(|p| p.contains("otlp_tls.rs")),
        "{:?}",
        span.attr("code.file.path")
    );
    assert!(span.attributes.iter().all(|(_, v)| v != "Str()"), "no empty attribute: {:?}", span.attributes);
    let record = collector.wait_until(Duration::from_secs(30), "the log record over TLS", |c| {
        c.logs().into_iter().find(|l| l.trace_id == trace && l.attr("event") == Some("Str(charge.done)"))
    });
    assert_eq!(record.body, "Str(charged)");
    assert_eq!(record.span_id, line["span_id"].as_str().unwrap());
    assert_eq!(counter(&guard, "obs_exporter_failed_spans_total", "traces"), 0.0);
    // The collector prints a batch as it receives it; the export is counted once its call returns.
    let counted = |signal: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while counter(&guard, "obs_exporter_exported_spans_total", signal) < 1.0 && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        counter(&guard, "obs_exporter_exported_spans_total", signal)
    };
    assert!(counted("traces") >= 1.0);
    assert!(counted("logs") >= 1.0);
    drop(guard);
}

fn wrong_ca(protocol: Protocol) {
    let certs = Certs::generate();
    let collector = Collector::start();
    let backend = if protocol == Protocol::Http { collector.http } else { collector.grpc };
    let tls = Stunnel::start(&certs, &[backend], false);
    let logs = MemoryWriter::default();
    let otlp = if protocol == Protocol::Http { OtlpProtocol::HttpProtobuf } else { OtlpProtocol::Grpc };
    let guard = obs_runtime::builder()
        .otlp_protocol(otlp)
        .service_name("tls-shop")
        .log_writer(logs.clone())
        .without_http()
        .otlp_endpoint(format!("https://127.0.0.1:{}", tls.addrs[0].port()))
        .otlp_certificate(certs.path("other_ca.pem"))
        .otlp_batch_delay(Duration::from_millis(20))
        .init()
        .expect("init");
    // Several batches, each of which fails.
    const CALLS: u64 = 5;
    for order in 0..CALLS {
        charge(order);
        std::thread::sleep(Duration::from_millis(150));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while counter(&guard, "obs_exporter_failed_spans_total", "traces") < CALLS as f64 {
        assert!(std::time::Instant::now() < deadline, "failures not counted: {:?}", guard.render_metrics());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(counter(&guard, "obs_exporter_failed_spans_total", "traces"), CALLS as f64);
    assert_eq!(counter(&guard, "obs_exporter_exported_spans_total", "traces"), 0.0);
    let errors: Vec<_> = logs.lines().into_iter().filter(|l| l["event"] == "exporter.error").collect();
    assert_eq!(errors.len(), 1, "one line per interval, not one per batch: {errors:#?}");
    let error = errors[0]["error"]["message"].as_str().unwrap_or_else(|| panic!("{errors:#?}"));
    let host = format!("127.0.0.1:{}", tls.addrs[0].port());
    match protocol {
        Protocol::Http => {
            assert!(error.starts_with(&format!("{host}: TLS: the server's certificate is not trusted")), "{error}")
        }
        // tonic's own chain, after the host.
        Protocol::Grpc => assert!(error.starts_with(&format!("{host}: ")) && error.contains("certificate"), "{error}"),
    }
    assert!(error.contains("UnknownIssuer"), "{error}");
    println!("error line with the wrong CA: {error}");
    assert_eq!(errors[0]["endpoint"], host.as_str());
    assert!(errors[0]["message"].as_str().unwrap().contains("UnknownIssuer"), "{:?}", errors[0]);
    assert!(collector.spans().is_empty(), "nothing got through: {:#?}", collector.spans());
    drop(guard);
}

fn mutual(with_client_certificate: bool) {
    let certs = Certs::generate();
    let collector = Collector::start();
    let tls = Stunnel::start(&certs, &[collector.http], true);
    if with_client_certificate {
        // SAFETY: set before `init` reads them, while this child runs one test on one thread.
        unsafe {
            std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", certs.path("client.pem"));
            std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", certs.path("client.key"));
        }
    }
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("tls-shop")
        .log_writer(logs.clone())
        .without_http()
        .otlp_endpoint(format!("https://127.0.0.1:{}", tls.addrs[0].port()))
        .otlp_certificate(certs.path("ca.pem"))
        .otlp_batch_delay(Duration::from_millis(50))
        .init()
        .expect("init");
    assert_eq!(charge(7), 8);
    let line = logs.lines().into_iter().find(|l| l["event"] == "charge.done").expect("charge.done line");
    let trace = line["trace_id"].as_str().unwrap().to_owned();
    if with_client_certificate {
        collector.wait_until(Duration::from_secs(30), "the span over mutual TLS", |c| {
            c.spans().into_iter().find(|s| s.trace_id == trace)
        });
        assert_eq!(counter(&guard, "obs_exporter_failed_spans_total", "traces"), 0.0);
    } else {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while counter(&guard, "obs_exporter_failed_spans_total", "traces") < 1.0 {
            assert!(std::time::Instant::now() < deadline, "no failure counted: {}", tls.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        let errors: Vec<_> = logs.lines().into_iter().filter(|l| l["event"] == "exporter.error").collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        let error = errors[0]["error"]["message"].as_str().unwrap_or_else(|| panic!("{errors:#?}"));
        assert!(error.contains(": TLS: "), "the cause is TLS: {error}");
        println!("error line without a client certificate: {error}");
        assert!(collector.spans().is_empty(), "stunnel let a client without a certificate through");
    }
    drop(guard);
}
