//! Structured JSON log lines carrying `trace_id` and `span_id`.
//!
//! [`init`](crate::init) installs [`JsonLayer`] with an `EnvFilter` (from
//! `RUST_LOG`, else the builder's filter, else `info`). Every line is one JSON
//! object: `timestamp`, `level`, `target`, `service`, `message`, `trace_id`,
//! `span_id`, `span`, the event's fields (an `error` object with `kind`,
//! `message` and `chain` on failures), the fields of the event's span and,
//! of the spans around it, those that identify the context (ids, run id,
//! route). [`LogFormat::Auto`] writes compact lines instead at a terminal.
//! A failure is one ERROR line: the units it propagates through refer to it
//! at WARN (`cause`).

pub(crate) mod cause;
mod compact;
pub(crate) mod count;
pub(crate) mod format;
mod ids;
mod json;
// Changed through `/obs/log-level`, so read only with the `http` feature.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) mod level;
mod memory;
mod store;
// The writer thread is a `Worker`, compiled with any feature (without one, stdout is written directly).
#[cfg(any(feature = "http", feature = "health", feature = "otlp", feature = "prometheus"))]
pub(crate) mod nonblocking;
pub mod redact;

pub(crate) use compact::CompactLayer;
#[cfg(feature = "otlp")]
pub(crate) use ids::SpanIds;
pub use json::JsonLayer;
#[cfg(feature = "otlp")]
pub(crate) use json::JsonValue;
#[cfg(feature = "otlp")]
pub(crate) use json::with_log_ids;
pub use memory::MemoryWriter;
#[cfg(feature = "otlp")]
pub(crate) use store::with_span;
pub(crate) use store::{Store, exporter_fields_read};

#[cfg(feature = "http")]
pub(crate) use format::write_rfc3339;
pub(crate) use ids::random_u64;

/// How log lines are written. `OBS_LOG_FORMAT=json|pretty|compact|off` overrides the builder's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// The default: [`Compact`](LogFormat::Compact), coloured, when obs writes
    /// to stdout and stdout is a terminal (someone typed `cargo run`); JSON
    /// otherwise (a pipe, a file, a container's log driver, a writer given to
    /// [`Builder::log_writer`](crate::Builder::log_writer)).
    #[default]
    Auto,
    /// One JSON object per line: what Loki, Elasticsearch and log shippers want.
    Json,
    /// One short line per event: time, level, event, the function or node, duration, error, a short trace id.
    Compact,
    /// Multi-line, human-readable output from `tracing-subscriber`'s pretty formatter.
    Pretty,
    /// No log output (spans and metrics still work).
    Off,
}

impl LogFormat {
    /// The format to write with: `OBS_LOG_FORMAT` when set (an invalid value is
    /// warned about and ignored), else this one, with `Auto` decided by where
    /// lines go. Returns the format and whether to colour it.
    pub(crate) fn resolve(self, to_stdout: bool) -> (LogFormat, bool) {
        let forced = crate::env::env_var("OBS_LOG_FORMAT").and_then(|value| {
            let format = match value.trim().to_ascii_lowercase().as_str() {
                "json" => LogFormat::Json,
                "compact" => LogFormat::Compact,
                "pretty" => LogFormat::Pretty,
                "off" | "none" => LogFormat::Off,
                "auto" => LogFormat::Auto,
                _ => {
                    crate::env::warn_env(
                        "OBS_LOG_FORMAT",
                        "expected json, pretty, compact or off",
                        "the builder's format",
                    );
                    return None;
                }
            };
            Some(format)
        });
        let terminal = to_stdout && std::io::IsTerminal::is_terminal(&std::io::stdout());
        match forced.unwrap_or(self) {
            LogFormat::Auto if terminal => (LogFormat::Compact, true),
            LogFormat::Auto => (LogFormat::Json, false),
            // Colour codes only into a terminal, never into a pipe or a file.
            other => (other, terminal),
        }
    }
}
