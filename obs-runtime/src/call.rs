//! One measured call: [`Observed`] wraps a future, [`Guard`] a synchronous
//! body. Both end the call exactly once: with the outcome the generated
//! classifier gives, or as cancelled or panicked when dropped before that.
//!
//! The call path knows only what every instrumented function has. What a
//! `#[workflow]` or `#[node]` adds (its run, attempts, budgets, extra events and
//! metrics) reaches a call through a [`Hook`], implemented in `workflow/`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use quanta::Instant;
use tracing::Span;
use tracing::level_filters::LevelFilter;
use tracing::span::Entered;
use tracing_core::Event;
use tracing_core::field::Value;

use crate::callsite::{CallSite, Site, hint_missing_init};
use crate::error::ErrorMessage;
use crate::labels::UNLABELLED;
use crate::log::redact::RedactUrls;
use crate::metrics::poll::PollSeries;
use crate::metrics::store::FunctionSeries;
use crate::metrics::{Handles, Series, Status};

/// What a kind of call adds to the plain function call: `()` for
/// `#[observe]`, the run and attempt for workflows and nodes.
pub(crate) trait Hook {
    /// The status the call ends with, given how its body ended (an error after a
    /// timeout is a `timeout`).
    fn status(&self, ended: Status) -> Status;
    /// Records the end beyond the function's own metrics.
    fn end(&self, status: Status, elapsed: Duration);
    /// The event site for statuses a plain function cannot end with.
    fn event_site(&self, status: Status) -> Option<&'static Site>;
    /// The `event` field for `status` (`function.success`, `node.timeout`, ...).
    fn event_name(&self, status: Status) -> &'static str;
    /// The `attempt` field of end events.
    fn attempt(&self) -> Option<u32>;
    /// The `budget` field of an end event with `status`.
    fn budget(&self, status: Status) -> Option<&'static str>;
    /// The `workflow` label: a run's own workflow, a node's run's (read by test captures).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    fn workflow(&self) -> Option<&'static str> {
        None
    }
}

impl Hook for () {
    #[inline]
    fn status(&self, ended: Status) -> Status {
        ended
    }
    #[inline]
    fn end(&self, _: Status, _: Duration) {}
    fn event_site(&self, _: Status) -> Option<&'static Site> {
        None
    }
    fn event_name(&self, status: Status) -> &'static str {
        match status {
            Status::Ok => "function.success",
            Status::Error => "function.error",
            Status::Panic => "function.panic",
            Status::Cancelled => "function.cancelled",
            Status::Timeout => "function.timeout",
            Status::BudgetExceeded => "function.budget_exceeded",
        }
    }
    fn attempt(&self) -> Option<u32> {
        None
    }
    fn budget(&self, _: Status) -> Option<&'static str> {
        None
    }
}

/// A call in progress: when it started, where its metrics go, and what its
/// kind adds (`hook`).
pub(crate) struct Call<H: Hook = ()> {
    site: &'static CallSite,
    /// `None` when nothing could use the duration (no metrics, no subscriber):
    /// the clock is then not read at all.
    start: Option<Instant>,
    /// The call site's handles and the series this call's labels selected,
    /// looked up once here: the end records into the same series.
    handles: Option<(&'static Handles, &'static Series)>,
    /// A workflow's or node's series for `/obs/hotspots`.
    flow_series: Option<&'static FunctionSeries>,
    /// The busy time of an async call, when it is measured.
    polls: Option<Polls>,
    hook: H,
}

/// The polls of an async call so far: their summed duration, and when the one
/// in progress began.
struct Polls {
    series: &'static PollSeries,
    busy_nanos: u64,
    since: Instant,
    in_poll: bool,
}

#[inline]
fn nanos(elapsed: Duration) -> u64 {
    elapsed.as_secs().saturating_mul(1_000_000_000).saturating_add(u64::from(elapsed.subsec_nanos()))
}

/// An optional event field value.
type Field<'a> = Option<&'a dyn Value>;

/// How a call ended, as the generated code or a driver reports it.
#[doc(hidden)]
pub enum End<'a> {
    /// Returned normally; the value when `ret` asks for it.
    Ok(Option<&'a dyn Value>),
    /// Returned an error of this kind.
    Error(&'static str, ErrorMessage<'a>),
    /// Unwound from a panic.
    Panic,
    /// Dropped before it completed.
    Cancelled,
}

/// The optional fields of a lifecycle event.
#[derive(Default)]
pub(crate) struct Extra<'a> {
    pub duration_ms: Option<f64>,
    pub kind: Option<&'a dyn Value>,
    pub error: Option<&'a dyn Value>,
    pub ret: Option<&'a dyn Value>,
    pub attempt: Option<u32>,
    pub backoff_ms: Option<f64>,
    pub budget: Option<&'static str>,
    /// The unit that logged this failure's error at ERROR (`log/cause.rs`).
    pub cause: Option<&'static str>,
}

/// Dispatches one lifecycle event of `call_site` on `site`.
pub(crate) fn emit(
    call_site: &'static CallSite,
    site: &'static Site,
    verb: &'static str,
    event: &'static str,
    extra: Extra<'_>,
) {
    if !call_site.logs() || !site.enabled() {
        return;
    }
    let message = tracing::field::display(Message { name: call_site.name(), verb });
    let values: [Option<&dyn Value>; 10] = [
        Some(&message),
        Some(&event),
        extra.duration_ms.as_ref().map(|v| v as &dyn Value),
        extra.kind,
        extra.error,
        extra.ret,
        extra.attempt.as_ref().map(|v| v as &dyn Value),
        extra.backoff_ms.as_ref().map(|v| v as &dyn Value),
        extra.budget.as_ref().map(|v| v as &dyn Value),
        extra.cause.as_ref().map(|v| v as &dyn Value),
    ];
    let meta = site.metadata();
    Event::dispatch(meta, &meta.fields().value_set_all(&values));
}

impl Call {
    // Inlinable: it is not generic, so a debug build compiles one copy per
    // crate, not one per instrumented function, and release builds keep the
    // hot path free of a call (about 15 ns per call when it was not inlined).
    #[inline]
    fn start(site: &'static CallSite, labels: usize) -> Call {
        let handles = site.handles().map(|handles| (handles, handles.series(labels)));
        match handles {
            Some((_, series)) => series.start(),
            None => hint_missing_init(site),
        }
        // `LevelFilter::current()` is `OFF` until some subscriber exists anywhere.
        let timed = handles.is_some() || (site.logs() && LevelFilter::current() != LevelFilter::OFF);
        Call { site, start: timed.then(Instant::now), handles, flow_series: None, polls: None, hook: () }
    }

    /// A call of an async function, started by its first poll: that poll is
    /// timed from the clock read that starts the call.
    #[inline]
    fn start_polled(site: &'static CallSite, labels: usize) -> Call {
        let mut call = Call::start(site, labels);
        if let (Some(series), Some(since)) = (site.poll_series(), call.start) {
            call.polls = Some(Polls { series, busy_nanos: 0, since, in_poll: true });
        }
        call
    }
}

impl<H: Hook> Call<H> {
    /// A call whose kind adds `hook`; always timed, since its hook measures it.
    pub(crate) fn with_hook(site: &'static CallSite, hook: H) -> Call<H> {
        let now = Instant::now();
        let polls = site.poll_series().map(|series| Polls { series, busy_nanos: 0, since: now, in_poll: false });
        let flow_series = site.flow_series();
        if let Some(series) = flow_series {
            series.start();
        }
        Call { site, start: Some(now), handles: None, flow_series, polls, hook }
    }

    /// A poll of the call's future begins (a no-op when busy time is not measured).
    #[inline]
    pub(crate) fn poll_begin(&mut self) {
        if let Some(polls) = &mut self.polls
            && !polls.in_poll
        {
            polls.since = Instant::now();
            polls.in_poll = true;
        }
    }

    /// The poll in progress returned without ending the call.
    #[inline]
    pub(crate) fn poll_end(&mut self) {
        if let Some(polls) = &mut self.polls
            && polls.in_poll
        {
            polls.in_poll = false;
            let took = nanos(polls.since.elapsed());
            polls.busy_nanos = polls.busy_nanos.saturating_add(took);
            polls.series.poll(took);
        }
    }

    pub(crate) fn hook(&self) -> &H {
        &self.hook
    }

    pub(crate) fn hook_mut(&mut self) -> &mut H {
        &mut self.hook
    }

    /// The call was dropped before it completed: cancelled, or unwinding from a panic.
    pub(crate) fn end_dropped(self, span: &Span, panicked: bool) {
        self.end(span, if panicked { End::Panic } else { End::Cancelled });
    }

    pub(crate) fn end(self, span: &Span, end: End<'_>) {
        let now = self.start.map(|start| (start, Instant::now()));
        let elapsed = now.map(|(start, now)| now.duration_since(start));
        if let Some(polls) = &self.polls {
            // Ended inside a poll (the future returned, or its poll unwound): that
            // poll lasted until now, read once for both.
            let mut busy = polls.busy_nanos;
            if polls.in_poll
                && let Some((_, now)) = now
            {
                let took = nanos(now.duration_since(polls.since));
                busy = busy.saturating_add(took);
                polls.series.poll(took);
            }
            polls.series.end(busy);
        }
        let ended = match end {
            End::Ok(_) => Status::Ok,
            End::Error(..) => Status::Error,
            End::Panic => Status::Panic,
            End::Cancelled => Status::Cancelled,
        };
        let status = self.hook.status(ended);
        // A test capture's own tally (`obs_runtime::testing`): one relaxed load when none is active.
        #[cfg(feature = "testing")]
        if crate::testing::capturing() {
            let kind = if let End::Error(kind, _) = end { Some(kind) } else { None };
            crate::testing::ended(self.site, status, kind, self.hook.workflow(), self.hook.budget(status), false);
        }
        self.hook.end(status, elapsed.unwrap_or_default());
        if let Some(series) = self.flow_series {
            series.end(status, elapsed.unwrap_or_default());
        }
        if let Some((handles, series)) = self.handles {
            // Always ended, so in-flight goes back down; `start` is set whenever there are handles.
            series.end(status, elapsed.unwrap_or_default(), span);
            if let End::Error(kind, _) = end {
                handles.error(kind, series);
            }
        }
        if !span.is_disabled() {
            record_outcome(span, status, &end);
        }
        if self.site.logs()
            && let Some(elapsed) = elapsed
        {
            self.log(span, status, elapsed, &end);
        }
    }

    fn log(&self, span: &Span, status: Status, elapsed: Duration, end: &End<'_>) {
        let mut site: &'static Site = match (self.hook.event_site(status), status) {
            (Some(site), _) => site,
            (None, Status::Ok) => &self.site.ok,
            (None, Status::Cancelled) => &self.site.cancelled,
            (None, Status::Panic) => &self.site.panicked,
            (None, _) => &self.site.error,
        };
        // One failure, one ERROR line (`log/cause.rs`): the error an inner call
        // logged is referred to at WARN; a new one is marked for the calls around.
        // The marks live on spans: without one (nothing listens to spans) there is nothing to compare.
        let failure = match end {
            _ if span.is_disabled() => None,
            End::Error(kind, message) => Some((*kind, message.to_string())),
            End::Panic => Some(("panic", String::new())),
            End::Ok(_) | End::Cancelled => None,
        };
        let cause = failure.as_ref().and_then(|(kind, message)| crate::log::cause::logged_inside(span, kind, message));
        if cause.is_some() {
            site = &self.site.failed_inside;
        }
        if !site.enabled() {
            return;
        }
        if let (Some((kind, message)), None) = (&failure, cause)
            && *site.metadata().level() == tracing::Level::ERROR
        {
            crate::log::cause::mark_enclosing(span, self.site.name(), kind, message);
        }
        let duration_ms = elapsed.as_micros() as f64 / 1000.0;
        let error_display;
        let (kind, error, ret): (Field<'_>, Field<'_>, Field<'_>) = match end {
            End::Ok(ret) => (None, None, *ret),
            // A reference to the error logged inside: its kind and message, not its chain again.
            End::Error(kind, message) if cause.is_some() => {
                error_display = tracing::field::display(message);
                (Some(kind), Some(&error_display), None)
            }
            End::Error(kind, ErrorMessage::Error(e)) => (Some(kind), Some(e as &dyn Value), None),
            End::Error(kind, ErrorMessage::None) => (Some(kind), None, None),
            End::Error(kind, message) => {
                error_display = tracing::field::display(message);
                (Some(kind), Some(&error_display), None)
            }
            End::Panic => (Some(&"panic"), None, None),
            End::Cancelled => (None, None, None),
        };
        let extra = Extra {
            duration_ms: Some(duration_ms),
            kind,
            error,
            ret,
            attempt: self.hook.attempt(),
            backoff_ms: None,
            budget: self.hook.budget(status),
            cause,
        };
        emit(self.site, site, verb(status), self.hook.event_name(status), extra);
    }
}

/// Records how the call ended on its span: error type and message and the
/// OpenTelemetry status for failures, `obs.outcome` for the statuses that are
/// not plain errors.
pub(crate) fn record_outcome(span: &Span, status: Status, end: &End<'_>) {
    // Nothing listens, or nothing reads these fields: skip the message's formatting too.
    if span.is_disabled() || !crate::log::exporter_fields_read() {
        return;
    }
    match end {
        End::Ok(_) => {}
        End::Error(kind, message) => {
            span.record("error.type", *kind);
            // The exported status message, with the secrets of URLs in it removed.
            let text = message.to_string();
            span.record("error.message", tracing::field::display(RedactUrls(&text)));
            span.record("otel.status_code", "ERROR");
            if status != Status::Error {
                span.record("obs.outcome", status.as_str());
            }
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

/// How the generated code ends a call: the same three outcomes on
/// [`Completion`], [`Guard`] and a workflow's or node's completion, each of
/// which only says what ending means for it.
#[doc(hidden)]
pub trait Outcome: Sized {
    /// Ends the call.
    fn finish(self, end: End<'_>);

    /// The call succeeded.
    #[inline]
    fn ok(self) {
        self.finish(End::Ok(None));
    }

    /// The call succeeded; `ret` is recorded on the end event (`ret` argument).
    #[inline]
    fn ok_ret(self, ret: &dyn Value) {
        self.finish(End::Ok(Some(ret)));
    }

    /// The call returned an error of `kind`.
    #[inline]
    fn error(self, kind: &'static str, message: ErrorMessage<'_>) {
        self.finish(End::Error(kind, message));
    }
}

/// Handed to the generated classifier when an `#[observe]` future completes;
/// it ends the call with the outcome read from the return value.
#[doc(hidden)]
pub struct Completion<'a> {
    call: Call,
    span: &'a Span,
}

impl Outcome for Completion<'_> {
    #[inline]
    fn finish(self, end: End<'_>) {
        self.call.end(self.span, end);
    }
}

/// A future measured from its first poll to completion, inside its span.
/// Dropped early it records `cancelled`, or `panic` when a poll unwound.
///
/// Generic over the future only, and only `poll` is, kept short: the call's
/// state and its end live in the non-generic `CallState`, compiled once per
/// crate rather than once per instrumented function. For the same reason
/// `inner` is projected by hand: pin-project would generate a projection type
/// and method for every instrumented function's future.
#[doc(hidden)]
pub struct Observed<F: Future> {
    // Declared first so that a cancellation is recorded before the inner
    // future (and any call in progress inside it) is dropped.
    state: CallState,
    classify: fn(&F::Output, Completion<'_>),
    /// Structurally pinned (see `poll`).
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
        Observed::labelled(site, UNLABELLED, span, inner, classify)
    }

    /// [`Observed::new`] for a call site with `labels(...)`: `labels` is the
    /// index of the series this call's label values selected.
    #[inline]
    pub fn labelled<T>(
        site: &'static CallSite,
        labels: usize,
        span: Span,
        inner: F,
        classify: fn(&T, Completion<'_>),
    ) -> Self
    where
        F: Future<Output = T>,
    {
        let progress = Progress { site, labels, call: None, done: false, polling: false };
        Observed { state: CallState { span, progress }, classify, inner }
    }
}

impl<F: Future> Future for Observed<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is pinned whenever `self` is: it is never moved out of
        // an `Observed` nor reached unpinned (nothing hands out `&mut F`), and
        // `Observed` has no `Drop` of its own (`CallState`'s never touches
        // `inner`). `Observed` is `Unpin` only when `F` is: its other fields are.
        let this = unsafe { self.get_unchecked_mut() };
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let CallState { span, progress } = &mut this.state;
        let _entered = span.enter();
        // Unmeasured once the call has ended: a poll after completion is the
        // inner future's business.
        let measured = progress.begin();
        let poll = inner.poll(cx);
        if measured {
            match &poll {
                Poll::Ready(output) => {
                    if let Some(completion) = progress.complete(span) {
                        (this.classify)(output, completion);
                    }
                }
                Poll::Pending => progress.pending(),
            }
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
    labels: usize,
    call: Option<Call>,
    /// Set once the output was classified: later polls are not measured.
    done: bool,
    polling: bool,
}

impl Progress {
    /// A poll begins: starts the call on the first, times the later ones;
    /// `false` once the call has ended (the poll is then not measured).
    #[inline]
    fn begin(&mut self) -> bool {
        match &mut self.call {
            Some(call) => call.poll_begin(),
            None => {
                if self.done {
                    return false;
                }
                self.call = Some(Call::start_polled(self.site, self.labels));
            }
        }
        // A panic inside the inner poll leaves `polling` set, which `drop` reads
        // even when the executor caught the panic before dropping the future.
        self.polling = true;
        true
    }

    /// The measured poll returned `Pending`.
    #[inline]
    fn pending(&mut self) {
        self.polling = false;
        if let Some(call) = &mut self.call {
            call.poll_end();
        }
    }

    /// The measured poll returned the output: the completion the classifier
    /// ends the call with, once.
    #[inline]
    fn complete<'s>(&mut self, span: &'s Span) -> Option<Completion<'s>> {
        self.polling = false;
        self.done = true;
        self.call.take().map(|call| Completion { call, span })
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
        Guard::enter_labelled(site, UNLABELLED, span)
    }

    /// [`Guard::enter`] for a call site with `labels(...)` (see [`Observed::labelled`]).
    #[inline]
    pub fn enter_labelled(site: &'static CallSite, labels: usize, span: &'a Span) -> Guard<'a> {
        let entered = span.enter();
        Guard { call: Some(Call::start(site, labels)), span, _entered: entered }
    }
}

impl Outcome for Guard<'_> {
    #[inline]
    fn finish(mut self, end: End<'_>) {
        if let Some(call) = self.call.take() {
            call.end(self.span, end);
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
