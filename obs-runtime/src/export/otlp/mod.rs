//! OTLP export: every `tracing` span (those of `#[observe]` included) becomes
//! an OpenTelemetry span, sent over OTLP/HTTP (protobuf) to
//! `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, or to
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or to the endpoint given with
//! [`Builder::otlp_endpoint`](crate::Builder::otlp_endpoint); over gRPC with
//! the `otlp-grpc` feature and `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (or
//! [`Builder::otlp_protocol`](crate::Builder::otlp_protocol)). On request
//! ([`Builder::otlp_logs`](crate::Builder::otlp_logs) or
//! `OTEL_LOGS_EXPORTER=otlp`) the log events go along as OTLP log records,
//! each with the trace and span id its JSON line shows. On request
//! ([`Builder::otlp_metrics`](crate::Builder::otlp_metrics) or
//! `OTEL_METRICS_EXPORTER=otlp`) the metrics go too: every family `/metrics`
//! shows, with its values and bucket bounds, every export interval.
//!
//! | variable | effect |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`, `..._TRACES_ENDPOINT`, `..._LOGS_ENDPOINT` | where data goes (export is off without an endpoint); over HTTP the general one gets `/v1/traces` or `/v1/logs` appended, over gRPC it is used as it is |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `..._TRACES_HEADERS`, `..._LOGS_HEADERS` | extra request headers (gRPC metadata), `k=v,k2=v2`, percent-encoded |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `..._TRACES_TIMEOUT`, `..._LOGS_TIMEOUT` | one export request's time limit, in ms (default 10000) |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `..._TRACES_PROTOCOL`, `..._LOGS_PROTOCOL` | `http/protobuf` (default) or `grpc` (feature `otlp-grpc`) |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE`, `..._TRACES_CERTIFICATE`, ... | PEM file of the CA certificates to trust for `https://` (default: the platform's roots) |
//! | `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_KEY` (and per signal) | PEM files of the client certificate and its key (mutual TLS) |
//! | `OTEL_EXPORTER_OTLP_INSECURE` (and per signal) | over gRPC, `true` sends to an endpoint without a scheme in plain text (default: TLS) |
//! | `OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER`, `OTEL_METRICS_EXPORTER` | `otlp` or `none`; spans are exported by default, log events and metrics only when asked |
//! | `OTEL_METRIC_EXPORT_INTERVAL` | ms between metric exports (default 60000) |
//! | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` | `cumulative` (default), `delta` or `lowmemory` (delta: obs's sums are counters) |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | head sampling (default `parentbased_always_on`) |
//! | `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME` | resource attributes of every span and log record |
//! | `OTEL_SDK_DISABLED=true` | no export |
//!
//! Values are read as the OpenTelemetry specification says: empty is unset,
//! enum values (samplers, protocols, exporters) in any case,
//! `OTEL_TRACES_EXPORTER` and `OTEL_LOGS_EXPORTER` as lists (`otlp,console`
//! exports with OTLP and warns about `console`). A bad value of any of them
//! is warned about once on stderr, naming the variable and what is used
//! instead but never the value, and ignored (the builder's setting or the
//! default applies), so a deployment typo never stops the application. The
//! same mistakes made in code ([`Builder`](crate::Builder) settings: a ratio
//! outside 0..=1, a header that is not valid HTTP, asking for gRPC in a build
//! without the `otlp-grpc` feature, an endpoint without `http://` or
//! `https://`) make [`init`](crate::init) fail with [`InitError::Config`].
//! TLS files are the exception on the environment side: one that cannot be
//! read or parsed is an `init` error naming the variable (see
//! `settings/tls.rs`). No message, warning or `Debug` output shows a header
//! value, a key, the userinfo of an endpoint (`user:password@`) or the values
//! of its query.
//!
//! Spans (and log records) wait in a bounded queue (2048 by default) for a
//! dedicated export thread; when the backend is down or slow the queue fills
//! and further items are dropped, never waited for, and counted in
//! `obs_exporter_dropped_spans_total{signal="traces"}` (`signal="logs"` for
//! log records). Failed exports are counted in
//! `obs_exporter_failed_spans_total` and logged at most once a minute, the
//! line naming the endpoint's host and the cause (`transport.rs`). For
//! metrics the counts are of data points.
//! Dropping the [`ObsGuard`](crate::ObsGuard) flushes the queues, waiting at
//! most the shutdown timeout (5 s by default) in all.
//!
//! Health evaluations start no trace unless
//! [`Builder::trace_health_checks`](crate::Builder::trace_health_checks) asks
//! for them. Sampling decides which traces are exported; metrics and log lines (and
//! exported log records) are kept for every call whatever the decision, and
//! carry the trace id of their span in both cases. Traces the head sampler
//! dropped can still be kept when they end in error or are slow; see
//! [`Builder::keep_error_traces`](crate::Builder::keep_error_traces) for how
//! and at what cost.

mod build;
mod log_export;
pub(crate) mod logs;
mod metric_export;
mod metric_points;
mod metric_text;
mod processor;
pub(crate) mod settings;
mod tail;
mod trace_export;
pub(crate) mod transport;
mod weight;

use opentelemetry::trace::TraceContextExt;

pub(crate) use logs::LogSink;
pub(crate) use settings::OtlpOptions;
pub use settings::{OtlpProtocol, Temporality, TraceSampler};

use crate::export::seam::{self, Configured};
use crate::init_error::InitError;
use crate::log::SpanIds;
use settings::Settings;

/// OTLP traces and OTLP logs, each an exporter of its own, from one
/// resolution of the settings (checked even when nothing is exported).
/// Export needs the OpenTelemetry layer (and the log layer's sink) in the
/// subscriber obs installs, so nothing is exported without it.
pub(crate) fn configure(settings: &seam::Settings) -> Result<Vec<Box<dyn Configured>>, InitError> {
    let resolved = Settings::resolve(&settings.otlp, &settings.resource)?;
    let Some(resolved) = resolved.filter(|_| settings.install_subscriber) else { return Ok(Vec::new()) };
    let resource = build::resource(&resolved);
    let mut exporters: Vec<Box<dyn Configured>> = Vec::new();
    if let Some(endpoint) = resolved.traces {
        exporters.push(Box::new(trace_export::Traces {
            endpoint,
            sampler: resolved.sampler,
            resource: resource.clone(),
            options: resolved.options.clone(),
        }));
    }
    if let Some(endpoint) = resolved.logs {
        exporters.push(Box::new(log_export::Logs { endpoint, resource, options: resolved.options.clone() }));
    }
    if let Some(export) = resolved.metrics {
        let resource = resolved.resource.clone();
        exporters.push(Box::new(metric_export::Metrics { export, resource, options: resolved.options }));
    }
    Ok(exporters)
}

/// The OpenTelemetry ids of a `tracing` span, when an OpenTelemetry layer of
/// `dispatch` tracks it. Must be called without holding the span's extensions.
pub(crate) fn span_ids(id: &tracing::span::Id, dispatch: &tracing::Dispatch) -> Option<SpanIds> {
    let cx = tracing_opentelemetry::get_otel_context(id, dispatch)?;
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| SpanIds {
        trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
    })
}
