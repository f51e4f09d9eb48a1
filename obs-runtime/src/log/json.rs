//! A purpose-built JSON event writer: one object per line, written straight
//! into a reused buffer, carrying the trace and span ids of the current span
//! and the fields of every span in scope.

use std::cell::RefCell;
use std::error::Error;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::format::{write_hex, write_json_str, write_timestamp};
use super::ids::SpanIds;

/// Span fields that are for span exporters, not for log lines.
fn is_exporter_field(name: &str) -> bool {
    name.starts_with("code.") || name.starts_with("otel.") || name.starts_with("error.") || name == "obs.outcome"
}

/// What the layer keeps per span: its ids and its recorded fields.
pub(crate) struct SpanData {
    pub ids: SpanIds,
    fields: SpanFields,
    /// Whether `ids` were replaced by the OpenTelemetry ids of the span (or found to have none).
    #[cfg(feature = "otlp")]
    otel_checked: bool,
}

impl SpanData {
    /// The data of a new span with `attrs`, in the trace of its parent (a new trace without one).
    pub(crate) fn new(parent_trace_id: Option<u128>, attrs: &Attributes<'_>) -> SpanData {
        let mut data = SpanData {
            ids: SpanIds::new_child_of(parent_trace_id),
            fields: SpanFields::new(),
            #[cfg(feature = "otlp")]
            otel_checked: false,
        };
        attrs.record(&mut SpanVisitor(&mut data.fields));
        data
    }

    /// Starts over as the data of a new span, keeping the allocations of the span that had the slot.
    pub(crate) fn reuse(&mut self, parent_trace_id: Option<u128>, attrs: &Attributes<'_>) {
        self.ids = SpanIds::new_child_of(parent_trace_id);
        self.fields.clear();
        #[cfg(feature = "otlp")]
        {
            self.otel_checked = false;
        }
        attrs.record(&mut SpanVisitor(&mut self.fields));
    }

    /// Records values given to the span after its creation.
    pub(crate) fn record(&mut self, values: &Record<'_>) {
        values.record(&mut SpanVisitor(&mut self.fields));
    }

    /// The field `key` as JSON (a string keeps its quotes).
    pub(crate) fn field(&self, key: &str) -> Option<JsonValue<'_>> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// The spans around an event, as its line reads them: wherever they are kept
/// (tracing-subscriber's registry, or obs's own store, `store.rs`).
pub(crate) trait Scope {
    /// The name of the event's span.
    fn name(&self) -> &'static str;
    /// Calls `f` with the data of the event's span (depth 0) and of each span
    /// around it, innermost first; a span without data is skipped (its depth is not).
    fn visit(&self, f: &mut dyn FnMut(usize, &SpanData));
}

impl<'a, S> Scope for tracing_subscriber::registry::SpanRef<'a, S>
where
    S: for<'l> LookupSpan<'l>,
{
    fn name(&self) -> &'static str {
        tracing_subscriber::registry::SpanRef::name(self)
    }

    fn visit(&self, f: &mut dyn FnMut(usize, &SpanData)) {
        for (depth, span) in self.scope().enumerate() {
            if let Some(data) = span.extensions().get::<SpanData>() {
                f(depth, data);
            }
        }
    }
}

/// Whether an enclosing span's field `key` identifies the context an event
/// happened in (ids, the run, the route), and so is repeated on every line
/// inside it. The innermost span's fields are all written; an enclosing span's
/// other fields (its arguments: a whole order struct, the request headers) are
/// on its own lines, and on every line only with [`JsonLayer::with_all_span_fields`].
fn identifies(key: &str) -> bool {
    key == "id"
        || key.ends_with("_id")
        || key.ends_with(".id")
        || matches!(key, "workflow" | "node" | "attempt" | "http.route" | "http.request.method")
}

/// A `tracing_subscriber` layer writing the obs JSON log line format.
///
/// [`init`](crate::init) installs it; add it to your own registry when you
/// build the subscriber yourself. Built this way, it writes each line on the
/// thread that logs, through `make_writer` as given (a stalled destination
/// stalls the caller): `init` alone puts a bounded buffer and a writer thread
/// in front of stdout. Wrap a destination that may stall in a non-blocking
/// writer of your own.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(obs_runtime::log::JsonLayer::new("my-service", std::io::stdout));
/// ```
pub struct JsonLayer<W> {
    make_writer: W,
    service: Arc<str>,
    /// The subscriber this layer is part of, to look up OpenTelemetry ids. Not
    /// `tracing::dispatcher::get_default`: inside a layer callback that returns
    /// the no-op dispatcher whenever a scoped dispatcher exists anywhere.
    #[cfg(feature = "otlp")]
    dispatch: std::sync::OnceLock<tracing::dispatcher::WeakDispatch>,
    /// Whether lines are written (not when the layer only feeds OTLP log export,
    /// or keeps span ids for the compact format).
    lines: bool,
    /// Whether every field of every enclosing span is written, not only the innermost's and those that identify.
    all_span_fields: bool,
    /// OTLP log export, when on.
    #[cfg(feature = "otlp")]
    logs: Option<crate::export::otlp::LogSink>,
}

impl<W> JsonLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// A layer writing lines for `service` to `make_writer` (`std::io::stdout`, a file, a test buffer).
    pub fn new(service: impl Into<Arc<str>>, make_writer: W) -> Self {
        JsonLayer {
            make_writer,
            service: service.into(),
            #[cfg(feature = "otlp")]
            dispatch: std::sync::OnceLock::new(),
            lines: true,
            all_span_fields: false,
            #[cfg(feature = "otlp")]
            logs: None,
        }
    }

    /// Writes every field of every span in scope on each line, as obs did
    /// before lines were kept short (by default an enclosing span contributes
    /// only the fields that identify the context: `*_id`, `run_id`, `workflow`,
    /// `node`, `attempt`, `http.route`, `http.request.method`).
    pub fn with_all_span_fields(mut self, all: bool) -> Self {
        self.all_span_fields = all;
        self
    }

    /// Keeps span ids (and feeds OTLP log export) without writing lines: the
    /// compact format reads the ids it keeps.
    pub(crate) fn without_lines(mut self) -> Self {
        self.lines = false;
        self
    }

    /// Also sends every event as an OTLP log record; with `lines` false, only that.
    #[cfg(feature = "otlp")]
    pub(crate) fn with_otlp_logs(mut self, sink: crate::export::otlp::LogSink, lines: bool) -> Self {
        self.logs = Some(sink);
        self.lines = lines;
        self
    }
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    #[cfg(feature = "otlp")]
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let trace_id = span.parent().and_then(|parent| parent.extensions().get::<SpanData>().map(|d| d.ids.trace_id));
        span.extensions_mut().insert(SpanData::new(trace_id, attrs));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(data) = span.extensions_mut().get_mut::<SpanData>() {
            data.record(values);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        #[cfg(feature = "otlp")]
        if let Some(span) = ctx.event_span(event)
            && let Some(dispatch) = self.dispatch.get().and_then(|d| d.upgrade())
        {
            adopt_otel_ids(&span, &dispatch);
        }
        if self.lines {
            let span = ctx.event_span(event);
            self.write_line(event, span.as_ref().map(|span| span as &dyn Scope));
        }
        #[cfg(feature = "otlp")]
        if let Some(logs) = &self.logs {
            export_log(logs, event, &ctx);
        }
    }
}

/// Hands `event` to OTLP log export with the ids and fields its JSON line would carry.
#[cfg(feature = "otlp")]
fn export_log<S>(logs: &crate::export::otlp::LogSink, event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.event_span(event) else {
        logs.emit(event, None, std::iter::empty());
        return;
    };
    let scope: Vec<_> = span.scope().collect();
    let extensions: Vec<_> = scope.iter().map(|s| s.extensions()).collect();
    let ids = extensions.first().and_then(|e| e.get::<SpanData>()).map(|d| d.ids);
    let fields = extensions
        .iter()
        .filter_map(|e| e.get::<SpanData>())
        .flat_map(|d| d.fields.iter().map(|(key, value)| (key as &str, value)));
    logs.emit(event, ids.map(|ids| (span.name(), ids)), fields);
}

impl<W> JsonLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// Writes the line of `event`, inside the spans of `scope`.
    pub(crate) fn write_line(&self, event: &Event<'_>, scope: Option<&dyn Scope>) {
        with_line_buffer(|line| {
            self.format(event, scope, line);
            let mut writer = self.make_writer.make_writer_for(event.metadata());
            let _ = writer.write_all(line.as_bytes());
        });
    }
}

impl<W> JsonLayer<W> {
    fn format(&self, event: &Event<'_>, scope: Option<&dyn Scope>, out: &mut String) {
        let meta = event.metadata();
        out.push_str("{\"timestamp\":\"");
        write_timestamp(out);
        out.push_str("\",\"level\":\"");
        out.push_str(meta.level().as_str());
        out.push_str("\",\"target\":");
        write_json_str(out, meta.target());
        out.push_str(",\"service\":");
        write_json_str(out, &self.service);

        // Keys already in the line; a span field with one of these names is left out.
        let mut keys: Vec<&str> = Vec::with_capacity(16);
        keys.extend(["timestamp", "level", "target", "service", "trace_id", "span_id", "span", "error"]);
        let mut visitor = EventVisitor { out, keys: &mut keys, error_kind: None, error: None };
        event.record(&mut visitor);
        visitor.finish_error();

        if let Some(scope) = scope {
            let mut named = false;
            let name = |out: &mut String| {
                out.push_str(",\"span\":");
                write_json_str(out, scope.name());
            };
            // Innermost span first, so the closest value of a repeated key wins;
            // enclosing spans add only what identifies the context (`identifies`).
            scope.visit(&mut |depth, data| {
                if !named {
                    if depth == 0 {
                        out.push_str(",\"trace_id\":\"");
                        write_hex(out, data.ids.trace_id, 32);
                        out.push_str("\",\"span_id\":\"");
                        write_hex(out, data.ids.span_id.into(), 16);
                        out.push('"');
                    }
                    name(out);
                    named = true;
                }
                for (key, value) in data.fields.iter() {
                    if keys.contains(&key) || (depth > 0 && !self.all_span_fields && !identifies(key)) {
                        continue;
                    }
                    keys.push(key);
                    out.push(',');
                    write_json_str(out, key);
                    out.push(':');
                    value.write_to(out);
                }
            });
            if !named {
                name(out);
            }
        }
        out.push_str("}\n");
    }
}

/// When an OpenTelemetry layer tracks the span (OTLP export is on), log lines
/// carry its trace and span ids, so that they match the exported spans. Looked
/// up once per span, at its first event.
#[cfg(feature = "otlp")]
fn adopt_otel_ids<S>(span: &tracing_subscriber::registry::SpanRef<'_, S>, dispatch: &tracing::Dispatch)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let checked = span.extensions().get::<SpanData>().is_none_or(|d| d.otel_checked);
    if checked {
        return;
    }
    // No extension guard may be held here: the lookup locks the span's extensions.
    let ids = crate::export::otlp::span_ids(&span.id(), dispatch);
    if let Some(data) = span.extensions_mut().get_mut::<SpanData>() {
        data.otel_checked = true;
        if let Some(ids) = ids {
            data.ids = ids;
        }
    }
}

/// Reads or changes the log ids [`JsonLayer`] keeps for `span`, when the
/// subscriber is built on tracing-subscriber's registry and has the layer.
/// This is how a remote parent reaches log lines when no OpenTelemetry layer
/// is installed (propagation without export).
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) fn with_log_ids<R>(span: &tracing::Span, f: impl FnOnce(&mut SpanIds) -> R) -> Option<R> {
    super::store::with_span(span, |span| span.with_mut::<SpanData, _>(|data| f(&mut data.ids))).flatten()
}

/// Fields whose name and value are kept inline, without a list allocated.
const INLINE_FIELDS: usize = 4;

/// How a recorded field is kept: a number or a boolean as it is, rendered
/// only when a line is written; anything else (a string, a `Debug` value,
/// which are borrowed only while recorded) as JSON text in [`SpanFields::text`].
#[derive(Clone, Copy)]
enum Stored {
    /// Start and end in `text`.
    Text(u32, u32),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
}

/// One span field's value, as the JSON of a line writes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum JsonValue<'a> {
    /// Already JSON (a string keeps its quotes).
    Text(&'a str),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
}

impl JsonValue<'_> {
    /// Appends the value as JSON.
    pub(crate) fn write_to(self, out: &mut String) {
        match self {
            JsonValue::Text(text) => out.push_str(text),
            JsonValue::U64(value) => write_number(out, value),
            JsonValue::I64(value) => write_number(out, value),
            JsonValue::F64(value) => write_f64(out, value),
            JsonValue::Bool(value) => out.push_str(if value { "true" } else { "false" }),
        }
    }
}

impl fmt::Display for JsonValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_to(&mut out);
        f.write_str(&out)
    }
}

/// A span's recorded fields. A span is created on every call and most are
/// never logged in, so recording costs as little as it can: numbers and
/// booleans (most arguments) are kept as they are and rendered when a line is
/// written; other values are rendered as JSON into one string (one allocation
/// for the span, none when it has no such field).
struct SpanFields {
    text: String,
    /// Name and value of the first fields; the rest in `more`.
    inline: [(&'static str, Stored); INLINE_FIELDS],
    len: usize,
    more: Vec<(&'static str, Stored)>,
}

impl SpanFields {
    fn new() -> SpanFields {
        SpanFields { text: String::new(), inline: [("", Stored::Bool(false)); INLINE_FIELDS], len: 0, more: Vec::new() }
    }

    /// No fields, keeping the allocations.
    fn clear(&mut self) {
        self.text.clear();
        self.len = 0;
        self.more.clear();
    }

    fn slots(&self) -> impl Iterator<Item = &(&'static str, Stored)> {
        self.inline[..self.len.min(INLINE_FIELDS)].iter().chain(&self.more)
    }

    /// Each field's name and JSON value, in the order first recorded.
    fn iter(&self) -> impl Iterator<Item = (&'static str, JsonValue<'_>)> {
        self.slots().map(|&(name, stored)| (name, self.value(stored)))
    }

    fn value(&self, stored: Stored) -> JsonValue<'_> {
        match stored {
            // A range `put` wrote, so always in bounds; `null` rather than a panic if it were not.
            Stored::Text(start, end) => JsonValue::Text(self.text.get(start as usize..end as usize).unwrap_or("null")),
            Stored::U64(value) => JsonValue::U64(value),
            Stored::I64(value) => JsonValue::I64(value),
            Stored::F64(value) => JsonValue::F64(value),
            Stored::Bool(value) => JsonValue::Bool(value),
        }
    }

    /// Keeps a value of `name`, replacing one recorded before (whose text stays, unused: rare).
    fn put(&mut self, name: &'static str, stored: Stored) {
        let slot = (name, stored);
        let (inline, more) = (&mut self.inline[..self.len.min(INLINE_FIELDS)], &mut self.more);
        if let Some(old) = inline.iter_mut().chain(more.iter_mut()).find(|(k, _)| *k == name) {
            *old = slot;
        } else if self.len < INLINE_FIELDS {
            self.inline[self.len] = slot;
            self.len += 1;
        } else {
            self.more.push(slot);
            self.len += 1;
        }
    }

    /// Renders a value of `name` as JSON text.
    fn put_text(&mut self, name: &'static str, render: impl FnOnce(&mut String)) {
        let start = self.text.len();
        render(&mut self.text);
        // Past 4 GiB of one span's fields the value is written as `null`, never out of bounds.
        let offset = |at: usize| u32::try_from(at).unwrap_or(u32::MAX);
        self.put(name, Stored::Text(offset(start), offset(self.text.len())));
    }
}

/// Runs `write` on this thread's reused, cleared line buffer; on a fresh one when
/// that is taken (an event logged while another is formatted) or already gone
/// (an event logged while the thread exits). One huge line does not cost its
/// size for the life of the thread.
pub(crate) fn with_line_buffer(mut write: impl FnMut(&mut String)) {
    /// What the reused buffer keeps after a longer line (most lines are under 1 KiB).
    const RETAINED_LINE_BYTES: usize = 16 * 1024;
    thread_local! {
        static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
    }
    let mut run = |line: &mut String| {
        line.clear();
        write(line);
        if line.capacity() > RETAINED_LINE_BYTES {
            line.clear();
            line.shrink_to(RETAINED_LINE_BYTES);
        }
    };
    let reused = BUFFER.try_with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut line) => {
            run(&mut line);
            true
        }
        Err(_) => false,
    });
    if reused != Ok(true) {
        run(&mut String::new());
    }
}

/// Records span fields (a value recorded twice replaces the first), leaving out those for span exporters.
struct SpanVisitor<'a>(&'a mut SpanFields);

impl SpanVisitor<'_> {
    fn put(&mut self, field: &Field, stored: Stored) {
        if !is_exporter_field(field.name()) {
            self.0.put(field.name(), stored);
        }
    }

    fn put_text(&mut self, field: &Field, render: impl FnOnce(&mut String)) {
        if !is_exporter_field(field.name()) {
            self.0.put_text(field.name(), render);
        }
    }
}

impl Visit for SpanVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put_text(field, |out| write_json_debug(out, value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put_text(field, |out| write_json_str(out, value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Stored::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Stored::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Stored::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Stored::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.put_text(field, |out| write_json_display(out, value));
    }
}

/// Writes event fields straight into the line; `error.kind` and `error` are
/// gathered into one `"error": {"kind", "message", "chain"}` object.
struct EventVisitor<'a> {
    out: &'a mut String,
    keys: &'a mut Vec<&'static str>,
    error_kind: Option<String>,
    error: Option<(String, Vec<String>)>,
}

impl EventVisitor<'_> {
    fn key(&mut self, field: &Field) {
        self.keys.push(field.name());
        self.out.push(',');
        write_json_str(self.out, field.name());
        self.out.push(':');
    }

    fn finish_error(&mut self) {
        if self.error_kind.is_none() && self.error.is_none() {
            return;
        }
        self.out.push_str(",\"error\":{");
        let mut first = true;
        if let Some(kind) = &self.error_kind {
            self.out.push_str("\"kind\":");
            write_json_str(self.out, kind);
            first = false;
        }
        if let Some((message, chain)) = &self.error {
            if !first {
                self.out.push(',');
            }
            self.out.push_str("\"message\":");
            write_json_text(self.out, message);
            if !chain.is_empty() {
                self.out.push_str(",\"chain\":[");
                for (i, cause) in chain.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    write_json_text(self.out, cause);
                }
                self.out.push(']');
            }
        }
        self.out.push('}');
    }
}

impl Visit for EventVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "error" => self.error = Some((format!("{value:?}"), Vec::new())),
            "error.kind" => self.error_kind = Some(format!("{value:?}")),
            _ => {
                self.key(field);
                write_json_debug(self.out, value);
            }
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "error" => self.error = Some((value.to_owned(), Vec::new())),
            "error.kind" => self.error_kind = Some(value.to_owned()),
            _ => {
                self.key(field);
                write_json_str(self.out, value);
            }
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        write_number(self.out, value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        write_number(self.out, value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        write_f64(self.out, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }
    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let mut chain = Vec::new();
        let mut source = value.source();
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        if field.name() == "error" {
            self.error = Some((value.to_string(), chain));
        } else {
            self.key(field);
            write_json_display(self.out, value);
        }
    }
}

/// A message as a JSON string, with the userinfo and query values of its URLs
/// replaced (error messages of HTTP and database clients often carry them).
fn write_json_text(out: &mut String, text: &str) {
    if super::redact::has_url_secrets(text) {
        write_json_str(out, &super::redact::RedactUrls(text).to_string());
    } else {
        write_json_str(out, text);
    }
}

fn write_number(out: &mut String, value: impl fmt::Display) {
    let _ = write!(out, "{value}");
}

fn write_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        let _ = write!(out, "{value}");
    } else {
        out.push_str("null");
    }
}

/// Formats `value` into a JSON string without an intermediate allocation.
fn write_json_debug(out: &mut String, value: &dyn fmt::Debug) {
    out.push('"');
    let _ = write!(Escaping(out), "{value:?}");
    out.push('"');
}

fn write_json_display(out: &mut String, value: &dyn fmt::Display) {
    out.push('"');
    let _ = write!(Escaping(out), "{value}");
    out.push('"');
}

struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        super::format::escape_into(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{JsonValue, SpanFields, Stored};

    #[test]
    fn span_fields_keep_order_replace_values_and_grow_past_the_inline_ones() {
        let mut fields = SpanFields::new();
        for (i, name) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
            fields.put(name, Stored::U64(i as u64));
        }
        fields.put_text("b", |out| out.push_str("\"again\""));
        fields.put("f", Stored::Bool(true));
        fields.put_text("g", |out| out.push_str("\"last\""));
        let all: Vec<_> = fields.iter().map(|(name, value)| (name, value.to_string())).collect();
        let expected =
            [("a", "0"), ("b", "\"again\""), ("c", "2"), ("d", "3"), ("e", "4"), ("f", "true"), ("g", "\"last\"")];
        assert_eq!(all, expected.map(|(name, value)| (name, value.to_owned())));
    }

    #[test]
    fn kept_numbers_are_written_as_json() {
        let written = |value: JsonValue<'_>| value.to_string();
        assert_eq!(written(JsonValue::I64(-7)), "-7");
        assert_eq!(written(JsonValue::U64(u64::MAX)), "18446744073709551615");
        assert_eq!(written(JsonValue::F64(1.5)), "1.5");
        assert_eq!(written(JsonValue::F64(f64::NAN)), "null");
        assert_eq!(written(JsonValue::Bool(false)), "false");
    }
}
