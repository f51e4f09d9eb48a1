//! The run (and node) being polled on this thread: how a node finds the run
//! it belongs to with nothing passed by hand.

use std::cell::RefCell;
use std::sync::Arc;

use super::run::Run;

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

/// The id of the tracked (MLflow) run the caller is part of, if any.
pub(crate) fn tracked_run() -> Option<super::run::RunId> {
    current().filter(|run| run.tracked()).map(|run| run.id)
}

/// The id of the workflow run the caller is part of, if any.
pub fn current_run_id() -> Option<super::run::RunId> {
    current().map(|run| run.id)
}
