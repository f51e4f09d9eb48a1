//! Log events as OTLP log records: the same events the JSON lines show, with
//! the same trace and span ids, sent through the log pipeline.
//!
//! A record carries the event's `message` as its body, its level as severity,
//! its target, the trace and span ids of the span it happened in, and as
//! attributes the event's fields and the fields of the spans in scope (the
//! innermost value wins, as in the JSON line). An `error` field becomes
//! `exception.message` (its source chain `exception.chain`), `error.kind`
//! becomes `exception.type`; the service name is on the resource.

use std::error::Error;
use std::fmt;
use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{Key, StringValue};
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger};
use tracing::Event;
use tracing::field::{Field, Visit};

use crate::log::{JsonValue, SpanIds};

/// Where the JSON layer hands log events for export.
pub(crate) struct LogSink {
    logger: SdkLogger,
}

impl LogSink {
    pub(crate) fn new(logger: SdkLogger) -> LogSink {
        LogSink { logger }
    }

    /// Sends `event` as a log record. `span` is the span it happened in: its
    /// name, ids, and the recorded fields of every span in scope, innermost first.
    pub(crate) fn emit<'a>(
        &self,
        event: &Event<'_>,
        span: Option<(&str, SpanIds)>,
        span_fields: impl Iterator<Item = (&'a str, JsonValue<'a>)>,
    ) {
        let meta = event.metadata();
        // The pipeline's own reports of failed exports would go the way that just failed.
        if meta.target().starts_with("obs_runtime::export") {
            return;
        }
        let mut record = self.logger.create_log_record();
        let now = SystemTime::now();
        record.set_timestamp(now);
        record.set_observed_timestamp(now);
        record.set_target(meta.target());
        record.set_severity_text(meta.level().as_str());
        record.set_severity_number(match *meta.level() {
            tracing::Level::TRACE => Severity::Trace,
            tracing::Level::DEBUG => Severity::Debug,
            tracing::Level::INFO => Severity::Info,
            tracing::Level::WARN => Severity::Warn,
            tracing::Level::ERROR => Severity::Error,
        });
        let mut fields = Fields { record: &mut record, keys: Vec::with_capacity(16) };
        event.record(&mut fields);
        if let Some((name, ids)) = span {
            fields.record.set_trace_context(
                TraceId::from_bytes(ids.trace_id.to_be_bytes()),
                SpanId::from_bytes(ids.span_id.to_be_bytes()),
                None,
            );
            fields.add("span", AnyValue::String(name.to_owned().into()));
            for (key, value) in span_fields {
                if let Some(value) = any_value(value) {
                    fields.add(key, value);
                }
            }
        }
        self.logger.emit(record);
    }
}

/// Event fields as attributes, each key once (the first value wins).
struct Fields<'r> {
    record: &'r mut SdkLogRecord,
    keys: Vec<String>,
}

impl Fields<'_> {
    fn add(&mut self, key: &str, value: AnyValue) {
        if self.keys.iter().any(|k| k == key) {
            return;
        }
        self.keys.push(key.to_owned());
        self.record.add_attribute(Key::new(key.to_owned()), value);
    }

    fn text(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" => self.record.set_body(AnyValue::String(text.into())),
            "error" => self.add("exception.message", AnyValue::String(text.into())),
            "error.kind" => self.add("exception.type", AnyValue::String(text.into())),
            name => self.add(name, AnyValue::String(text.into())),
        }
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_owned());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field.name(), AnyValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.add(field.name(), i64::try_from(value).map_or(AnyValue::Double(value as f64), AnyValue::Int));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field.name(), AnyValue::Double(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field.name(), AnyValue::Boolean(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.text(field, value.to_string());
        if field.name() == "error" {
            let mut chain = Vec::new();
            let mut source = value.source();
            while let Some(cause) = source {
                chain.push(AnyValue::String(StringValue::from(cause.to_string())));
                source = cause.source();
            }
            if !chain.is_empty() {
                self.add("exception.chain", AnyValue::ListAny(Box::new(chain)));
            }
        }
    }
}

/// A span field as the JSON layer keeps it (already rendered as a JSON value)
/// back to a typed attribute value. `None` for `null`.
/// A span field's value as an attribute value (`None` for JSON `null`).
fn any_value(value: JsonValue<'_>) -> Option<AnyValue> {
    match value {
        JsonValue::Text(text) => from_json(text),
        JsonValue::U64(value) => Some(i64::try_from(value).map_or(AnyValue::Double(value as f64), AnyValue::Int)),
        JsonValue::I64(value) => Some(AnyValue::Int(value)),
        JsonValue::F64(value) => value.is_finite().then_some(AnyValue::Double(value)),
        JsonValue::Bool(value) => Some(AnyValue::Boolean(value)),
    }
}

fn from_json(rendered: &str) -> Option<AnyValue> {
    match rendered {
        "null" => None,
        "true" => Some(AnyValue::Boolean(true)),
        "false" => Some(AnyValue::Boolean(false)),
        text if text.starts_with('"') => Some(AnyValue::String(unescape(&text[1..text.len() - 1]).into())),
        text => text
            .parse::<i64>()
            .map(AnyValue::Int)
            .or_else(|_| text.parse::<f64>().map(AnyValue::Double))
            .ok()
            .or_else(|| Some(AnyValue::String(text.to_owned().into()))),
    }
}

/// The inverse of the JSON writer's escaping (`\"`, `\\`, `\n`, `\r`, `\t`, `\u00XX`).
fn unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_span_fields_come_back_typed() {
        assert_eq!(from_json("42"), Some(AnyValue::Int(42)));
        assert_eq!(from_json("-1.5"), Some(AnyValue::Double(-1.5)));
        assert_eq!(from_json("true"), Some(AnyValue::Boolean(true)));
        assert_eq!(from_json("null"), None);
        assert_eq!(from_json(r#""a \"b\"\n\\ \u0001""#), Some(AnyValue::String("a \"b\"\n\\ \u{1}".into())));
    }

    #[test]
    fn what_the_json_writer_escapes_unescapes_to_the_original() {
        let original = "tab\there \"quoted\" back\\slash \u{7} é";
        let mut rendered = String::new();
        crate::log::format::write_json_str(&mut rendered, original);
        assert_eq!(from_json(&rendered), Some(AnyValue::String(original.to_owned().into())));
    }
}
