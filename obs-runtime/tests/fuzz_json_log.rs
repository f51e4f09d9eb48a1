//! Fuzzing (with proptest: cargo-fuzz needs a nightly toolchain) of the JSON
//! log writer's escaping, through the real [`JsonLayer`] and a [`MemoryWriter`]:
//! arbitrary strings (any Unicode, control characters, quotes, backslashes,
//! U+2028, lossily decoded arbitrary bytes, up to 64 KB) as field values,
//! messages, field names, the event's target, the service name and a span
//! field. Every event writes exactly one line, the line parses with
//! `serde_json`, and every value comes back exactly as it was given.
//!
//! Field names and targets are `&'static str` in `tracing`'s metadata, so each
//! case builds its own callsite at run time (leaked: a few hundred bytes a case,
//! plus the target and names).
//!
//! The default run is short; a long run:
//! `PROPTEST_CASES=200000 cargo test -p obs-runtime --release --test fuzz_json_log -- --nocapture`.

mod fuzz_support;

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::sync::OnceLock;
use std::time::Instant;

use fuzz_support::{Counting, Tally, cases, peak_above, reset_peak};
use obs_runtime::log::{JsonLayer, MemoryWriter};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use tracing::field::{Field, FieldSet};
use tracing::{Level, Metadata};
use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Kind};
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static ALLOC: Counting = Counting;

/// Keys the line writes itself (an event field with one of these names would
/// repeat a key, which is a separate question from escaping).
const RESERVED: &[&str] = &[
    "timestamp",
    "level",
    "target",
    "service",
    "trace_id",
    "span_id",
    "span",
    "error",
    "error.kind",
    "message",
    "span_value",
];

/// Characters that stress a JSON escaper, then anything.
fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            '"', '\\', '/', '\n', '\r', '\t', '\u{0}', '\u{1}', '\u{8}', '\u{c}', '\u{1f}', '\u{7f}', '\u{80}',
            '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffd}', '\u{ffff}', '\u{10ffff}', 'é', '😀', 'a', ' ', '{', '}', ':', ',',
        ]),
        2 => any::<char>(),
        1 => (0u8..0x80).prop_map(char::from),
    ]
}

/// From empty up to 64 KB.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec(text_char(), 0..64).prop_map(|c| c.into_iter().collect()),
        2 => prop::collection::vec(text_char(), 0..2048).prop_map(|c| c.into_iter().collect()),
        // Lossily decoded arbitrary bytes, as a writer of byte data would record them.
        2 => prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        // Up to 64 KB from a short random pattern, so that generating it stays cheap.
        1 => (prop::collection::vec(text_char(), 1..32), 1000..=16_384usize)
            .prop_map(|(pattern, n)| pattern.iter().copied().cycle().take(n).collect()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(text_char(), 1..24).prop_map(|c| c.into_iter().collect())
}

/// One field value and how it reaches the layer.
#[derive(Debug, Clone)]
enum FieldValue {
    Str(String),
    /// Through `record_debug`, with a `Debug` that prints the text raw.
    Debug(String),
    /// Through `record_error` (a field not named `error`), printed raw by `Display`.
    Error(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl FieldValue {
    fn expected(&self) -> Value {
        match self {
            FieldValue::Str(s) | FieldValue::Debug(s) | FieldValue::Error(s) => Value::String(s.clone()),
            FieldValue::I64(v) => Value::from(*v),
            FieldValue::U64(v) => Value::from(*v),
            FieldValue::F64(v) if v.is_finite() => Value::from(*v),
            FieldValue::F64(_) => Value::Null,
            FieldValue::Bool(v) => Value::Bool(*v),
        }
    }

    fn len(&self) -> usize {
        match self {
            FieldValue::Str(s) | FieldValue::Debug(s) | FieldValue::Error(s) => s.len(),
            _ => 8,
        }
    }
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        4 => text().prop_map(FieldValue::Str),
        2 => text().prop_map(FieldValue::Debug),
        1 => text().prop_map(FieldValue::Error),
        1 => any::<i64>().prop_map(FieldValue::I64),
        1 => any::<u64>().prop_map(FieldValue::U64),
        1 => any::<f64>().prop_map(FieldValue::F64),
        1 => any::<bool>().prop_map(FieldValue::Bool),
    ]
}

struct Raw<'a>(&'a str);

impl fmt::Debug for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An error whose `Display` is the text, raw.
#[derive(Debug)]
struct OwnedError(String);

impl fmt::Display for OwnedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for OwnedError {}

/// A callsite built at run time, so that names and target can be anything.
struct DynCallsite(OnceLock<Metadata<'static>>);

impl Callsite for DynCallsite {
    fn set_interest(&self, _: Interest) {}
    fn metadata(&self) -> &Metadata<'_> {
        self.0.get().expect("set before registration")
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn event_site(target: &str, names: &[String]) -> &'static Metadata<'static> {
    let names: &'static [&'static str] =
        Box::leak(names.iter().map(|n| leak(n)).collect::<Vec<_>>().into_boxed_slice());
    let site: &'static DynCallsite = Box::leak(Box::new(DynCallsite(OnceLock::new())));
    let meta = Metadata::new(
        "fuzz event",
        leak(target),
        Level::INFO,
        Some(file!()),
        Some(line!()),
        Some(module_path!()),
        FieldSet::new(names, Identifier(site)),
        Kind::EVENT,
    );
    let _ = site.0.set(meta);
    // Not registered: `Event::dispatch` asks for no interest, and registering one callsite
    // a case would make every new dispatcher walk all of them (quadratic in the cases).
    site.0.get().unwrap()
}

#[derive(Debug, Clone)]
struct Case {
    service: String,
    target: String,
    message: String,
    span_value: String,
    fields: Vec<(String, FieldValue)>,
}

fn case() -> impl Strategy<Value = Case> {
    (text(), name(), text(), text(), prop::collection::vec((name(), field_value()), 4..=4)).prop_map(
        |(service, target, message, span_value, mut fields)| {
            // Distinct names, none of the line's own keys.
            for (i, (name, _)) in fields.iter_mut().enumerate() {
                if RESERVED.contains(&name.as_str()) {
                    name.push('_');
                }
                name.push_str(&format!("#{i}"));
            }
            Case { service, target, message, span_value, fields }
        },
    )
}

fn run_case(case: &Case, tally: &mut Tally) -> Result<(), TestCaseError> {
    let mut names = vec!["message".to_owned()];
    names.extend(case.fields.iter().map(|(n, _)| n.clone()));
    let meta = event_site(&case.target, &names);
    let logs = MemoryWriter::new();
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new(case.service.as_str(), logs.clone()));
    let input = case.service.len()
        + case.target.len()
        + case.message.len()
        + case.span_value.len()
        + case.fields.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
    let peak = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("fuzz span", span_value = tracing::field::Empty);
        span.record("span_value", case.span_value.as_str());
        let _entered = span.enter();
        let fields: Vec<Field> = meta.fields().iter().collect();
        let message = Raw(&case.message);
        let errors: Vec<Option<Box<dyn Error + 'static>>> = case
            .fields
            .iter()
            .map(|(_, v)| match v {
                FieldValue::Error(s) => Some(Box::new(OwnedError(s.clone())) as Box<dyn Error + 'static>),
                _ => None,
            })
            .collect();
        let holders: Vec<Box<dyn tracing::Value + '_>> = case
            .fields
            .iter()
            .zip(&errors)
            .map(|((_, v), error)| -> Box<dyn tracing::Value + '_> {
                match (v, error) {
                    (_, Some(e)) => Box::new(&**e),
                    (FieldValue::Str(s), _) => Box::new(s.as_str()),
                    (FieldValue::Debug(s), _) => Box::new(tracing::field::debug(Raw(s))),
                    (FieldValue::I64(v), _) => Box::new(*v),
                    (FieldValue::U64(v), _) => Box::new(*v),
                    (FieldValue::F64(v), _) => Box::new(*v),
                    (FieldValue::Bool(v), _) => Box::new(*v),
                    (FieldValue::Error(_), None) => unreachable!("every error value has its error"),
                }
            })
            .collect();
        let message = tracing::field::debug(message);
        let values = [
            (&fields[0], Some(&message as &dyn tracing::Value)),
            (&fields[1], Some(&*holders[0])),
            (&fields[2], Some(&*holders[1])),
            (&fields[3], Some(&*holders[2])),
            (&fields[4], Some(&*holders[3])),
        ];
        let value_set = meta.fields().value_set(&values);
        let base = reset_peak();
        Event::dispatch(meta, &value_set);
        peak_above(base)
    });
    tally.add(input, peak);

    let text = logs.text();
    prop_assert!(text.ends_with('\n'), "the line ends with a newline");
    prop_assert_eq!(text.matches('\n').count(), 1, "one event, one line: {:?}", text);
    let line: Value = serde_json::from_str(text.trim_end_matches('\n'))
        .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text:?}")))?;
    prop_assert_eq!(&line["service"], &Value::String(case.service.clone()));
    prop_assert_eq!(&line["target"], &Value::String(case.target.clone()));
    prop_assert_eq!(&line["message"], &Value::String(case.message.clone()));
    prop_assert_eq!(&line["span_value"], &Value::String(case.span_value.clone()));
    for (name, value) in &case.fields {
        let got = &line[name.as_str()];
        match value {
            // Rust prints a float without an exponent, which a JSON reader may read back as an integer,
            // and serde_json (without `float_roundtrip`) may read it one unit in the last place off.
            FieldValue::F64(v) if v.is_finite() => {
                let read = got
                    .as_f64()
                    .ok_or_else(|| TestCaseError::fail(format!("field {name:?}: {got} is not a number")))?;
                prop_assert!(
                    read == *v || (read.to_bits() as i64).abs_diff(v.to_bits() as i64) <= 2,
                    "field {:?}: wrote {}, read {}",
                    name,
                    v,
                    read
                );
            }
            _ => prop_assert_eq!(got, &value.expected(), "field {:?}", name),
        }
    }
    Ok(())
}

#[test]
fn every_line_parses_and_round_trips_every_value() {
    let mut runner = TestRunner::new(Config { cases: cases(150), failure_persistence: None, ..Config::default() });
    let tally = RefCell::new(Tally::default());
    let start = Instant::now();
    let result = runner.run(&case(), |case| run_case(&case, &mut tally.borrow_mut()));
    tally.borrow().report("json log escaping", start.elapsed());
    if let Err(e) = result {
        panic!("{e}");
    }
}
