//! The spans a capture saw: a small layer keeping each span's name, parent and
//! fields (as JSON values), in the order they were opened.

use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// One span opened inside a capture.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// The span's name: `module::function` for `#[observe]`, or its `name = "..."`.
    pub name: &'static str,
    /// The span's target (the module it was opened in).
    pub target: &'static str,
    /// The index (in [`Captured::spans`](super::Captured::spans)) of the parent span, if it was opened inside the capture.
    pub parent: Option<usize>,
    /// Every field recorded on the span, the last value of each: arguments,
    /// `fields(...)`, `run_id`, `attempt`, `error.type`, ...
    pub fields: Map<String, Value>,
}

impl SpanRecord {
    /// Whether the span is `name`, given whole (`shop::checkout`) or as its last segment (`checkout`).
    pub fn is(&self, name: &str) -> bool {
        self.name == name || self.name.rsplit("::").next() == Some(name)
    }
}

#[derive(Clone, Default)]
pub(crate) struct SpanLog(pub Arc<Mutex<Vec<SpanRecord>>>);

impl SpanLog {
    fn with<R>(&self, f: impl FnOnce(&mut Vec<SpanRecord>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where a span's record is, kept in the span's extensions.
struct Index(usize);

impl<S> Layer<S> for SpanLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent().and_then(|parent| parent.extensions().get::<Index>().map(|i| i.0));
        let mut fields = Map::new();
        attrs.record(&mut Fields(&mut fields));
        let meta = span.metadata();
        let index = self.with(|spans| {
            spans.push(SpanRecord { name: meta.name(), target: meta.target(), parent, fields });
            spans.len() - 1
        });
        span.extensions_mut().insert(Index(index));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(index) = span.extensions().get::<Index>().map(|i| i.0) else { return };
        self.with(|spans| {
            if let Some(record) = spans.get_mut(index) {
                values.record(&mut Fields(&mut record.fields));
            }
        });
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
}
