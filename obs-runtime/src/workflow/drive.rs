//! The future behind `#[workflow]`: the body polled inside the run's span and
//! context, stopped when a budget says so.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project::{pin_project, pinned_drop};
use tracing::Span;

use super::active;
use super::context::{Ctx, enter};
use super::flow::{FlowCall, FlowCompletion};
use super::limits::{Budget, BudgetExceeded};
use super::run::Run;
use super::site::FlowSite;
use super::timer::{self, Sleep};
use crate::call::Call;
use crate::labels::UNLABELLED;

/// A workflow run in progress: the body polled inside the run's span and
/// context, stopped when a budget says so.
#[doc(hidden)]
#[pin_project(PinnedDrop)]
pub struct WorkflowRun<F, C, B> {
    #[pin]
    inner: Option<F>,
    site: &'static FlowSite,
    span: Span,
    call: Option<Call<FlowCall>>,
    run: Option<Arc<Run>>,
    classify: Option<C>,
    on_budget: Option<B>,
    deadline: Option<Sleep>,
    polling: bool,
    tracking: Option<crate::mlflow::Tracking>,
    /// The series `labels(...)` selected for this run.
    labels: usize,
}

impl<F, C, B> WorkflowRun<F, C, B>
where
    F: Future,
    C: FnOnce(&F::Output, FlowCompletion<'_>),
    B: FnOnce(BudgetExceeded) -> F::Output,
{
    #[inline]
    pub fn new(site: &'static FlowSite, span: Span, inner: F, classify: C, on_budget: Option<B>) -> Self {
        WorkflowRun {
            inner: Some(inner),
            site,
            span,
            call: None,
            run: None,
            classify: Some(classify),
            on_budget,
            deadline: None,
            polling: false,
            tracking: None,
            labels: UNLABELLED,
        }
    }

    /// Counts the run in the series its `labels(...)` values selected
    /// (evaluated once, when the workflow was called).
    #[inline]
    pub fn labelled(mut self, labels: usize) -> Self {
        self.labels = labels;
        self
    }

    /// Makes each run an MLflow run (`#[workflow(mlflow(...))]`), when tracking is on.
    #[inline]
    pub fn tracked(mut self, tracking: Option<crate::mlflow::Tracking>) -> Self {
        self.tracking = tracking;
        self
    }
}

impl<F, C, B> Future for WorkflowRun<F, C, B>
where
    F: Future,
    C: FnOnce(&F::Output, FlowCompletion<'_>),
    B: FnOnce(BudgetExceeded) -> F::Output,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        if this.run.is_none() {
            let run = Arc::new(Run::new(this.site, *this.labels));
            this.span.record("workflow", this.site.name());
            this.span.record("run_id", tracing::field::display(run.id));
            active::insert(&run);
            let call = FlowCall::workflow(this.site, run.clone()).start(this.span, true);
            if let Some(tracking) = this.tracking.take() {
                call.hook().track(this.span, tracking);
            }
            *this.call = Some(call);
            *this.deadline = this.site.workflow_options().deadline().map(timer::sleep);
            *this.run = Some(run);
        }
        let Some(run) = this.run.clone() else { return Poll::Pending };
        if this.call.is_none() {
            // Polled after completion.
            return Poll::Pending;
        }
        run.set_waker(cx.waker());
        let _ctx = enter(Ctx { run: run.clone(), node: None });
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.poll_expired(cx)
        {
            run.trip(Budget::Deadline, true);
        }
        if !run.aborted()
            && let Some(inner) = this.inner.as_mut().as_pin_mut()
        {
            *this.polling = true;
            if let Some(call) = this.call.as_mut() {
                call.poll_begin();
            }
            let poll = inner.poll(cx);
            if let Some(call) = this.call.as_mut() {
                call.poll_end();
            }
            *this.polling = false;
            if let Poll::Ready(output) = poll {
                this.inner.set(None);
                finish_with(this.call, this.classify, this.span, &output);
                return Poll::Ready(output);
            }
        }
        if run.aborted()
            && let Some(on_budget) = this.on_budget.take()
        {
            // Dropping the body inside the run's context ends its running nodes first.
            this.inner.set(None);
            let budget = run.exceeded().unwrap_or(Budget::Deadline);
            let output = on_budget(run.error(budget));
            finish_with(this.call, this.classify, this.span, &output);
            return Poll::Ready(output);
        }
        Poll::Pending
    }
}

fn finish_with<T, C: FnOnce(&T, FlowCompletion<'_>)>(
    call: &mut Option<Call<FlowCall>>,
    classify: &mut Option<C>,
    span: &Span,
    output: &T,
) {
    if let (Some(call), Some(classify)) = (call.take(), classify.take()) {
        classify(output, FlowCompletion::end(call, span));
    }
}

#[pinned_drop]
impl<F, C, B> PinnedDrop for WorkflowRun<F, C, B> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        if let Some(call) = this.call.take() {
            let _entered = this.span.enter();
            let panicked = *this.polling || std::thread::panicking();
            if let Some(run) = this.run.as_ref() {
                let _ctx = enter(Ctx { run: run.clone(), node: None });
                // Running nodes record their own cancellation before the run ends.
                this.inner.set(None);
            }
            call.end_dropped(this.span, panicked);
        }
    }
}
