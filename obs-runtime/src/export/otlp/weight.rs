//! About how many bytes a span or log record holds, so that the export queue
//! and the tail buffer can be bounded by memory as well as by count: span
//! arguments and log fields can be any size, and 2,048 spans of 64 KB
//! arguments are 128 MB.

use std::mem::size_of;

use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{Event, Link, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// What an item weighs in memory, approximately (its own size and the text it owns).
pub(crate) trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for SpanData {
    fn weight(&self) -> usize {
        let events: usize =
            self.events.iter().map(|event| size_of::<Event>() + event.name.len() + attributes(&event.attributes)).sum();
        let links: usize = self.links.iter().map(|link| size_of::<Link>() + attributes(&link.attributes)).sum();
        let status = match &self.status {
            Status::Error { description } => description.len(),
            _ => 0,
        };
        size_of::<SpanData>() + self.name.len() + attributes(&self.attributes) + events + links + status
    }
}

impl Weigh for opentelemetry_sdk::logs::SdkLogRecord {
    fn weight(&self) -> usize {
        let fields: usize = self
            .attributes_iter()
            .map(|(key, value)| size_of::<(KeyValue, AnyValue)>() + key.as_str().len() + any(value))
            .sum();
        size_of::<Self>() + self.body().map_or(0, any) + fields
    }
}

fn attributes(attributes: &[KeyValue]) -> usize {
    attributes.iter().map(|kv| size_of::<KeyValue>() + kv.key.as_str().len() + value(&kv.value)).sum()
}

fn value(value: &Value) -> usize {
    match value {
        Value::String(text) => text.as_str().len(),
        Value::Array(Array::String(texts)) => texts.iter().map(|t| size_of::<Value>() + t.as_str().len()).sum(),
        Value::Array(Array::Bool(v)) => v.len(),
        Value::Array(Array::I64(v)) => v.len() * 8,
        Value::Array(Array::F64(v)) => v.len() * 8,
        _ => 0,
    }
}

fn any(value: &AnyValue) -> usize {
    match value {
        AnyValue::String(text) => text.as_str().len(),
        AnyValue::Bytes(bytes) => bytes.len(),
        AnyValue::ListAny(values) => values.iter().map(|v| size_of::<AnyValue>() + any(v)).sum(),
        AnyValue::Map(map) => map.iter().map(|(k, v)| size_of::<AnyValue>() + k.as_str().len() + any(v)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_span_weighs_its_text() {
        let small = test_span(Vec::new());
        let big = test_span(vec![KeyValue::new("order", "x".repeat(64 * 1024))]);
        assert!(small.weight() < 1024, "{}", small.weight());
        assert!(big.weight() > 64 * 1024 && big.weight() < 66 * 1024, "{}", big.weight());
    }

    /// A span with these attributes, for tests of what holds spans.
    pub(crate) fn test_span(attributes: Vec<KeyValue>) -> SpanData {
        SpanData {
            span_context: opentelemetry::trace::SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: opentelemetry::trace::SpanKind::Internal,
            name: "checkout".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes,
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }
}
