//! The global `tracing` subscriber `init` installs: the filter, the layers
//! the exporters contributed, and the chosen log layer, writing to stdout
//! through the log writer thread unless the builder was given a writer.

use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::export::seam::{Exporter, StartContext};
use crate::init_error::InitError;
use crate::log::count::EventCounts;
use crate::log::{CompactLayer, JsonLayer, LogFormat, Store};
use crate::metrics::LOG_DROPPED_TOTAL;

/// Where lines go: the builder's writer as given, else stdout through the
/// log writer thread (the returned exporter), else, when no thread can be
/// started, stdout directly. Lines are written either way, so the drop
/// counter is registered (at zero) either way.
fn writer(given: Option<BoxMakeWriter>, format: LogFormat) -> (BoxMakeWriter, Option<Box<dyn Exporter>>) {
    if format == LogFormat::Off {
        return (given.unwrap_or_else(|| BoxMakeWriter::new(std::io::sink)), None);
    }
    let dropped = metrics::counter!(LOG_DROPPED_TOTAL.name());
    if let Some(given) = given {
        return (given, None);
    }
    stdout(dropped)
}

/// Stdout through the log writer thread, which the guard owns like an
/// exporter: stopping it writes the pending lines, within its limit.
#[cfg(any(feature = "http", feature = "health", feature = "otlp", feature = "prometheus"))]
fn stdout(dropped: metrics::Counter) -> (BoxMakeWriter, Option<Box<dyn Exporter>>) {
    use std::time::{Duration, Instant};

    use crate::log::nonblocking::{self, NonBlocking, WriterThread};

    struct LogWriter(WriterThread);

    impl Exporter for LogWriter {
        fn shutdown_limit(&self) -> Duration {
            nonblocking::SHUTDOWN_LIMIT
        }

        fn shutdown(self: Box<Self>, deadline: Instant) {
            self.0.stop(deadline);
        }
    }

    match NonBlocking::stdout(dropped) {
        Ok((writer, thread)) => (BoxMakeWriter::new(writer), Some(Box::new(LogWriter(thread)))),
        Err(_) => (BoxMakeWriter::new(std::io::stdout), None),
    }
}

/// Without any feature obs runs no thread (nor a recorder to count drops): stdout directly.
#[cfg(not(any(feature = "http", feature = "health", feature = "otlp", feature = "prometheus")))]
fn stdout(_dropped: metrics::Counter) -> (BoxMakeWriter, Option<Box<dyn Exporter>>) {
    (BoxMakeWriter::new(std::io::stdout), None)
}

/// With no log lines and no span export nothing reads the spans of
/// instrumented functions, so this layer gives them no interest: their call
/// sites then skip the span altogether (its fields, the registry's slot,
/// entering it on each poll), and the call costs what it costs with no
/// subscriber. The application's own spans are left alone.
struct UnreadCallSpans;

impl<S: Subscriber> Layer<S> for UnreadCallSpans {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if crate::callsite::is_call_span(metadata) { Interest::never() } else { Interest::always() }
    }

    // Asked only when another dispatcher is interested in the call site.
    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        !crate::callsite::is_call_span(metadata)
    }
}

/// Installs the filter, the span layer of `cx` (the OpenTelemetry layer when
/// exporting; it must come before the log layer, which reads the ids it
/// assigns) and the chosen log layer, which also feeds OTLP log export when
/// `cx` has a log sink (a line-less [`JsonLayer`] does that for the other formats).
/// JSON lines with no export go on obs's own span store ([`Store`]) instead of
/// tracing-subscriber's registry.
/// Returns the log writer thread, for the guard to stop last.
pub(super) fn install(
    service: &str,
    filter: EnvFilter,
    (format, all_span_fields): (LogFormat, bool),
    writer: Option<BoxMakeWriter>,
    cx: &mut StartContext,
) -> Result<Option<Box<dyn Exporter>>, InitError> {
    // `Auto` and `OBS_LOG_FORMAT` decided here: compact and coloured only for stdout at a terminal.
    let (format, ansi) = format.resolve(writer.is_none());
    let (writer, thread) = self::writer(writer, format);
    #[cfg(feature = "otlp")]
    let (spans, logs) = (cx.span_layer.take(), cx.log_sink.take());
    #[cfg(feature = "otlp")]
    let exports_spans = spans.is_some();
    #[cfg(not(feature = "otlp"))]
    let (spans, exports_spans) = {
        let _ = cx;
        (tracing_subscriber::layer::Identity::new(), false)
    };
    // JSON lines and nothing else reading spans (the quick start's configuration):
    // obs's own span store, cheaper than the registry's extensions and layer stack.
    #[cfg(feature = "otlp")]
    let lines_only = !exports_spans && logs.is_none();
    #[cfg(not(feature = "otlp"))]
    let lines_only = true;
    if format == LogFormat::Json && lines_only {
        let lines = JsonLayer::new(service, writer).with_all_span_fields(all_span_fields);
        let store = Store::new(lines).with(crate::log::level::install(filter)).with(EventCounts::new());
        tracing::subscriber::set_global_default(store).map_err(|_| InitError::SubscriberAlreadySet)?;
        Store::installed();
        return Ok(thread);
    }
    let filter = crate::log::level::install(filter);
    let registry = tracing_subscriber::registry().with(filter).with(spans).with(EventCounts::new());
    // With JSON lines, the line layer feeds log export too; otherwise a line-less one does.
    #[cfg(feature = "otlp")]
    let (with_lines, export_only) = match logs {
        Some(sink) if format == LogFormat::Json => (Some(sink), None),
        Some(sink) => (None, Some(JsonLayer::new(service, std::io::sink as fn() -> _).with_otlp_logs(sink, false))),
        None => (None, None),
    };
    #[cfg(not(feature = "otlp"))]
    let export_only = None::<JsonLayer<fn() -> std::io::Sink>>;
    let result = match format {
        LogFormat::Json | LogFormat::Auto => {
            let layer = JsonLayer::new(service, writer).with_all_span_fields(all_span_fields);
            #[cfg(feature = "otlp")]
            let layer = match with_lines {
                Some(sink) => layer.with_otlp_logs(sink, true),
                None => layer,
            };
            tracing::subscriber::set_global_default(registry.with(layer))
        }
        // Not `.with(Option<JsonLayer>)`: an `Option` layer does not pass on
        // `on_register_dispatch`, which the layer needs to find OpenTelemetry ids.
        // The line-less JSON layer keeps the span ids the compact lines show, and feeds log export.
        LogFormat::Compact => {
            let ids = JsonLayer::new(service, std::io::sink as fn() -> _).without_lines();
            #[cfg(feature = "otlp")]
            let ids = match export_only {
                Some(layer) => layer,
                None => ids,
            };
            tracing::subscriber::set_global_default(registry.with(ids).with(CompactLayer::new(writer, ansi)))
        }
        // No target: obs's span names already start with their module (`shop::refund`, not
        // `shop::shop::refund`), and no colour codes unless writing to a terminal.
        LogFormat::Pretty => {
            let pretty = tracing_subscriber::fmt::layer().pretty().with_target(false).with_ansi(ansi);
            let registry = registry.with(pretty.with_writer(writer));
            match export_only {
                Some(layer) => tracing::subscriber::set_global_default(registry.with(layer)),
                None => tracing::subscriber::set_global_default(registry),
            }
        }
        LogFormat::Off => match export_only {
            Some(layer) => tracing::subscriber::set_global_default(registry.with(layer)),
            None if !exports_spans => tracing::subscriber::set_global_default(registry.with(UnreadCallSpans)),
            None => tracing::subscriber::set_global_default(registry),
        },
    };
    result.map_err(|_| InitError::SubscriberAlreadySet)?;
    Ok(thread)
}
