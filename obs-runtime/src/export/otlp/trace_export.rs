//! OTLP traces as an exporter: every `tracing` span becomes an OpenTelemetry
//! span (through the layer this adds to the subscriber), queued for the span
//! pipeline's export thread.

use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
#[cfg(feature = "health")]
use opentelemetry::{KeyValue, trace::TraceContextExt};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, ShouldSample, SpanExporter};

use super::build::{build, queue_config, span_exporter, thread_error, time_left};
use super::processor::{Pipeline, SpanQueue, Spans};
use super::settings::{Endpoint, OtlpOptions, Signal, TraceSampler};
use super::tail;
use crate::export::seam::{Configured, Exporter, StartContext};
use crate::init_error::InitError;

/// Span export, configured.
pub(super) struct Traces {
    pub endpoint: Endpoint,
    pub sampler: TraceSampler,
    pub resource: Resource,
    pub options: OtlpOptions,
}

impl Configured for Traces {
    /// Builds the exporter, its queue and thread, and the OpenTelemetry layer. Nothing global changes here.
    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        let Traces { endpoint, sampler, resource, options } = *self;
        cx.exports.push(format!("traces to {}", endpoint.shown()));
        let (mut exporter, executor, destination) = build(&endpoint, span_exporter)?;
        exporter.set_resource(&resource);
        let pipeline = Pipeline::start(Signal::Traces, Spans(exporter), executor, &queue_config(&options, destination))
            .map_err(thread_error)?;
        let tail = options.keep.active().then(|| tail::TailBuffer::new(options.keep));
        let head = sampler.to_sdk();
        let sampler: Box<dyn ShouldSample> =
            if options.keep.active() { Box::new(tail::RecordDropped(head)) } else { Box::new(head) };
        #[cfg(feature = "health")]
        let sampler: Box<dyn ShouldSample> =
            if options.trace_health { sampler } else { Box::new(HealthUntraced(sampler)) };
        let provider = SdkTracerProvider::builder()
            .with_span_processor(SpanQueue { pipeline, tail })
            .with_sampler(sampler)
            .with_resource(resource)
            .build();
        // Location comes from obs's own `code.*` fields (current semantic-convention names), so
        // the bridge adds none: no second, old-named copy, and no location pointing into obs
        // for spans obs creates on the user's behalf (the HTTP server span). Nor
        // `busy_ns`/`idle_ns`, which no backend shows as timing. Nor the bridge's copies of an
        // error: `error.type`/`error.message` are on the span and the exporter adds the
        // `exception` event (processor.rs); the bridge's `exception.message` repeats them and
        // its `exception.stacktrace` (the source chain) is empty for most errors.
        let layer = tracing_opentelemetry::layer()
            .with_location(false)
            .with_tracked_inactivity(false)
            .with_error_records_to_exceptions(false)
            .with_error_fields_to_exceptions(false);
        cx.span_layer = Some(layer.with_tracer(provider.tracer("obs")));
        Ok(Box::new(RunningTraces { provider, shutdown_timeout: options.shutdown_timeout }))
    }
}

struct RunningTraces {
    provider: SdkTracerProvider,
    shutdown_timeout: Duration,
}

impl Exporter for RunningTraces {
    fn shutdown_limit(&self) -> Duration {
        self.shutdown_timeout
    }

    /// Exports what is queued, waiting at most until `deadline`.
    fn shutdown(self: Box<Self>, deadline: Instant) {
        let _ = self.provider.shutdown_with_timeout(time_left(deadline));
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
