//! The span fields a JSON line carries keep their JSON types, whichever way
//! the layer keeps them until a line is written (numbers and booleans as they
//! are, other values rendered at once): an `#[observe]` function's arguments on
//! its own error line, a value recorded after the span was created replacing the
//! first, and an enclosing span's identifying fields on the lines inside it.

use obs_runtime::log::{JsonLayer, MemoryWriter};
use obs_runtime::observe;
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

#[observe]
fn quote(count: u64, delta: i64, ratio: f64, urgent: bool, label: &str, tags: &[u8]) -> Result<u64, Refused> {
    let _ = (count, delta, ratio, urgent, label, tags);
    Err(Refused)
}

fn lines_of(run: impl FnOnce()) -> Vec<Value> {
    let logs = MemoryWriter::new();
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new("svc", logs.clone()));
    tracing::subscriber::with_default(subscriber, run);
    logs.lines()
}

#[test]
fn arguments_keep_their_json_types_on_the_functions_line() {
    let lines = lines_of(|| {
        let _ = quote(u64::MAX, -3, 0.25, true, "a \"b\"", &[1, 2]);
    });
    let error = lines.iter().find(|l| l["event"] == "function.error").expect("the error line");
    assert_eq!(error["count"], json!(u64::MAX), "{error}");
    assert_eq!(error["delta"], json!(-3), "{error}");
    assert_eq!(error["ratio"], json!(0.25), "{error}");
    assert_eq!(error["urgent"], json!(true), "{error}");
    assert_eq!(error["label"], json!("a \"b\""), "{error}");
    assert_eq!(error["tags"], json!("[1, 2]"), "{error}");
}

#[test]
fn recorded_values_replace_and_enclosing_ids_are_inherited() {
    let lines = lines_of(|| {
        let outer = tracing::info_span!("order", order_id = 41u64, amount = 9.5f64);
        let _outer = outer.enter();
        let inner = tracing::info_span!("step", attempt = tracing::field::Empty, ok = false, ratio = f64::NAN);
        let _inner = inner.enter();
        inner.record("attempt", 2u64);
        inner.record("ok", true);
        tracing::info!(event = "step.done", "done");
    });
    let line = lines.iter().find(|l| l["event"] == "step.done").expect("the line");
    assert_eq!(line["order_id"], json!(41), "an enclosing span's id is repeated: {line}");
    assert!(line.get("amount").is_none(), "an enclosing span's other fields are not: {line}");
    assert_eq!(line["attempt"], json!(2), "{line}");
    assert_eq!(line["ok"], json!(true), "the recorded value replaces the first: {line}");
    assert_eq!(line.get("ratio"), Some(&Value::Null), "a non-finite number is null: {line}");
}
