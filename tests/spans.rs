//! The spans `#[observe]` opens, as any `tracing` subscriber sees them: names,
//! parents, OpenTelemetry `code.*` fields, arguments and the error fields.
//! No `init` here: `obs_runtime::testing` captures them with a scoped subscriber.

use obs_runtime::{observe, testing};

#[observe]
fn parse_order(raw: &str, strict: bool) -> Result<u32, std::num::ParseIntError> {
    let _ = strict;
    raw.parse()
}

#[observe(name = "load")]
async fn load_orders(count: u32) -> u32 {
    let mut total = 0;
    for i in 0..count {
        total += parse_order(&i.to_string(), true).unwrap_or(0);
    }
    total
}

#[test]
fn spans_carry_code_fields_and_arguments() {
    let t = testing::capture(|| parse_order("42", false));
    assert_eq!(t.output, Ok(42));
    let span = t.span("spans::parse_order");
    // Stable semantic conventions: the fully qualified path, no `code.namespace`.
    assert_eq!(span.fields["code.function.name"], "spans::parse_order");
    assert!(!span.fields.contains_key("code.namespace"));
    assert!(span.fields["code.file.path"].as_str().unwrap().ends_with("spans.rs"));
    assert!(span.fields["code.line.number"].as_u64().unwrap() > 5);
    assert!(!span.fields.contains_key("code.filepath") && !span.fields.contains_key("code.lineno"));
    assert_eq!(span.fields["raw"], "42");
    assert_eq!(span.fields["strict"], false);
    assert!(!span.fields.contains_key("error.type"));
}

#[test]
fn a_failed_call_records_the_error_on_its_span() {
    let t = testing::capture(|| parse_order("x", true));
    assert!(t.output.is_err());
    let span = t.span("spans::parse_order");
    assert_eq!(span.fields["error.type"], "ParseIntError");
    assert_eq!(span.fields["error.message"], "invalid digit found in string");
    assert_eq!(span.fields["otel.status_code"], "ERROR");
}

#[test]
fn nested_calls_form_a_span_tree() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let t = runtime.block_on(testing::capture_async(load_orders(3)));
    assert_eq!(t.output, 3);
    let outer = t.span("load");
    assert_eq!(outer.parent, None);
    // Named `load`: the path is the module and the name the metrics use.
    assert_eq!(outer.fields["code.function.name"], "spans::load");
    let inner = t.span("spans::parse_order");
    assert_eq!(t.spans()[inner.parent.unwrap()].name, "load");
    assert_eq!(t.calls("parse_order").ok(), 3);
}
