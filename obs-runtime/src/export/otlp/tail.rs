//! Keeping the traces that matter when the head sampler said no.
//!
//! With [`Builder::keep_error_traces`](crate::Builder::keep_error_traces) or
//! [`Builder::keep_slow_traces`](crate::Builder::keep_slow_traces), a trace the
//! head sampler drops is still *recorded* (not exported): its spans wait in a
//! bounded per-trace buffer until its local root ends. If the root ended in
//! error or panic (span status Error) or took longer than the threshold, the
//! whole buffered trace is exported; otherwise it is discarded.
//!
//! The trade-off: every unsampled trace now costs what a sampled one costs in
//! the application (spans are built and held), only export is saved; and a
//! trace is kept only as far as this process saw it: a caller that did not
//! sample does not get its own spans back. Traces whose caller explicitly did
//! not sample (`traceparent` flag 0) are respected and not recorded. Memory
//! is capped: at most `MAX_TRACES` traces, `MAX_SPANS_PER_TRACE` spans each and
//! `MAX_SPANS` spans in all are held; when the buffer is full the trace held
//! longest is given up to make room (a root that never ends cannot hold its
//! place forever). Spans dropped either way are counted in
//! `obs_exporter_tail_buffer_overflow_spans_total`.
//!
//! The buffer is split into [`SHARDS`] by trace id, each with its own lock and
//! its share of every limit, so threads ending spans of different traces
//! rarely wait for each other; the trace held longest in a shard is found
//! from the front of its queue, not by a scan. Spans are also weighed (their
//! arguments can be any size): at most [`MAX_BYTES`] are held in all.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use metrics::Counter;
use opentelemetry::trace::{Link, SpanId, SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample, SpanData};

use super::weight::Weigh;

/// Held traces at most.
pub(crate) const MAX_TRACES: usize = 1024;
/// Held spans of one trace at most.
pub(crate) const MAX_SPANS_PER_TRACE: usize = 256;
/// Held spans of all traces at most (about 24 MB of `#[observe]` spans). A held
/// span costs 1 to 1.5 KB, so the two limits above alone would let the buffer
/// grow to 250 MB and more.
pub(crate) const MAX_SPANS: usize = 16 * 1024;
/// What the held spans weigh at most, in all (spans with large arguments).
pub(crate) const MAX_BYTES: usize = 32 << 20;
/// Independent parts of the buffer, each with `1/SHARDS` of every limit but
/// the per-trace one.
pub(crate) const SHARDS: usize = 16;

/// What makes an unsampled trace worth exporting after all.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeepRule {
    pub errors: bool,
    pub slower_than: Option<Duration>,
}

impl KeepRule {
    pub(crate) fn active(&self) -> bool {
        self.errors || self.slower_than.is_some()
    }

    fn keeps(&self, root: &SpanData) -> bool {
        let failed = self.errors && matches!(root.status, Status::Error { .. });
        let slow = self
            .slower_than
            .is_some_and(|limit| root.end_time.duration_since(root.start_time).is_ok_and(|took| took >= limit));
        failed || slow
    }
}

/// The head sampler, except that what it drops locally is recorded (`RecordOnly`)
/// so that [`TailBuffer`] can still keep it.
#[derive(Debug, Clone)]
pub(crate) struct RecordDropped(pub Sampler);

impl ShouldSample for RecordDropped {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let head = self.0.should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        if head.decision != SamplingDecision::Drop {
            return head;
        }
        let parent = parent_context.filter(|cx| cx.has_active_span());
        let record = match parent {
            None => true,
            Some(cx) => {
                let span = cx.span();
                // A remote caller's "not sampled" is its decision; a local parent
                // that is recorded means this trace is already a tail candidate.
                !span.span_context().is_remote() && span.is_recording()
            }
        };
        if !record {
            return head;
        }
        let trace_state = parent.map(|cx| cx.span().span_context().trace_state().clone()).unwrap_or_default();
        SamplingResult { decision: SamplingDecision::RecordOnly, attributes: Vec::new(), trace_state }
    }
}

/// Unsampled spans waiting for their local root to end.
pub(crate) struct TailBuffer {
    rule: KeepRule,
    shards: Box<[Mutex<Held>]>,
    overflow: Counter,
}

/// One shard: its traces, and the order they were first held in.
#[derive(Default)]
struct Held {
    /// Spans per trace, with the trace's place in `order` and their weight.
    traces: HashMap<TraceId, Trace>,
    /// Trace ids, oldest first, each with the `since` it was held with (an id
    /// whose trace has since ended, or was held again, is skipped).
    order: VecDeque<(TraceId, u64)>,
    next: u64,
    spans: usize,
    bytes: usize,
}

struct Trace {
    since: u64,
    spans: Vec<SpanData>,
    bytes: usize,
}

impl Held {
    /// Gives up the trace held longest other than `keep`; false when there is none.
    fn give_up_oldest(&mut self, keep: TraceId, overflow: &Counter) -> bool {
        let mut kept = None;
        let given_up = loop {
            let Some((id, since)) = self.order.pop_front() else { break None };
            if self.traces.get(&id).is_none_or(|trace| trace.since != since) {
                continue;
            }
            if id == keep {
                kept = Some((id, since));
                continue;
            }
            break self.traces.remove(&id);
        };
        if let Some(kept) = kept {
            self.order.push_front(kept);
        }
        let Some(trace) = given_up else { return false };
        self.spans -= trace.spans.len();
        self.bytes -= trace.bytes;
        overflow.increment(trace.spans.len() as u64);
        true
    }

    fn take(&mut self, id: TraceId) -> Vec<SpanData> {
        let Some(trace) = self.traces.remove(&id) else { return Vec::new() };
        self.spans -= trace.spans.len();
        self.bytes -= trace.bytes;
        // Ended traces leave their ids in `order`; drop them once they are most of it.
        if self.order.len() > 2 * self.traces.len() + 64 {
            let traces = &self.traces;
            self.order.retain(|(id, since)| traces.get(id).is_some_and(|t| t.since == *since));
        }
        trace.spans
    }
}

impl TailBuffer {
    pub(crate) fn new(rule: KeepRule) -> TailBuffer {
        let name = crate::metrics::EXPORTER_TAIL_BUFFER_OVERFLOW_SPANS_TOTAL.name();
        TailBuffer {
            rule,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            overflow: metrics::counter!(name, "signal" => "traces"),
        }
    }

    fn shard(&self, trace_id: TraceId) -> &Mutex<Held> {
        // Trace ids are random in their low bytes (W3C Level 2), so any byte spreads them.
        let index = trace_id.to_bytes()[15] as usize % SHARDS;
        &self.shards[index]
    }

    /// Takes an ended unsampled span; returns the spans to export now (the whole
    /// trace when this span is a local root worth keeping).
    pub(crate) fn on_end(&self, span: SpanData) -> Vec<SpanData> {
        let trace_id = span.span_context.trace_id();
        let local_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
        let mut held = self.shard(trace_id).lock().unwrap_or_else(|e| e.into_inner());
        if !local_root {
            self.hold(&mut held, trace_id, span);
            return Vec::new();
        }
        let mut trace = held.take(trace_id);
        drop(held);
        if !self.rule.keeps(&span) {
            return Vec::new();
        }
        trace.push(span);
        for span in &mut trace {
            // Exported as sampled: backends may ignore unsampled spans.
            let sc = &span.span_context;
            span.span_context = opentelemetry::trace::SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().with_sampled(true),
                sc.is_remote(),
                sc.trace_state().clone(),
            );
        }
        trace
    }

    fn hold(&self, held: &mut Held, trace_id: TraceId, span: SpanData) {
        let (max_traces, max_spans, max_bytes) = (MAX_TRACES / SHARDS, MAX_SPANS / SHARDS, MAX_BYTES / SHARDS);
        let weight = span.weight();
        let held_here = held.traces.get(&trace_id).map(|trace| trace.spans.len());
        if held_here.is_some_and(|n| n >= MAX_SPANS_PER_TRACE) || weight > max_bytes {
            self.overflow.increment(1);
            return;
        }
        let full = |held: &Held| {
            (held_here.is_none() && held.traces.len() >= max_traces)
                || held.spans >= max_spans
                || held.bytes + weight > max_bytes
        };
        while full(held) {
            if !held.give_up_oldest(trace_id, &self.overflow) {
                break;
            }
        }
        if held.spans >= max_spans || held.bytes + weight > max_bytes {
            self.overflow.increment(1);
            return;
        }
        held.spans += 1;
        held.bytes += weight;
        let Held { traces, order, next, .. } = held;
        let trace = traces.entry(trace_id).or_insert_with(|| {
            *next += 1;
            order.push_back((trace_id, *next));
            Trace { since: *next, spans: Vec::new(), bytes: 0 }
        });
        trace.spans.push(span);
        trace.bytes += weight;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
    use tracing_subscriber::layer::SubscriberExt;

    use super::super::processor::{Executor, Pipeline, QueueConfig, SpanQueue, Spans};
    use super::super::settings::Signal;
    use super::*;
    use crate::export::otlp::TraceSampler;
    use crate::propagation::TraceContext;

    #[derive(Debug, Clone, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Collect {
        fn export(&self, batch: Vec<SpanData>) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            self.0.lock().unwrap().extend(batch);
            std::future::ready(Ok(()))
        }
    }

    /// Runs `f` under OTel + JSON layers with a ratio-0 head sampler; returns the
    /// exported spans' names and the log lines.
    fn run(keep: KeepRule, f: impl FnOnce()) -> (Vec<(String, bool)>, Vec<serde_json::Value>) {
        let exported = Collect::default();
        let config = QueueConfig {
            destination: Default::default(),
            queue_size: 2 * MAX_SPANS,
            queue_bytes: 2 * MAX_BYTES,
            batch_size: 64,
            batch_delay: Duration::from_millis(10),
            shutdown_timeout: Duration::from_secs(5),
            error_log_interval: Duration::from_secs(60),
        };
        let pipeline = Pipeline::start(Signal::Traces, Spans::new(exported.clone()), Executor::Plain, &config).unwrap();
        let processor = SpanQueue { pipeline, tail: keep.active().then(|| TailBuffer::new(keep)) };
        let head = TraceSampler::ParentBasedRatio(0.0).to_sdk();
        let builder = SdkTracerProvider::builder().with_span_processor(processor);
        let provider =
            if keep.active() { builder.with_sampler(RecordDropped(head)) } else { builder.with_sampler(head) }.build();
        let lines = crate::log::MemoryWriter::new();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(crate::log::JsonLayer::new("svc", lines.clone()));
        tracing::subscriber::with_default(subscriber, f);
        provider.force_flush().unwrap();
        let names =
            exported.0.lock().unwrap().iter().map(|s| (s.name.to_string(), s.span_context.is_sampled())).collect();
        (names, lines.lines())
    }

    fn job(name: &'static str, fail: bool) {
        let root = tracing::info_span!("root", job = name, otel.status_code = tracing::field::Empty);
        let _root = root.enter();
        {
            let child = tracing::info_span!("child", job = name);
            let _child = child.enter();
            tracing::info!("working");
        }
        if fail {
            root.record("otel.status_code", "ERROR");
        }
    }

    #[test]
    fn unsampled_traces_are_not_exported_but_their_log_lines_carry_trace_ids() {
        let (exported, lines) = run(KeepRule::default(), || job("a", true));
        assert!(exported.is_empty(), "{exported:?}");
        let line = lines.iter().find(|l| l["message"] == "working").unwrap();
        let trace_id = line["trace_id"].as_str().unwrap();
        assert_eq!(trace_id.len(), 32);
        assert_ne!(trace_id, "00000000000000000000000000000000");
    }

    #[test]
    fn failed_traces_are_kept_whole_when_the_head_sampler_said_no() {
        let keep = KeepRule { errors: true, slower_than: None };
        let (exported, _) = run(keep, || {
            job("fine", false);
            job("broken", true);
        });
        assert_eq!(exported, vec![("child".to_owned(), true), ("root".to_owned(), true)]);
    }

    #[test]
    fn slow_traces_are_kept_and_fast_ones_are_not() {
        let keep = KeepRule { errors: false, slower_than: Some(Duration::from_millis(30)) };
        let (exported, _) = run(keep, || {
            job("fast", false);
            let slow = tracing::info_span!("slow root");
            let _slow = slow.enter();
            std::thread::sleep(Duration::from_millis(40));
        });
        assert_eq!(exported, vec![("slow root".to_owned(), true)]);
    }

    #[test]
    fn a_callers_decision_not_to_sample_is_respected() {
        let keep = KeepRule { errors: true, slower_than: None };
        let (exported, _) = run(keep, || {
            let server = tracing::info_span!("server", otel.status_code = tracing::field::Empty);
            let caller = TraceContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
            crate::trace::set_parent(&server, &caller.unwrap());
            let _entered = server.enter();
            server.record("otel.status_code", "ERROR");
        });
        assert!(exported.is_empty(), "{exported:?}");
    }

    #[test]
    fn roots_that_never_end_do_not_keep_later_traces_out() {
        let keep = KeepRule { errors: true, slower_than: None };
        let (exported, _) = run(keep, || {
            // Fill every slot with a trace whose root is still open.
            let stuck: Vec<tracing::Span> = (0..MAX_TRACES)
                .map(|_| {
                    let root = tracing::info_span!("stuck");
                    root.in_scope(|| drop(tracing::info_span!("stuck_child").entered()));
                    root
                })
                .collect();
            job("late", true);
            drop(stuck);
        });
        assert_eq!(exported, [("child".to_owned(), true), ("root".to_owned(), true)], "the late trace is kept whole");
    }

    #[test]
    fn the_buffer_of_one_trace_is_capped() {
        let keep = KeepRule { errors: true, slower_than: None };
        let (exported, _) = run(keep, || {
            let root = tracing::info_span!("root", otel.status_code = tracing::field::Empty);
            let _root = root.enter();
            for _ in 0..MAX_SPANS_PER_TRACE + 10 {
                let _child = tracing::info_span!("child").entered();
            }
            root.record("otel.status_code", "ERROR");
        });
        assert_eq!(exported.len(), MAX_SPANS_PER_TRACE + 1);
    }

    #[test]
    fn the_buffer_of_all_traces_together_is_capped() {
        let keep = KeepRule { errors: true, slower_than: None };
        let traces = 2 * MAX_SPANS / MAX_SPANS_PER_TRACE;
        let (exported, _) = run(keep, || {
            let roots: Vec<tracing::Span> = (0..traces)
                .map(|_| {
                    let root = tracing::info_span!("root", otel.status_code = tracing::field::Empty);
                    root.in_scope(|| {
                        (0..MAX_SPANS_PER_TRACE).for_each(|_| drop(tracing::info_span!("child").entered()))
                    });
                    root
                })
                .collect();
            for root in roots {
                root.record("otel.status_code", "ERROR");
            }
        });
        let children = exported.iter().filter(|(name, _)| name == "child").count();
        // Each shard holds its share; one that saw fewer traces than it holds is not full.
        assert!((MAX_SPANS / 2..=MAX_SPANS).contains(&children), "{children} children held");
        assert_eq!(exported.len() - children, traces, "every failed root is exported");
    }

    #[test]
    fn the_buffer_is_capped_by_weight() {
        let keep = KeepRule { errors: true, slower_than: None };
        let payload = "x".repeat(64 * 1024);
        let (exported, _) = run(keep, || {
            let root = tracing::info_span!("root", otel.status_code = tracing::field::Empty);
            root.in_scope(|| (0..100).for_each(|_| drop(tracing::info_span!("child", order = %payload).entered())));
            root.record("otel.status_code", "ERROR");
        });
        let children = exported.iter().filter(|(name, _)| name == "child").count();
        let fit = MAX_BYTES / SHARDS / payload.len();
        assert!(children < fit && children > fit / 2, "{children} children of 64 KB held (a shard holds {fit})");
    }
}
