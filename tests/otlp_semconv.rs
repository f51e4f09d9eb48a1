//! `OTEL_SEMCONV_STABILITY_OPT_IN=code/dup`: spans reach the real collector
//! with the code attributes under their stable names and, once each, under
//! the names from before semantic conventions 1.33, for backends that read only
//! those. (Without it, each is sent once under its stable name: `tests/otlp_grpc.rs`.)

mod support;

use std::time::Duration;

use obs_runtime::observe;
use support::MemoryWriter;
use support::collector::Collector;

#[observe]
fn price(sku: u32) -> u32 {
    sku * 3
}

#[test]
fn code_dup_adds_the_old_code_attribute_names_once_each() {
    let collector = Collector::start();
    // SAFETY: set before `init` reads it, while this test is the only thread of the process doing anything.
    unsafe { std::env::set_var("OTEL_SEMCONV_STABILITY_OPT_IN", "http, code/dup") };
    let guard = obs_runtime::builder()
        .service_name("semconv")
        .log_writer(MemoryWriter::default())
        .without_http()
        .otlp_endpoint(format!("http://{}", collector.http))
        .otlp_batch_delay(Duration::from_millis(50))
        .init()
        .expect("init");
    assert_eq!(price(2), 6);
    drop(guard);
    let span = collector.wait_until(Duration::from_secs(30), "the span of price", |c| {
        c.spans().into_iter().find(|s| s.name == "otlp_semconv::price")
    });
    let once = |key: &str| {
        let values: Vec<&String> = span.attributes.iter().filter(|(k, _)| k == key).map(|(_, v)| v).collect();
        assert_eq!(values.len(), 1, "{key} once: {:?}", span.attributes);
        values[0].clone()
    };
    assert_eq!(once("code.filepath"), once("code.file.path"));
    assert!(once("code.file.path").contains("otlp_semconv.rs"), "{:?}", span.attributes);
    assert_eq!(once("code.lineno"), once("code.line.number"));
    // The old conventions split the path: module in `code.namespace`, the function alone.
    assert_eq!(once("code.function.name"), "Str(otlp_semconv::price)");
    assert_eq!(once("code.namespace"), "Str(otlp_semconv)");
    assert_eq!(once("code.function"), "Str(price)");
}
