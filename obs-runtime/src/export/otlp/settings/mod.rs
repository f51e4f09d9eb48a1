//! What the builder and the standard `OTEL_*` variables say about span
//! export, resolved once in `init`. A mistake in code (the builder) is an
//! [`InitError::Config`]; a bad environment value is, as the OpenTelemetry
//! specification says, warned about (naming the variable, never the value)
//! and treated as unset, so the builder's setting or the default applies.
//!
//! How the specification's rules were read:
//! - an empty value is unset;
//! - booleans (`OTEL_SDK_DISABLED`): `true` in any case is true; `false` in
//!   any case, and anything else with a warning, is false;
//! - enum values (samplers, protocols, `OTEL_*_EXPORTER`) are case-insensitive;
//! - `OTEL_*_EXPORTER` is a list: `otlp` anywhere turns export on, otherwise
//!   `none` turns it off, and the members obs does not support (`console`,
//!   `zipkin`, ...) are warned about and skipped;
//! - a malformed `OTEL_RESOURCE_ATTRIBUTES` or `..._HEADERS` is discarded as
//!   a whole (the specification's rule for the resource), naming the
//!   malformed member by its position, never its text.

mod endpoint;
mod env;
mod headers;
mod metrics;
mod options;
mod redact;
mod resolved;
mod sampler;
mod tls;

pub(crate) use endpoint::Endpoint;
pub(crate) use env::Signal;
pub use metrics::Temporality;
pub(crate) use options::OtlpOptions;
pub use options::OtlpProtocol;
pub(crate) use redact::redact_url;
pub(crate) use resolved::{MetricExport, Settings};
pub use sampler::TraceSampler;
pub(crate) use tls::Tls;

#[cfg(test)]
mod tests;
