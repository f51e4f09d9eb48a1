//! OTLP span export: every `tracing` span (those of `#[observe]` included)
//! becomes an OpenTelemetry span, sent over OTLP/HTTP (protobuf) to
//! `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, or to
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or to the endpoint given with
//! [`Builder::otlp_endpoint`](crate::Builder::otlp_endpoint).
//!
//! | variable | effect |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`, `..._TRACES_ENDPOINT` | where spans go (export is off without an endpoint) |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `..._TRACES_HEADERS` | extra request headers, `k=v,k2=v2`, percent-encoded |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `..._TRACES_TIMEOUT` | one export request's time limit, in ms (default 10000) |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `..._TRACES_PROTOCOL` | must be `http/protobuf` (the only one compiled in) |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | head sampling (default `parentbased_always_on`) |
//! | `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME` | resource attributes of every span |
//! | `OTEL_SDK_DISABLED=true` | no export |
//!
//! A bad value of any of them makes [`init`](crate::init) fail with
//! [`InitError::Config`].
//!
//! Spans wait in a bounded queue (2048 by default) for a dedicated export
//! thread; when the backend is down or slow the queue fills and further spans
//! are dropped, never waited for, and counted in
//! `obs_exporter_dropped_spans_total{signal="traces"}`. Failed exports are
//! counted in `obs_exporter_failed_spans_total` and logged at most once a
//! minute. Dropping the [`ObsGuard`](crate::ObsGuard) flushes the queue,
//! waiting at most the shutdown timeout (5 s by default).
//!
//! Sampling decides which traces are exported; metrics and log lines are
//! recorded for every call whatever the decision, and log lines carry the
//! trace id of their span in both cases. Traces the head sampler dropped can
//! still be kept when they end in error or are slow; see
//! [`Builder::keep_error_traces`](crate::Builder::keep_error_traces) for how
//! and at what cost.

mod processor;
mod settings;
mod tail;

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

pub use settings::TraceSampler;
pub(crate) use settings::{OtlpOptions, Settings};

use crate::config::InitError;
use crate::log::SpanIds;

/// The running export pipeline; shut down by the guard.
pub(crate) struct Exporter {
    provider: SdkTracerProvider,
    shutdown_timeout: Duration,
}

impl Exporter {
    /// Builds the exporter, the queue and the tracer. Nothing global changes here.
    pub(crate) fn start(settings: Settings) -> Result<(Exporter, SdkTracer), InitError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(settings.traces_url.clone())
            .with_timeout(settings.timeout)
            .with_headers(settings.headers.iter().cloned().collect())
            .build()
            .map_err(|e| InitError::Config(format!("OTLP exporter for {}: {e}", settings.traces_url)))?;
        let options = &settings.options;
        let processor = processor::QueueProcessor::start(
            exporter,
            processor::QueueConfig {
                queue_size: options.queue_size,
                batch_size: options.batch_size,
                batch_delay: options.batch_delay,
                shutdown_timeout: options.shutdown_timeout,
                error_log_interval: options.error_log_interval,
                keep: options.keep,
            },
            processor::PipelineMetrics::traces(),
        )
        .map_err(|e| InitError::Config(format!("OTLP export thread: {e}")))?;
        let resource = Resource::builder_empty()
            .with_attributes(settings.resource.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())))
            .build();
        let head = settings.sampler.to_sdk();
        let provider = SdkTracerProvider::builder().with_span_processor(processor);
        let provider = if options.keep.active() {
            provider.with_sampler(tail::RecordDropped(head))
        } else {
            provider.with_sampler(head)
        };
        let provider = provider.with_resource(resource).build();
        let tracer = provider.tracer("obs");
        Ok((Exporter { provider, shutdown_timeout: options.shutdown_timeout }, tracer))
    }

    /// Exports what is queued, waiting at most the shutdown timeout.
    pub(crate) fn shutdown(self) {
        let _ = self.provider.shutdown_with_timeout(self.shutdown_timeout);
    }
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
