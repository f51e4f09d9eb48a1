//! The spans `#[observe]` opens, as any `tracing` subscriber sees them: names,
//! parents, OpenTelemetry `code.*` fields, arguments and the error fields.
//! No `init` here: spans work with the user's own subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use obs_runtime::observe;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, Default)]
struct SeenSpan {
    name: String,
    parent: Option<String>,
    fields: HashMap<String, String>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(u64, SeenSpan)>>>);

struct Fields<'a>(&'a mut HashMap<String, String>);
impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx.span(id).and_then(|s| s.parent()).map(|p| p.name().to_owned());
        let mut seen = SeenSpan { name: attrs.metadata().name().to_owned(), parent, fields: HashMap::new() };
        attrs.record(&mut Fields(&mut seen.fields));
        self.0.lock().unwrap().push((id.into_u64(), seen));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, seen)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }
}

impl Recorder {
    fn span(&self, name: &str) -> SeenSpan {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .rev()
            .find(|(_, s)| s.name == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no span {name}"))
    }
}

fn with_recorder<R>(f: impl FnOnce() -> R) -> (Recorder, R) {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let out = tracing::subscriber::with_default(subscriber, f);
    (recorder, out)
}

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
    let (spans, result) = with_recorder(|| parse_order("42", false));
    assert_eq!(result, Ok(42));
    let span = spans.span("spans::parse_order");
    assert_eq!(span.fields["code.function.name"], "parse_order");
    assert_eq!(span.fields["code.namespace"], "spans");
    assert!(span.fields["code.file.path"].ends_with("spans.rs"));
    assert!(span.fields["code.line.number"].parse::<u32>().unwrap() > 60);
    assert!(!span.fields.contains_key("code.filepath") && !span.fields.contains_key("code.lineno"));
    assert_eq!(span.fields["raw"], "42");
    assert_eq!(span.fields["strict"], "false");
    assert!(!span.fields.contains_key("error.type"));
}

#[test]
fn a_failed_call_records_the_error_on_its_span() {
    let (spans, result) = with_recorder(|| parse_order("x", true));
    assert!(result.is_err());
    let span = spans.span("spans::parse_order");
    assert_eq!(span.fields["error.type"], "ParseIntError");
    assert_eq!(span.fields["error.message"], "invalid digit found in string");
    assert_eq!(span.fields["otel.status_code"], "ERROR");
}

#[test]
fn nested_calls_form_a_span_tree() {
    let (spans, total) = with_recorder(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(load_orders(3))
    });
    assert_eq!(total, 3);
    let outer = spans.span("load");
    assert_eq!(outer.parent, None);
    assert_eq!(outer.fields["code.function.name"], "load");
    let inner = spans.span("spans::parse_order");
    assert_eq!(inner.parent.as_deref(), Some("load"));
}
