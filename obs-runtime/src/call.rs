//! One measured call: [`Observed`] wraps a future, [`Guard`] a synchronous
//! body. Both end the call exactly once: with the outcome the generated
//! classifier gives, or as cancelled or panicked when dropped before that.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project::{pin_project, pinned_drop};
use tracing::Span;
use tracing::span::Entered;
use tracing_core::Event;
use tracing_core::field::Value;

use crate::callsite::{CallSite, Kind, Site};
use crate::error::ErrorMessage;
use crate::metrics::{self, Handles, Status};

/// A call in progress: when it started and where its metrics go.
pub struct Call {
    site: &'static CallSite,
    start: Instant,
    handles: Option<&'static Handles>,
}

enum End<'a> {
    Ok(Option<&'a dyn Value>),
    Error(&'static str, ErrorMessage<'a>),
    Panic,
    Cancelled,
}

impl Call {
    #[inline]
    fn start(site: &'static CallSite) -> Call {
        let handles = metrics::handles(site);
        match handles {
            Some(handles) => handles.start(),
            None => hint_missing_init(site),
        }
        Call { site, start: Instant::now(), handles }
    }

    fn end(self, span: &Span, end: End<'_>) {
        let elapsed = self.start.elapsed();
        let status = match end {
            End::Ok(_) => Status::Ok,
            End::Error(..) => Status::Error,
            End::Panic => Status::Panic,
            End::Cancelled => Status::Cancelled,
        };
        if let Some(handles) = self.handles {
            handles.end(status, elapsed.as_secs_f64());
            if let End::Error(kind, _) = end {
                handles.error(kind);
            }
        }
        if !span.is_disabled() {
            record_outcome(span, &end);
        }
        if self.site.logs() {
            self.log(status, elapsed.as_micros() as f64 / 1000.0, &end);
        }
    }

    fn log(&self, status: Status, duration_ms: f64, end: &End<'_>) {
        let site: &'static Site = match status {
            Status::Ok => &self.site.ok,
            Status::Error => &self.site.error,
            Status::Panic => &self.site.panicked,
            Status::Cancelled => &self.site.cancelled,
        };
        if !site.enabled() {
            return;
        }
        let message = Message { name: self.site.name(), status };
        let event = event_name(self.site.kind(), status);
        let error_display;
        let (kind, error, ret): EndFields<'_> = match end {
            End::Ok(ret) => (None, None, *ret),
            End::Error(kind, ErrorMessage::Error(e)) => (Some(kind), Some(e as &dyn Value), None),
            End::Error(kind, ErrorMessage::None) => (Some(kind), None, None),
            End::Error(kind, message) => {
                error_display = tracing::field::display(message);
                (Some(kind), Some(&error_display), None)
            }
            End::Panic => (Some(&"panic"), None, None),
            End::Cancelled => (None, None, None),
        };
        let message = tracing::field::display(message);
        let values: [Option<&dyn Value>; 6] = [Some(&message), Some(&event), Some(&duration_ms), kind, error, ret];
        let meta = site.metadata();
        Event::dispatch(meta, &meta.fields().value_set_all(&values));
    }
}

/// The optional `error.kind`, `error` and `return` values of an end event.
type EndFields<'a> = (Option<&'a dyn Value>, Option<&'a dyn Value>, Option<&'a dyn Value>);

fn record_outcome(span: &Span, end: &End<'_>) {
    match end {
        End::Ok(_) => {}
        End::Error(kind, message) => {
            span.record("error.type", *kind);
            span.record("error.message", tracing::field::display(message));
            span.record("otel.status_code", "ERROR");
        }
        End::Panic => {
            span.record("error.type", "panic");
            span.record("otel.status_code", "ERROR");
            span.record("obs.outcome", "panic");
        }
        End::Cancelled => {
            span.record("obs.outcome", "cancelled");
        }
    }
}

struct Message {
    name: &'static str,
    status: Status,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.status {
            Status::Ok => "completed",
            Status::Error => "failed",
            Status::Panic => "panicked",
            Status::Cancelled => "was cancelled",
        };
        write!(f, "{} {verb}", self.name)
    }
}

/// `function.success`, `function.error`, ... for the `event` field.
fn event_name(kind: Kind, status: Status) -> &'static str {
    match (kind, status) {
        (Kind::Function, Status::Ok) => "function.success",
        (Kind::Function, Status::Error) => "function.error",
        (Kind::Function, Status::Panic) => "function.panic",
        (Kind::Function, Status::Cancelled) => "function.cancelled",
    }
}

fn hint_missing_init(site: &'static CallSite) {
    static HINTED: AtomicBool = AtomicBool::new(false);
    if cfg!(debug_assertions) && site.records_metrics() && !metrics::active() && !HINTED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "obs: `{}` ran before obs_runtime::init(); its metrics are not recorded (this hint shows once, in debug builds)",
            site.span_name()
        );
    }
}

/// Handed to the generated classifier when the call returns; it ends the call
/// with the outcome read from the return value.
#[doc(hidden)]
pub struct Completion<'a> {
    call: Call,
    span: &'a Span,
}

impl Completion<'_> {
    /// The call succeeded.
    pub fn ok(self) {
        self.call.end(self.span, End::Ok(None));
    }

    /// The call succeeded; `ret` is recorded on the end event (`ret` argument).
    pub fn ok_ret(self, ret: &dyn Value) {
        self.call.end(self.span, End::Ok(Some(ret)));
    }

    /// The call returned an error of `kind`.
    pub fn error(self, kind: &'static str, message: ErrorMessage<'_>) {
        self.call.end(self.span, End::Error(kind, message));
    }
}

/// A future measured from its first poll to completion, inside its span.
/// Dropped early it records `cancelled`, or `panic` when a poll unwound.
#[doc(hidden)]
#[pin_project(PinnedDrop)]
pub struct Observed<F, C> {
    #[pin]
    inner: F,
    site: &'static CallSite,
    span: Span,
    call: Option<Call>,
    classify: Option<C>,
    polling: bool,
}

impl<F, C> Observed<F, C>
where
    F: Future,
    C: FnOnce(&F::Output, Completion<'_>),
{
    #[inline]
    pub fn new(site: &'static CallSite, span: Span, inner: F, classify: C) -> Self {
        Observed { inner, site, span, call: None, classify: Some(classify), polling: false }
    }
}

impl<F, C> Future for Observed<F, C>
where
    F: Future,
    C: FnOnce(&F::Output, Completion<'_>),
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        if this.call.is_none() {
            if this.classify.is_none() {
                // Polled after completion: the inner future decides what that means.
                return this.inner.poll(cx);
            }
            *this.call = Some(Call::start(this.site));
        }
        // A panic inside `poll` leaves `polling` set, which `drop` reads even when
        // the executor caught the panic before dropping the future.
        *this.polling = true;
        let poll = this.inner.poll(cx);
        *this.polling = false;
        if let Poll::Ready(output) = &poll
            && let (Some(call), Some(classify)) = (this.call.take(), this.classify.take())
        {
            classify(output, Completion { call, span: this.span });
        }
        poll
    }
}

#[pinned_drop]
impl<F, C> PinnedDrop for Observed<F, C> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if let Some(call) = this.call.take() {
            let _entered = this.span.enter();
            let end = if *this.polling || std::thread::panicking() { End::Panic } else { End::Cancelled };
            call.end(this.span, end);
        }
    }
}

/// The synchronous counterpart of [`Observed`]: enters the span and measures
/// until [`Guard::finish`], or records `panic` when dropped while unwinding.
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

    #[inline]
    pub fn finish<T, C: FnOnce(&T, Completion<'_>)>(mut self, ret: &T, classify: C) {
        if let Some(call) = self.call.take() {
            classify(ret, Completion { call, span: self.span });
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
