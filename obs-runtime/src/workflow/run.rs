//! A workflow run: its id, budgets and progress, the context nodes find it
//! through, and the future that drives the workflow's body.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pin_project::{pin_project, pinned_drop};
use tracing::Span;

use super::metrics::{FlowMeter, WorkflowHandles, workflow_handles};
use super::{FlowCall, graph};
use crate::budget::{Budget, BudgetExceeded, Remaining};
use crate::call::{Call, Completion};
use crate::callsite::{CallSite, Kind, WorkflowOptions};

/// The id of one workflow run: UUID v7 layout (48-bit Unix milliseconds, then
/// random bits), so ids sort by start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(u128);

impl RunId {
    pub(crate) fn new() -> RunId {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let random = (u128::from(crate::log::random_u64()) << 64) | u128::from(crate::log::random_u64());
        let mut id = (millis & 0xffff_ffff_ffff) << 80 | (random & ((1 << 80) - 1));
        // Version 7 and the RFC 4122 variant.
        id = (id & !(0xf << 76)) | (0x7 << 76);
        id = (id & !(0x3 << 62)) | (0x2 << 62);
        RunId(id)
    }

    /// The id as a number.
    pub fn as_u128(&self) -> u128 {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(f, "{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }
}

/// What a run has done so far, for the live view and the learned shape.
#[derive(Default)]
pub(crate) struct Progress {
    pub running: Vec<&'static str>,
    pub completed: Vec<&'static str>,
    /// The last top-level node to finish: the `from` of the next top-level node's edge.
    pub last_top: Option<&'static str>,
}

pub(crate) struct Run {
    pub id: RunId,
    pub site: &'static CallSite,
    pub started_at: SystemTime,
    started: Instant,
    options: WorkflowOptions,
    hops: AtomicU64,
    tokens: AtomicU64,
    /// `Budget as u8 + 1` of the first budget exceeded, 0 while none is.
    exceeded: AtomicU8,
    counted: AtomicU8,
    abort: AtomicBool,
    waker: Mutex<Option<Waker>>,
    progress: Mutex<Progress>,
    handles: Option<&'static WorkflowHandles>,
}

impl Run {
    fn new(site: &'static CallSite, options: WorkflowOptions) -> Run {
        Run {
            id: RunId::new(),
            site,
            started_at: SystemTime::now(),
            started: Instant::now(),
            options,
            hops: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            exceeded: AtomicU8::new(0),
            counted: AtomicU8::new(0),
            abort: AtomicBool::new(false),
            waker: Mutex::new(None),
            progress: Mutex::new(Progress::default()),
            handles: workflow_handles(site),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        self.site.name()
    }

    pub(crate) fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The first budget this run exceeded.
    pub(crate) fn exceeded(&self) -> Option<Budget> {
        Budget::from_index(self.exceeded.load(Ordering::Acquire))
    }

    /// Whether a budget stopped the run (deadline or hops); its body is being dropped.
    pub(crate) fn aborted(&self) -> bool {
        self.abort.load(Ordering::Acquire)
    }

    pub(crate) fn error(&self, budget: Budget) -> BudgetExceeded {
        let limit = match budget {
            Budget::Deadline => self.options.deadline.map_or(0, |d| d.as_millis() as u64),
            Budget::Hops => self.options.max_hops.unwrap_or(0),
            Budget::Tokens => self.options.max_tokens.unwrap_or(0),
        };
        BudgetExceeded::new(budget, limit)
    }

    /// Records that `budget` was exceeded (counted once per run and budget);
    /// `abort` also stops the run at its next poll.
    fn trip(&self, budget: Budget, abort: bool) {
        let _ = self.exceeded.compare_exchange(0, budget as u8 + 1, Ordering::AcqRel, Ordering::Acquire);
        // Each exceeded budget counts once per run.
        let bit = 1 << budget as u8;
        if self.counted.fetch_or(bit, Ordering::AcqRel) & bit == 0
            && let Some(handles) = self.handles
        {
            handles.budget_exceeded(budget);
        }
        if abort && !self.abort.swap(true, Ordering::AcqRel) {
            let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Counts one node execution against `max_hops`.
    pub(crate) fn hop(&self) -> Result<(), BudgetExceeded> {
        let hops = self.hops.fetch_add(1, Ordering::AcqRel) + 1;
        match self.options.max_hops {
            Some(max) if hops > max => {
                self.trip(Budget::Hops, true);
                Err(self.error(Budget::Hops))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn consume_tokens(&self, n: u64) -> Result<(), BudgetExceeded> {
        let Some(max) = self.options.max_tokens else {
            self.tokens.fetch_add(n, Ordering::AcqRel);
            return Ok(());
        };
        let drawn = self.tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(n).filter(|&total| total <= max)
        });
        drawn.map(|_| ()).map_err(|_| {
            self.trip(Budget::Tokens, false);
            self.error(Budget::Tokens)
        })
    }

    pub(crate) fn remaining(&self) -> Remaining {
        Remaining {
            time: self.options.deadline.map(|d| d.saturating_sub(self.started.elapsed())),
            hops: self.options.max_hops.map(|max| max.saturating_sub(self.hops.load(Ordering::Acquire))),
            tokens: self.options.max_tokens.map(|max| max.saturating_sub(self.tokens.load(Ordering::Acquire))),
        }
    }

    fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

// ---- the context nodes find their run through ----

/// The run (and node) being polled on this thread.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub run: Arc<Run>,
    pub node: Option<&'static str>,
}

thread_local! {
    static CURRENT: RefCell<Option<Ctx>> = const { RefCell::new(None) };
}

/// The current run, when called from inside a workflow's task.
pub(crate) fn current() -> Option<Arc<Run>> {
    // `try_with`: nothing is current while the thread's locals are being destroyed.
    CURRENT.try_with(|c| c.borrow().as_ref().map(|ctx| ctx.run.clone())).ok().flatten()
}

pub(crate) fn current_ctx() -> Option<Ctx> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Makes `ctx` current until dropped; restores the previous one.
pub(crate) struct Entered(Option<Ctx>);

pub(crate) fn enter(ctx: Ctx) -> Entered {
    Entered(CURRENT.try_with(|c| c.borrow_mut().replace(ctx)).ok().flatten())
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

// ---- active runs ----

static ACTIVE: Mutex<BTreeMap<RunId, Arc<Run>>> = Mutex::new(BTreeMap::new());

pub(crate) fn active() -> Vec<Arc<Run>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
}

pub(crate) fn finish(run: &Run) {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&run.id);
}

// ---- the workflow's future ----

/// A workflow run in progress: the body polled inside the run's span and
/// context, stopped when a budget says so.
#[doc(hidden)]
#[pin_project(PinnedDrop)]
pub struct WorkflowRun<F, C, B> {
    #[pin]
    inner: Option<F>,
    site: &'static CallSite,
    span: Span,
    call: Option<Call>,
    run: Option<Arc<Run>>,
    classify: Option<C>,
    on_budget: Option<B>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    polling: bool,
}

impl<F, C, B> WorkflowRun<F, C, B>
where
    F: Future,
    C: FnOnce(&F::Output, Completion<'_>),
    B: FnOnce(BudgetExceeded) -> F::Output,
{
    #[inline]
    pub fn new(site: &'static CallSite, span: Span, inner: F, classify: C, on_budget: Option<B>) -> Self {
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
        }
    }
}

impl<F, C, B> Future for WorkflowRun<F, C, B>
where
    F: Future,
    C: FnOnce(&F::Output, Completion<'_>),
    B: FnOnce(BudgetExceeded) -> F::Output,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        if this.run.is_none() {
            let options = match this.site.kind() {
                Kind::Workflow(options) => options,
                _ => WorkflowOptions::default(),
            };
            let run = Arc::new(Run::new(this.site, options));
            this.span.record("workflow", this.site.name());
            this.span.record("run_id", tracing::field::display(run.id));
            ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).insert(run.id, run.clone());
            let meter = run.handles.map(FlowMeter::Workflow);
            *this.call = Some(Call::start_flow(this.site, this.span, FlowCall::workflow(run.clone(), meter)));
            *this.deadline = options.deadline.map(|d| Box::pin(tokio::time::sleep(d)));
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
            && deadline.as_mut().poll(cx).is_ready()
        {
            run.trip(Budget::Deadline, true);
        }
        if !run.aborted()
            && let Some(inner) = this.inner.as_mut().as_pin_mut()
        {
            *this.polling = true;
            let poll = inner.poll(cx);
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

fn finish_with<T, C: FnOnce(&T, Completion<'_>)>(
    call: &mut Option<Call>,
    classify: &mut Option<C>,
    span: &Span,
    output: &T,
) {
    if let (Some(call), Some(classify)) = (call.take(), classify.take()) {
        classify(output, Completion::end(call, span));
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

pub(crate) fn record_run_end(run: &Run, failed: bool) {
    finish(run);
    graph::record_run(run.name(), failed);
}
