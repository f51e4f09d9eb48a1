//! OTLP export: every `tracing` span (those of `#[observe]` included) becomes
//! an OpenTelemetry span, sent over OTLP/HTTP (protobuf) to
//! `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, or to
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or to the endpoint given with
//! [`Builder::otlp_endpoint`](crate::Builder::otlp_endpoint); over gRPC with
//! the `otlp-grpc` feature and `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (or
//! [`Builder::otlp_protocol`](crate::Builder::otlp_protocol)). On request
//! ([`Builder::otlp_logs`](crate::Builder::otlp_logs) or
//! `OTEL_LOGS_EXPORTER=otlp`) the log events go along as OTLP log records,
//! each with the trace and span id its JSON line shows.
//!
//! | variable | effect |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`, `..._TRACES_ENDPOINT`, `..._LOGS_ENDPOINT` | where data goes (export is off without an endpoint); over HTTP the general one gets `/v1/traces` or `/v1/logs` appended, over gRPC it is used as it is |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `..._TRACES_HEADERS`, `..._LOGS_HEADERS` | extra request headers (gRPC metadata), `k=v,k2=v2`, percent-encoded |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `..._TRACES_TIMEOUT`, `..._LOGS_TIMEOUT` | one export request's time limit, in ms (default 10000) |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `..._TRACES_PROTOCOL`, `..._LOGS_PROTOCOL` | `http/protobuf` (default) or `grpc` (feature `otlp-grpc`) |
//! | `OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER` | `otlp` or `none`; spans are exported by default, log events only when asked |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | head sampling (default `parentbased_always_on`) |
//! | `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME` | resource attributes of every span and log record |
//! | `OTEL_SDK_DISABLED=true` | no export |
//!
//! A bad value of any of them makes [`init`](crate::init) fail with
//! [`InitError::Config`], as does asking for gRPC in a build without the
//! `otlp-grpc` feature, or an `https://` endpoint: export over TLS is not
//! built in yet, so send to a collector on `http://` that forwards over TLS.
//!
//! Spans (and log records) wait in a bounded queue (2048 by default) for a
//! dedicated export thread; when the backend is down or slow the queue fills
//! and further items are dropped, never waited for, and counted in
//! `obs_exporter_dropped_spans_total{signal="traces"}` (`signal="logs"` for
//! log records). Failed exports are counted in
//! `obs_exporter_failed_spans_total` and logged at most once a minute.
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

mod logs;
mod processor;
mod settings;
mod tail;

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::logs::LoggerProvider as _;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, ShouldSample, SpanExporter};

pub(crate) use logs::LogSink;
pub(crate) use settings::{OtlpOptions, Settings};
pub use settings::{OtlpProtocol, TraceSampler};

use crate::config::InitError;
use crate::log::SpanIds;
use processor::{Executor, LogQueue, Logs, Pipeline, QueueConfig, SpanQueue, Spans};
use settings::{Endpoint, Signal};

/// The running export pipelines; shut down by the guard.
pub(crate) struct Exporter {
    traces: Option<SdkTracerProvider>,
    logs: Option<SdkLoggerProvider>,
    shutdown_timeout: Duration,
}

/// What the subscriber needs from a started [`Exporter`].
pub(crate) struct Started {
    pub exporter: Exporter,
    /// The tracer behind the OpenTelemetry layer, when spans are exported.
    pub tracer: Option<SdkTracer>,
    /// Where the JSON layer sends log events, when they are exported.
    pub logs: Option<LogSink>,
}

impl Exporter {
    /// Builds the exporters, their queues and threads. Nothing global changes here.
    pub(crate) fn start(settings: Settings) -> Result<Started, InitError> {
        let options = &settings.options;
        let config = QueueConfig {
            queue_size: options.queue_size,
            batch_size: options.batch_size,
            batch_delay: options.batch_delay,
            shutdown_timeout: options.shutdown_timeout,
            error_log_interval: options.error_log_interval,
        };
        let resource = Resource::builder_empty()
            .with_attributes(settings.resource.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())))
            .build();
        let thread_error = |e: std::io::Error| InitError::Config(format!("OTLP export thread: {e}"));

        let traces = match &settings.traces {
            Some(endpoint) => {
                let (mut exporter, executor) = build(endpoint, span_exporter)?;
                exporter.set_resource(&resource);
                let pipeline =
                    Pipeline::start(Signal::Traces, Spans(exporter), executor, &config).map_err(thread_error)?;
                let tail = options.keep.active().then(|| tail::TailBuffer::new(options.keep));
                let head = settings.sampler.to_sdk();
                let sampler: Box<dyn ShouldSample> =
                    if options.keep.active() { Box::new(tail::RecordDropped(head)) } else { Box::new(head) };
                #[cfg(feature = "health")]
                let sampler: Box<dyn ShouldSample> =
                    if options.trace_health { sampler } else { Box::new(HealthUntraced(sampler)) };
                let provider = SdkTracerProvider::builder()
                    .with_span_processor(SpanQueue { pipeline, tail })
                    .with_sampler(sampler)
                    .with_resource(resource.clone());
                Some(provider.build())
            }
            None => None,
        };
        let logs = match &settings.logs {
            Some(endpoint) => {
                let (mut exporter, executor) = build(endpoint, log_exporter)?;
                exporter.set_resource(&resource);
                let pipeline =
                    Pipeline::start(Signal::Logs, Logs(exporter), executor, &config).map_err(thread_error)?;
                Some(
                    SdkLoggerProvider::builder().with_log_processor(LogQueue(pipeline)).with_resource(resource).build(),
                )
            }
            None => None,
        };
        Ok(Started {
            tracer: traces.as_ref().map(|p| p.tracer("obs")),
            logs: logs.as_ref().map(|p| LogSink::new(p.logger("obs"))),
            exporter: Exporter { traces, logs, shutdown_timeout: options.shutdown_timeout },
        })
    }

    /// Exports what is queued, waiting at most the shutdown timeout in all.
    pub(crate) fn shutdown(self) {
        let deadline = std::time::Instant::now() + self.shutdown_timeout;
        let left = || deadline.saturating_duration_since(std::time::Instant::now()).max(Duration::from_millis(1));
        if let Some(provider) = self.traces {
            let _ = provider.shutdown_with_timeout(left());
        }
        if let Some(provider) = self.logs {
            let _ = provider.shutdown_with_timeout(left());
        }
    }
}

/// Health evaluations (the background refresh and every probe) start no trace:
/// a liveness probe every few seconds would otherwise fill the trace backend
/// with one-span traces. Their metrics and log events are kept;
/// [`Builder::trace_health_checks`](crate::Builder::trace_health_checks) exports them too.
#[cfg(feature = "health")]
#[derive(Debug)]
struct HealthUntraced(Box<dyn ShouldSample>);

#[cfg(feature = "health")]
impl Clone for HealthUntraced {
    fn clone(&self) -> Self {
        HealthUntraced(self.0.box_clone())
    }
}

#[cfg(feature = "health")]
impl ShouldSample for HealthUntraced {
    fn should_sample(
        &self,
        parent: Option<&opentelemetry::Context>,
        trace_id: opentelemetry::trace::TraceId,
        name: &str,
        kind: &opentelemetry::trace::SpanKind,
        attributes: &[KeyValue],
        links: &[opentelemetry::trace::Link],
    ) -> opentelemetry_sdk::trace::SamplingResult {
        let root = !parent.is_some_and(|cx| cx.has_active_span());
        if root && name == crate::health::CHECK_SPAN {
            return opentelemetry_sdk::trace::SamplingResult {
                decision: opentelemetry_sdk::trace::SamplingDecision::Drop,
                attributes: Vec::new(),
                trace_state: Default::default(),
            };
        }
        self.0.should_sample(parent, trace_id, name, kind, attributes, links)
    }
}

/// Builds one exporter with the executor its protocol needs (a gRPC channel is
/// made inside the runtime that will drive it).
fn build<E>(
    endpoint: &Endpoint,
    make: fn(&Endpoint) -> Result<E, opentelemetry_otlp::ExporterBuildError>,
) -> Result<(E, Executor), InitError> {
    let executor = match endpoint.protocol {
        OtlpProtocol::HttpProtobuf => Executor::Plain,
        #[cfg(feature = "otlp-grpc")]
        OtlpProtocol::Grpc => Executor::Tokio(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| InitError::Config(format!("OTLP gRPC runtime: {e}")))?,
        ),
        #[cfg(not(feature = "otlp-grpc"))]
        OtlpProtocol::Grpc => unreachable!("rejected by Settings::resolve without the otlp-grpc feature"),
    };
    let exporter = executor
        .enter(|| make(endpoint))
        .map_err(|e| InitError::Config(format!("OTLP exporter for {}: {e}", endpoint.url)))?;
    Ok((exporter, executor))
}

/// Exporter builders of both signals share one shape; this writes it once per protocol.
macro_rules! exporter_for {
    ($name:ident, $exporter:ty) => {
        fn $name(endpoint: &Endpoint) -> Result<$exporter, opentelemetry_otlp::ExporterBuildError> {
            match endpoint.protocol {
                #[cfg(feature = "otlp-grpc")]
                OtlpProtocol::Grpc => {
                    use opentelemetry_otlp::WithTonicConfig;
                    let headers: http::HeaderMap = endpoint
                        .headers
                        .iter()
                        .filter_map(|(k, v)| Some((k.parse::<http::HeaderName>().ok()?, v.parse().ok()?)))
                        .collect();
                    <$exporter>::builder()
                        .with_tonic()
                        .with_endpoint(endpoint.url.clone())
                        .with_timeout(endpoint.timeout)
                        .with_metadata(opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers))
                        .build()
                }
                _ => <$exporter>::builder()
                    .with_http()
                    .with_endpoint(endpoint.url.clone())
                    .with_timeout(endpoint.timeout)
                    .with_headers(endpoint.headers.iter().cloned().collect())
                    .build(),
            }
        }
    };
}
exporter_for!(span_exporter, opentelemetry_otlp::SpanExporter);
exporter_for!(log_exporter, opentelemetry_otlp::LogExporter);

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
