//! The compact log format: one short line per event for a person at a
//! terminal, `LogFormat::Compact` (and what `LogFormat::Auto` picks when stdout
//! is a terminal):
//!
//! ```text
//! 10:04:05.123 ERROR node.error      charge 12.3ms payment_declined: card declined  run=0192f3a4 trace=4bf92f35
//! 10:04:05.124 WARN  workflow.error  checkout 14.0ms payment_declined (logged by charge)  run=0192f3a4 trace=4bf92f35
//! 10:04:05.130 INFO  shop::cart: cart emptied items=3  trace=4bf92f35
//! ```
//!
//! Time (UTC, to the millisecond), level, then for obs's lifecycle events the
//! event, the function or node, the duration and the error; for other events
//! the target, message and fields. The trace id (its first 8 hex digits) and
//! the run id (its last 8, the random part of a UUID v7) are shortened: enough
//! to tell lines apart and find the trace, not to fill the screen.
//! Colours only when writing to a terminal. The ids come from the line-less
//! [`JsonLayer`](super::JsonLayer) installed before this layer, so they are the
//! same as JSON lines and exported spans would show.

use std::error::Error;
use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::format::{write_hex, write_timestamp};
use super::json::SpanData;

/// Writes the compact format to `make_writer`, with ANSI colours when `ansi`.
pub(crate) struct CompactLayer<W> {
    make_writer: W,
    ansi: bool,
}

impl<W> CompactLayer<W> {
    pub(crate) fn new(make_writer: W, ansi: bool) -> Self {
        CompactLayer { make_writer, ansi }
    }
}

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";

fn level_colour(level: Level) -> &'static str {
    match level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        Level::DEBUG => "\x1b[34m",
        Level::TRACE => "\x1b[35m",
    }
}

impl<S, W> Layer<S> for CompactLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        super::json::with_line_buffer(|line| {
            self.format(event, &ctx, line);
            let _ = self.make_writer.make_writer_for(event.metadata()).write_all(line.as_bytes());
        });
    }
}

impl<W> CompactLayer<W> {
    fn paint(&self, out: &mut String, style: &str, text: impl fmt::Display) {
        if self.ansi {
            let _ = write!(out, "{style}{text}{RESET}");
        } else {
            let _ = write!(out, "{text}");
        }
    }

    fn format<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>, out: &mut String)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        let mut stamp = String::with_capacity(27);
        write_timestamp(&mut stamp);
        self.paint(out, DIM, stamp.get(11..23).unwrap_or(&stamp));
        out.push(' ');
        self.paint(out, level_colour(*meta.level()), format_args!("{:<5}", meta.level().as_str()));
        out.push(' ');

        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = ctx.event_span(event);
        match &fields.event {
            Some(name) => {
                // An obs lifecycle event: the event, then the function or node (its span's last segment).
                self.paint(out, BOLD, format_args!("{name:<15}"));
                let unit = span.as_ref().map(|s| s.name()).unwrap_or(meta.target());
                out.push(' ');
                out.push_str(unit.rsplit("::").next().unwrap_or(unit));
                if let Some(ms) = fields.duration_ms {
                    let _ = write!(out, " {}", Millis(ms));
                }
                if let Some(attempt) = &fields.attempt {
                    let _ = write!(out, " attempt={attempt}");
                }
                match (&fields.kind, &fields.error) {
                    (Some(kind), Some(error)) => {
                        self.paint(out, level_colour(Level::ERROR), format_args!(" {kind}: {error}"))
                    }
                    (Some(kind), None) => self.paint(out, level_colour(Level::ERROR), format_args!(" {kind}")),
                    (None, Some(error)) => self.paint(out, level_colour(Level::ERROR), format_args!(" {error}")),
                    (None, None) => {}
                }
                if let Some(cause) = &fields.cause {
                    let _ = write!(out, " (logged by {cause})");
                }
            }
            None => {
                self.paint(out, DIM, format_args!("{}:", meta.target()));
                let _ = write!(out, " {}", fields.message.as_deref().unwrap_or(""));
                if let Some(error) = &fields.error {
                    let _ = write!(out, " error={error}");
                }
            }
        }
        for (key, value) in &fields.other {
            let _ = write!(out, " {key}={value}");
        }
        if let Some(span) = span {
            let mut ids = None;
            let mut run = None;
            for span in span.scope() {
                let extensions = span.extensions();
                let Some(data) = extensions.get::<SpanData>() else { continue };
                ids = ids.or(Some(data.ids));
                if run.is_none() {
                    run = data.field("run_id").map(|r| r.to_string().trim_matches('"').replace('-', ""));
                }
            }
            let mut tail = String::new();
            // The last 8 hex digits: a UUID v7 begins with its timestamp, shared by runs started together.
            if let Some(run) = run {
                let _ = write!(tail, " run={}", run.get(run.len().saturating_sub(8)..).unwrap_or(&run));
            }
            if let Some(ids) = ids {
                tail.push_str(" trace=");
                write_hex(&mut tail, ids.trace_id >> 96, 8);
            }
            if !tail.is_empty() {
                out.push(' ');
                self.paint(out, DIM, tail);
            }
        }
        out.push('\n');
    }
}

/// `12.3ms`, `1.20s`.
struct Millis(f64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1000.0 { write!(f, "{:.2}s", self.0 / 1000.0) } else { write!(f, "{:.1}ms", self.0) }
    }
}

/// The fields of one event, the lifecycle ones by name, the rest in order.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    event: Option<String>,
    duration_ms: Option<f64>,
    kind: Option<String>,
    error: Option<String>,
    attempt: Option<String>,
    cause: Option<String>,
    other: Vec<(&'static str, String)>,
}

impl Fields {
    fn put(&mut self, field: &Field, mut value: String) {
        // Error messages of HTTP and database clients often carry URLs with secrets.
        if field.name() == "error" && super::redact::has_url_secrets(&value) {
            value = super::redact::RedactUrls(&value).to_string();
        }
        let slot = match field.name() {
            "message" => &mut self.message,
            "event" => &mut self.event,
            "error.kind" => &mut self.kind,
            "error" => &mut self.error,
            "attempt" => &mut self.attempt,
            "cause" => &mut self.cause,
            name => {
                self.other.push((name, value));
                return;
            }
        };
        *slot = Some(value);
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "duration_ms" {
            self.duration_ms = Some(value);
        } else {
            self.put(field, value.to_string());
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.put(field, value.to_string());
    }
}
