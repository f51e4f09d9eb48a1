//! One measured call: [`Observed`] wraps a future, [`Guard`] a synchronous
//! body. Both end the call exactly once: with the outcome the generated
//! classifier gives, or as cancelled or panicked when dropped before that.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project::pin_project;
use quanta::Instant;
use tracing::Span;
use tracing::level_filters::LevelFilter;
use tracing::span::Entered;
use tracing_core::Event;
use tracing_core::field::Value;

use crate::budget::BudgetExceeded;
use crate::callsite::{CallSite, Kind, Site};
use crate::error::ErrorMessage;
use crate::metrics::{self, Handles, Status};
use crate::workflow::FlowCall;

/// A call in progress: when it started and where its metrics go. Workflow and
/// node calls carry their run, attempt and metrics in `flow`.
pub struct Call {
    site: &'static CallSite,
    /// `None` when nothing could use the duration (no metrics, no subscriber):
    /// the clock is then not read at all.
    start: Option<Instant>,
    handles: Option<&'static Handles>,
    flow: Option<FlowCall>,
}

/// An optional event field value.
type Field<'a> = Option<&'a dyn Value>;

enum End<'a> {
    Ok(Option<&'a dyn Value>),
    Error(&'static str, ErrorMessage<'a>),
    Panic,
    Cancelled,
    Budget(BudgetExceeded),
}

/// The optional fields of a lifecycle event.
#[derive(Default)]
struct Extra<'a> {
    duration_ms: Option<f64>,
    kind: Option<&'a dyn Value>,
    error: Option<&'a dyn Value>,
    ret: Option<&'a dyn Value>,
    attempt: Option<u32>,
    backoff_ms: Option<f64>,
    budget: Option<&'static str>,
}

/// Dispatches one lifecycle event of `call_site` on `site`.
fn emit(call_site: &'static CallSite, site: &'static Site, verb: &'static str, event: &'static str, extra: Extra<'_>) {
    if !call_site.logs() || !site.enabled() {
        return;
    }
    let message = tracing::field::display(Message { name: call_site.name(), verb });
    let values: [Option<&dyn Value>; 9] = [
        Some(&message),
        Some(&event),
        extra.duration_ms.as_ref().map(|v| v as &dyn Value),
        extra.kind,
        extra.error,
        extra.ret,
        extra.attempt.as_ref().map(|v| v as &dyn Value),
        extra.backoff_ms.as_ref().map(|v| v as &dyn Value),
        extra.budget.as_ref().map(|v| v as &dyn Value),
    ];
    let meta = site.metadata();
    Event::dispatch(meta, &meta.fields().value_set_all(&values));
}

impl Call {
    // Inlinable: it is not generic, so a debug build compiles one copy per
    // crate, not one per instrumented function, and release builds keep the
    // hot path free of a call (about 15 ns per call when it was not inlined).
    #[inline]
    fn start(site: &'static CallSite) -> Call {
        let handles = metrics::handles(site);
        match handles {
            Some(handles) => handles.start(),
            None => hint_missing_init(site),
        }
        // `LevelFilter::current()` is `OFF` until some subscriber exists anywhere.
        let timed = handles.is_some() || (site.logs() && LevelFilter::current() != LevelFilter::OFF);
        Call { site, start: timed.then(Instant::now), handles, flow: None }
    }

    /// Starts a workflow or node call and logs its `*.start` event in `span`.
    pub(crate) fn start_flow(site: &'static CallSite, span: &Span, flow: FlowCall) -> Call {
        let call = Call::start_flow_quiet(site, flow);
        call.announce(span);
        call
    }

    /// Starts a workflow or node call without a start event.
    pub(crate) fn start_flow_quiet(site: &'static CallSite, flow: FlowCall) -> Call {
        match flow.meter {
            Some(meter) => meter.start(),
            None => hint_missing_init(site),
        }
        Call { site, start: Some(Instant::now()), handles: None, flow: Some(flow) }
    }

    pub(crate) fn flow_mut(&mut self) -> Option<&mut FlowCall> {
        self.flow.as_mut()
    }

    /// Records the attempt number on the (entered) span and logs `*.start`.
    pub(crate) fn announce(&self, span: &Span) {
        let attempt = self.flow.as_ref().filter(|f| f.is_node()).map(|f| f.attempt);
        if !span.is_disabled() {
            span.record("node", self.site.name());
            if let Some(attempt) = attempt {
                span.record("attempt", attempt);
            }
        }
        let event = match self.site.kind() {
            Kind::Node(_) => "node.start",
            _ => "workflow.start",
        };
        emit(self.site, &self.site.start, "started", event, Extra { attempt, ..Extra::default() });
    }

    /// One attempt of a node failed and will be retried.
    pub(crate) fn retried(&self) {
        if let Some(crate::workflow::metrics::FlowMeter::Node(handles)) = self.flow.as_ref().and_then(|f| f.meter) {
            handles.retried();
        }
    }

    /// The call was dropped before it completed: cancelled, or unwinding from a panic.
    pub(crate) fn end_dropped(self, span: &Span, panicked: bool) {
        self.end(span, if panicked { End::Panic } else { End::Cancelled });
    }

    /// The node did not run because its run is out of hops.
    pub(crate) fn end_budget(self, span: &Span, exceeded: BudgetExceeded) {
        self.end(span, End::Budget(exceeded));
    }

    fn end(self, span: &Span, end: End<'_>) {
        let elapsed = self.start.map(|start| start.elapsed());
        let mut status = match end {
            End::Ok(_) => Status::Ok,
            End::Error(..) => Status::Error,
            End::Panic => Status::Panic,
            End::Cancelled => Status::Cancelled,
            End::Budget(_) => Status::BudgetExceeded,
        };
        if let Some(flow) = &self.flow {
            status = flow.status(status);
            flow.end(status, elapsed.unwrap_or_default().as_secs_f64());
        }
        if let Some(handles) = self.handles {
            // Always ended, so in-flight goes back down; `start` is set whenever there are handles.
            handles.end(status, elapsed.unwrap_or_default());
            if let End::Error(kind, _) = end {
                handles.error(kind);
            }
        }
        if !span.is_disabled() {
            record_outcome(span, status, &end);
        }
        if self.site.logs()
            && let Some(elapsed) = elapsed
        {
            self.log(status, elapsed, &end);
        }
    }

    fn log(&self, status: Status, elapsed: Duration, end: &End<'_>) {
        let site: &'static Site = match status {
            Status::Ok => &self.site.ok,
            Status::Error => &self.site.error,
            Status::Panic => &self.site.panicked,
            Status::Cancelled => &self.site.cancelled,
            Status::Timeout => &self.site.timeout,
            Status::BudgetExceeded => &self.site.budget,
        };
        if !site.enabled() {
            return;
        }
        let duration_ms = elapsed.as_micros() as f64 / 1000.0;
        let error_display;
        let budget_display;
        let (kind, error, ret): (Field<'_>, Field<'_>, Field<'_>) = match end {
            End::Ok(ret) => (None, None, *ret),
            End::Error(kind, ErrorMessage::Error(e)) => (Some(kind), Some(e as &dyn Value), None),
            End::Error(kind, ErrorMessage::None) => (Some(kind), None, None),
            End::Error(kind, message) => {
                error_display = tracing::field::display(message);
                (Some(kind), Some(&error_display), None)
            }
            End::Panic => (Some(&"panic"), None, None),
            End::Cancelled => (None, None, None),
            End::Budget(exceeded) => {
                budget_display = exceeded as &(dyn std::error::Error + 'static);
                (Some(&"budget_exceeded"), Some(&budget_display as &dyn Value), None)
            }
        };
        let flow = self.flow.as_ref();
        let extra = Extra {
            duration_ms: Some(duration_ms),
            kind,
            error,
            ret,
            attempt: flow.filter(|f| f.is_node()).map(|f| f.attempt),
            backoff_ms: None,
            budget: (status == Status::BudgetExceeded)
                .then(|| flow.and_then(|f| f.budget()))
                .flatten()
                .map(|b| b.as_str()),
        };
        emit(self.site, site, verb(status), event_name(self.site.kind(), status), extra);
    }
}

fn record_outcome(span: &Span, status: Status, end: &End<'_>) {
    match end {
        End::Ok(_) => {}
        End::Error(kind, message) => {
            span.record("error.type", *kind);
            span.record("error.message", tracing::field::display(message));
            span.record("otel.status_code", "ERROR");
            if status != Status::Error {
                span.record("obs.outcome", status.as_str());
            }
        }
        End::Budget(exceeded) => {
            span.record("error.type", "budget_exceeded");
            span.record("error.message", tracing::field::display(exceeded));
            span.record("otel.status_code", "ERROR");
            span.record("obs.outcome", "budget_exceeded");
        }
        End::Panic => {
            span.record("error.type", "panic");
            span.record("otel.status_code", "ERROR");
            span.record("obs.outcome", "panic");
        }
        End::Cancelled => {
            span.record("obs.outcome", status.as_str());
        }
    }
}

struct Message {
    name: &'static str,
    verb: &'static str,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.verb)
    }
}

fn verb(status: Status) -> &'static str {
    match status {
        Status::Ok => "completed",
        Status::Error => "failed",
        Status::Panic => "panicked",
        Status::Cancelled => "was cancelled",
        Status::Timeout => "timed out",
        Status::BudgetExceeded => "exceeded its budget",
    }
}

/// `function.success`, `workflow.budget_exceeded`, `node.timeout`, ... for the `event` field.
fn event_name(kind: Kind, status: Status) -> &'static str {
    let word = |function, workflow, node| match kind {
        Kind::Function => function,
        Kind::Workflow(_) => workflow,
        Kind::Node(_) => node,
    };
    match status {
        Status::Ok => word("function.success", "workflow.success", "node.success"),
        Status::Error => word("function.error", "workflow.error", "node.error"),
        Status::Panic => word("function.panic", "workflow.panic", "node.panic"),
        Status::Cancelled => word("function.cancelled", "workflow.cancelled", "node.cancelled"),
        Status::Timeout => word("function.timeout", "workflow.timeout", "node.timeout"),
        Status::BudgetExceeded => word("function.budget_exceeded", "workflow.budget_exceeded", "node.budget_exceeded"),
    }
}

fn hint_missing_init(site: &'static CallSite) {
    static HINTED: AtomicBool = AtomicBool::new(false);
    if cfg!(debug_assertions)
        && site.records_metrics()
        && !metrics::active()
        && !HINTED.load(Ordering::Relaxed)
        && !HINTED.swap(true, Ordering::Relaxed)
    {
        eprintln!(
            "obs: `{}` ran before obs_runtime::init(); its metrics are not recorded (this hint shows once, in debug builds)",
            site.span_name()
        );
    }
}

/// Handed to the generated classifier when the call returns; it ends the call
/// with the outcome read from the return value.
///
/// For a node attempt that will be retried, it logs `node.retry` instead.
#[doc(hidden)]
pub struct Completion<'a> {
    target: Target,
    span: &'a Span,
}

enum Target {
    End(Call),
    Retry { site: &'static CallSite, attempt: u32, backoff: Duration },
}

impl<'a> Completion<'a> {
    pub(crate) fn end(call: Call, span: &'a Span) -> Self {
        Completion { target: Target::End(call), span }
    }

    pub(crate) fn retry(site: &'static CallSite, attempt: u32, backoff: Duration, span: &'a Span) -> Self {
        Completion { target: Target::Retry { site, attempt, backoff }, span }
    }

    /// The call succeeded.
    pub fn ok(self) {
        if let Target::End(call) = self.target {
            call.end(self.span, End::Ok(None));
        }
    }

    /// The call succeeded; `ret` is recorded on the end event (`ret` argument).
    pub fn ok_ret(self, ret: &dyn Value) {
        if let Target::End(call) = self.target {
            call.end(self.span, End::Ok(Some(ret)));
        }
    }

    /// The call returned an error of `kind`.
    pub fn error(self, kind: &'static str, message: ErrorMessage<'_>) {
        match self.target {
            Target::End(call) => call.end(self.span, End::Error(kind, message)),
            Target::Retry { site, attempt, backoff } => {
                // `error.message` recorded once: an exporter reading the first value
                // must not find an empty one.
                if !self.span.is_disabled() {
                    record_outcome(self.span, Status::Error, &End::Error(kind, message));
                }
                let display = tracing::field::display(&message);
                let error: Option<&dyn Value> = match &message {
                    ErrorMessage::Error(e) => Some(e as &dyn Value),
                    ErrorMessage::None => None,
                    _ => Some(&display),
                };
                let extra = Extra {
                    kind: Some(&kind),
                    error,
                    attempt: Some(attempt),
                    backoff_ms: Some(backoff.as_micros() as f64 / 1000.0),
                    ..Extra::default()
                };
                emit(site, &site.retry, "failed, retrying", "node.retry", extra);
            }
        }
    }
}

/// A future measured from its first poll to completion, inside its span.
/// Dropped early it records `cancelled`, or `panic` when a poll unwound.
///
/// Generic over the future only, and only `poll` is: the call's state and its
/// end live in the non-generic `CallState`, compiled once in this crate
/// rather than once per instrumented function.
#[doc(hidden)]
#[pin_project]
pub struct Observed<F: Future> {
    // Declared first so that a cancellation is recorded before the inner
    // future (and any call in progress inside it) is dropped.
    state: CallState,
    classify: fn(&F::Output, Completion<'_>),
    #[pin]
    inner: F,
}

impl<F: Future> Observed<F> {
    /// `T` is the function's declared output, given by the generated code, so
    /// that the body and the classifier are type-checked against concrete types.
    #[inline]
    pub fn new<T>(site: &'static CallSite, span: Span, inner: F, classify: fn(&T, Completion<'_>)) -> Self
    where
        F: Future<Output = T>,
    {
        let progress = Progress { site, call: None, done: false, polling: false };
        Observed { state: CallState { span, progress }, classify, inner }
    }
}

impl<F: Future> Future for Observed<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let CallState { span, progress } = this.state;
        let _entered = span.enter();
        if !progress.begin() {
            // Polled after completion: the inner future decides what that means.
            return this.inner.poll(cx);
        }
        // A panic inside `poll` leaves `polling` set, which `drop` reads even when
        // the executor caught the panic before dropping the future.
        progress.polling = true;
        let poll = this.inner.poll(cx);
        progress.polling = false;
        if let Poll::Ready(output) = &poll
            && let Some(completion) = progress.complete(span)
        {
            (this.classify)(output, completion);
        }
        poll
    }
}

/// The part of [`Observed`] that does not depend on the future.
struct CallState {
    span: Span,
    progress: Progress,
}

/// Where the call is, kept apart from the span so that both can be borrowed
/// while the span is entered.
struct Progress {
    site: &'static CallSite,
    call: Option<Call>,
    /// Set once the output was classified: later polls are not measured.
    done: bool,
    polling: bool,
}

impl Progress {
    /// Starts the call on its first poll; `false` once the call has ended.
    #[inline]
    fn begin(&mut self) -> bool {
        if self.call.is_none() {
            if self.done {
                return false;
            }
            self.call = Some(Call::start(self.site));
        }
        true
    }

    /// The completion the classifier ends the call with, once.
    #[inline]
    fn complete<'s>(&mut self, span: &'s Span) -> Option<Completion<'s>> {
        self.done = true;
        self.call.take().map(|call| Completion::end(call, span))
    }
}

impl Drop for CallState {
    fn drop(&mut self) {
        if let Some(call) = self.progress.call.take() {
            let _entered = self.span.enter();
            let end = if self.progress.polling || std::thread::panicking() { End::Panic } else { End::Cancelled };
            call.end(&self.span, end);
        }
    }
}

/// The synchronous counterpart of [`Observed`]: enters the span and measures
/// until [`Guard::ok`] or [`Guard::error`], or records `panic` when dropped
/// while unwinding. Not generic: the generated code matches on the return
/// value itself and calls the method for the outcome.
#[doc(hidden)]
pub struct Guard<'a> {
    call: Option<Call>,
    span: &'a Span,
    _entered: Entered<'a>,
}

impl<'a> Guard<'a> {
    #[inline]
    pub fn enter(site: &'static CallSite, span: &'a Span) -> Guard<'a> {
        let entered = span.enter();
        Guard { call: Some(Call::start(site)), span, _entered: entered }
    }

    /// The call succeeded.
    #[inline]
    pub fn ok(mut self) {
        if let Some(call) = self.call.take() {
            call.end(self.span, End::Ok(None));
        }
    }

    /// The call succeeded; `ret` is recorded on the end event (`ret` argument).
    #[inline]
    pub fn ok_ret(mut self, ret: &dyn Value) {
        if let Some(call) = self.call.take() {
            call.end(self.span, End::Ok(Some(ret)));
        }
    }

    /// The call returned an error of `kind`.
    #[inline]
    pub fn error(mut self, kind: &'static str, message: ErrorMessage<'_>) {
        if let Some(call) = self.call.take() {
            call.end(self.span, End::Error(kind, message));
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.end(self.span, End::Panic);
        }
    }
}
