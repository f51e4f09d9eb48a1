//! Structured JSON log lines carrying `trace_id` and `span_id`.
//!
//! [`init`](crate::init) installs [`JsonLayer`] with an `EnvFilter` (from
//! `RUST_LOG`, else the builder's filter, else `info`). Every line is one JSON
//! object: `timestamp`, `level`, `target`, `service`, `message`, `trace_id`,
//! `span_id`, `span`, the event's fields (an `error` object with `kind`,
//! `message` and `chain` on failures) and the fields of the spans in scope.

pub(crate) mod count;
pub(crate) mod format;
mod ids;
mod json;
// Changed through `/obs/log-level`, so read only with the `http` feature.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) mod level;
mod memory;
// The writer thread is a `Worker`, compiled with any feature (without one, stdout is written directly).
#[cfg(any(feature = "http", feature = "health", feature = "otlp", feature = "prometheus"))]
pub(crate) mod nonblocking;
pub mod redact;

#[cfg(feature = "otlp")]
pub(crate) use ids::SpanIds;
pub use json::JsonLayer;
#[cfg(feature = "otlp")]
pub(crate) use json::{with_log_ids, with_registry_span};
pub use memory::MemoryWriter;

#[cfg(feature = "http")]
pub(crate) use format::write_rfc3339;
pub(crate) use ids::random_u64;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// One JSON object per line (the default): what Loki, Elasticsearch and log shippers want.
    #[default]
    Json,
    /// Multi-line, human-readable output from `tracing-subscriber`'s pretty formatter.
    Pretty,
    /// No log output (spans and metrics still work).
    Off,
}
