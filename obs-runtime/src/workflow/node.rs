//! The future behind `#[node]`: one call made of attempts, each in its own
//! span, with a timeout per attempt and retries with exponential backoff.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project::{pin_project, pinned_drop};
use tracing::Span;

use super::context::{self, Ctx};
use super::flow::{FlowCall, FlowCompletion};
use super::limits::{NodeOptions, TimeoutError};
use super::site::FlowSite;
use super::timer::{self, Sleep};
use crate::call::{Call, End};
use crate::error::ErrorMessage;
use crate::labels::UNLABELLED;

/// Makes the attempts of a node call: the attempt's span and its future.
#[doc(hidden)]
pub trait Attempts {
    type Fut: Future;
    fn next_attempt(&mut self) -> Option<(Span, Self::Fut)>;
}

/// A node without retries: one attempt, arguments moved in.
#[doc(hidden)]
pub struct Once<F>(pub Option<F>);

impl<F, Fut> Attempts for Once<F>
where
    F: FnOnce() -> (Span, Fut),
    Fut: Future,
{
    type Fut = Fut;
    fn next_attempt(&mut self) -> Option<(Span, Fut)> {
        self.0.take().map(|make| make())
    }
}

/// A node with retries: every attempt gets clones of the arguments.
#[doc(hidden)]
pub struct Repeat<F>(pub F);

impl<F, Fut> Attempts for Repeat<F>
where
    F: FnMut() -> (Span, Fut),
    Fut: Future,
{
    type Fut = Fut;
    fn next_attempt(&mut self) -> Option<(Span, Fut)> {
        Some((self.0)())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Running,
    Backoff,
    /// Finished, or stopped by the run's hop budget (the run is being stopped).
    Done,
}

/// A node call in progress.
#[doc(hidden)]
#[pin_project(PinnedDrop)]
pub struct NodeCall<A: Attempts, C, R, T> {
    site: &'static FlowSite,
    options: NodeOptions,
    attempts: A,
    classify: C,
    retry_if: Option<R>,
    on_timeout: Option<T>,
    #[pin]
    current: Option<A::Fut>,
    span: Span,
    call: Option<Call<FlowCall>>,
    ctx: Option<Ctx>,
    timer: Option<Sleep>,
    phase: Phase,
    polling: bool,
    /// The series `labels(...)` selected for this call (all its attempts).
    labels: usize,
}

impl<A, C, R, T> NodeCall<A, C, R, T>
where
    A: Attempts,
    C: Fn(&<A::Fut as Future>::Output, FlowCompletion<'_>),
    R: Fn(&<A::Fut as Future>::Output) -> bool,
    T: Fn(TimeoutError) -> <A::Fut as Future>::Output,
{
    #[inline]
    pub fn new(site: &'static FlowSite, attempts: A, classify: C, retry_if: Option<R>, on_timeout: Option<T>) -> Self {
        let options = site.node_options();
        NodeCall {
            site,
            options,
            attempts,
            classify,
            retry_if,
            on_timeout,
            current: None,
            span: Span::none(),
            call: None,
            ctx: None,
            timer: None,
            phase: Phase::Start,
            polling: false,
            labels: UNLABELLED,
        }
    }

    /// Counts the call (every attempt of it) in the series its `labels(...)`
    /// values selected, evaluated once when the node was called.
    #[inline]
    pub fn labelled(mut self, labels: usize) -> Self {
        self.labels = labels;
        self
    }
}

impl<A, C, R, T> Future for NodeCall<A, C, R, T>
where
    A: Attempts,
    C: Fn(&<A::Fut as Future>::Output, FlowCompletion<'_>),
    R: Fn(&<A::Fut as Future>::Output) -> bool,
    T: Fn(TimeoutError) -> <A::Fut as Future>::Output,
{
    type Output = <A::Fut as Future>::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match *this.phase {
                Phase::Start => {
                    let outer = context::current_ctx();
                    let Some((span, fut)) = this.attempts.next_attempt() else { return Poll::Pending };
                    *this.span = span;
                    let hop = outer.as_ref().map_or(Ok(()), |ctx| ctx.run.hop());
                    let _entered = this.span.enter();
                    let flow = FlowCall::node(this.site, outer.clone(), *this.labels);
                    if let Err(exceeded) = hop {
                        // Over the hop budget: the node does not run, and its run stops.
                        drop(fut);
                        let end = End::Error("budget_exceeded", ErrorMessage::Error(&exceeded));
                        flow.start(this.span, false).end(this.span, end);
                        *this.phase = Phase::Done;
                        return Poll::Pending;
                    }
                    *this.ctx = outer.map(|ctx| Ctx { run: ctx.run, node: Some(this.site.name()) });
                    this.current.set(Some(fut));
                    *this.call = Some(flow.start(this.span, true));
                    *this.timer = this.options.timeout().map(timer::sleep);
                    *this.phase = Phase::Running;
                }
                Phase::Running => {
                    let _entered = this.span.enter();
                    let _ctx = this.ctx.clone().map(context::enter);
                    let Some(current) = this.current.as_mut().as_pin_mut() else { return Poll::Pending };
                    *this.polling = true;
                    if let Some(call) = this.call.as_mut() {
                        call.poll_begin();
                    }
                    let poll = current.poll(cx);
                    if let Some(call) = this.call.as_mut() {
                        call.poll_end();
                    }
                    *this.polling = false;
                    let (output, timed_out) = match poll {
                        Poll::Ready(output) => (output, false),
                        Poll::Pending => {
                            let expired = this.timer.as_mut().is_some_and(|t| t.poll_expired(cx));
                            match (expired, this.on_timeout.as_ref(), this.options.timeout()) {
                                (true, Some(on_timeout), Some(after)) => (on_timeout(TimeoutError { after }), true),
                                _ => return Poll::Pending,
                            }
                        }
                    };
                    // A timed-out attempt is dropped here, inside its span and run.
                    this.current.set(None);
                    *this.timer = None;
                    let Some(call) = this.call.as_mut() else { return Poll::Ready(output) };
                    let flow = call.hook_mut();
                    flow.timed_out = timed_out;
                    let attempt = flow.attempt;
                    let aborted = flow.run.as_ref().is_some_and(|run| run.aborted());
                    let retry = attempt <= this.options.retries()
                        && !aborted
                        && this.retry_if.as_ref().is_some_and(|retry_if| retry_if(&output));
                    if !retry {
                        if let Some(call) = this.call.take() {
                            (this.classify)(&output, FlowCompletion::end(call, this.span));
                        }
                        *this.phase = Phase::Done;
                        return Poll::Ready(output);
                    }
                    let backoff = backoff(this.options, attempt);
                    (this.classify)(&output, FlowCompletion::retry(this.site, attempt, backoff, this.span));
                    call.hook().retried();
                    drop(output);
                    *this.timer = (!backoff.is_zero()).then(|| timer::sleep(backoff));
                    *this.phase = Phase::Backoff;
                }
                Phase::Backoff => {
                    if let Some(timer) = this.timer.as_mut()
                        && !timer.poll_expired(cx)
                    {
                        return Poll::Pending;
                    }
                    let Some((span, fut)) = this.attempts.next_attempt() else { return Poll::Pending };
                    *this.span = span;
                    this.current.set(Some(fut));
                    *this.timer = this.options.timeout().map(timer::sleep);
                    if let Some(call) = this.call.as_mut() {
                        call.hook_mut().attempt += 1;
                        call.hook_mut().attempt_began();
                        let _entered = this.span.enter();
                        call.hook().announce(this.span);
                    }
                    *this.phase = Phase::Running;
                }
                Phase::Done => return Poll::Pending,
            }
        }
    }
}

/// Exponential backoff with equal jitter: half the doubled delay, plus a random
/// part of the other half, capped by `max_backoff`.
fn backoff(options: &NodeOptions, attempt: u32) -> Duration {
    let doubled = options.backoff().saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX));
    let capped = doubled.min(options.max_backoff());
    let half = capped / 2;
    let jitter = (crate::log::random_u64() % 1_000_001) as f64 / 1_000_000.0;
    half + half.mul_f64(jitter)
}

#[pinned_drop]
impl<A: Attempts, C, R, T> PinnedDrop for NodeCall<A, C, R, T> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        if let Some(call) = this.call.take() {
            let _entered = this.span.enter();
            let panicked = *this.polling || std::thread::panicking();
            {
                let _ctx = this.ctx.clone().map(context::enter);
                this.current.set(None);
            }
            call.end_dropped(this.span, panicked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let options = NodeOptions::DEFAULT
            .with_retries(5)
            .with_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_millis(300));
        for _ in 0..100 {
            let first = backoff(&options, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let second = backoff(&options, 2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200), "{second:?}");
            let capped = backoff(&options, 9);
            assert!(capped >= Duration::from_millis(150) && capped <= Duration::from_millis(300), "{capped:?}");
        }
    }
}
