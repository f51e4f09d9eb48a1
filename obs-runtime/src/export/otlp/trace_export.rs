//! OTLP traces as an exporter: every `tracing` span becomes an OpenTelemetry
//! span (through the layer this adds to the subscriber), queued for the span
//! pipeline's export thread.

use std::sync::OnceLock;
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
use crate::metrics::Status;

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
        let pipeline = Pipeline::start(
            Signal::Traces,
            Spans { exporter, old_code_names: options.old_code_names },
            executor,
            &queue_config(&options, destination),
        )
        .map_err(thread_error)?;
        let tail = options.keep.active().then(|| tail::TailBuffer::new(options.keep));
        let _ = KEEP.set(options.keep);
        crate::metrics::exemplar::enable(stored);
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

/// What [`stored`] keeps besides sampled traces (the tail sampler's rule).
static KEEP: OnceLock<tail::KeepRule> = OnceLock::new();

/// The ids of a call's span when this exporter will send its trace: sampled by
/// the head sampler, or a local root that the tail buffer keeps for its error
/// or its duration. An inner call of a trace kept after the fact does not
/// qualify: whether its trace is kept is only known when the root ends.
fn stored(span: &tracing::Span, status: Status, nanos: u64) -> Option<(u128, u64)> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    if !sc.is_valid() {
        return None;
    }
    let ids = (u128::from_be_bytes(sc.trace_id().to_bytes()), u64::from_be_bytes(sc.span_id().to_bytes()));
    if sc.is_sampled() {
        return Some(ids);
    }
    let keep = KEEP.get()?;
    let failed = keep.errors && matches!(status, Status::Error | Status::Panic);
    // The buffer measures the span, which opens a little before the call starts
    // and closes after it ends; a call just at the threshold may fall short there.
    let slow =
        keep.slower_than.is_some_and(|limit| nanos >= (limit.as_nanos() as u64).saturating_add(SLOW_MARGIN_NANOS));
    ((failed || slow) && crate::trace::is_local_root(span)).then_some(ids)
}

/// How far past `keep_slow_traces`' threshold a call must be for its exemplar.
const SLOW_MARGIN_NANOS: u64 = 1_000_000;

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
