//! Where the call path hands its outcomes to a capture in progress.
//!
//! The global metric store is process-wide, so a capture keeps its own tally
//! of the calls that ended on a thread it was entered on. The call path checks
//! one relaxed load of [`CAPTURES`] before anything else: with no capture
//! anywhere in the process, that load is all it costs.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::callsite::CallSite;
use crate::kind::Kind;
use crate::metrics::Status;

/// How many captures are entered on some thread right now.
static CAPTURES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static CURRENT: RefCell<Option<Arc<Tally>>> = const { RefCell::new(None) };
}

/// One ended call, node attempt or workflow run.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    pub name: &'static str,
    pub module: &'static str,
    pub kind: Kind,
    pub metrics: bool,
    pub status: Status,
    pub error_kind: Option<&'static str>,
    /// The `workflow` label: the workflow's own name for a run, the run a node belongs to.
    pub workflow: Option<&'static str>,
    /// A node attempt that failed and was retried (not the node's end).
    pub retried: bool,
    pub budget: Option<&'static str>,
}

/// What one capture recorded.
#[derive(Default)]
pub(crate) struct Tally(Mutex<Vec<Ended>>);

impl Tally {
    pub(crate) fn take(&self) -> Vec<Ended> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Makes `tally` the current thread's capture until the returned value drops
/// (restoring the one before, so captures nest).
pub(crate) fn enter(tally: &Arc<Tally>) -> Entered {
    CAPTURES.fetch_add(1, Ordering::Relaxed);
    let previous = CURRENT.with(|current| current.replace(Some(tally.clone())));
    Entered { previous }
}

pub(crate) struct Entered {
    previous: Option<Arc<Tally>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| current.replace(previous));
        CAPTURES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether any capture is entered anywhere: the call path's only check.
#[inline]
pub(crate) fn capturing() -> bool {
    CAPTURES.load(Ordering::Relaxed) != 0
}

/// Called by the call path (after [`capturing`]) when a call ends.
#[cold]
pub(crate) fn ended(
    site: &'static CallSite,
    status: Status,
    error_kind: Option<&'static str>,
    workflow: Option<&'static str>,
    budget: Option<&'static str>,
    retried: bool,
) {
    let _ = CURRENT.try_with(|current| {
        let Ok(current) = current.try_borrow() else { return };
        let Some(tally) = current.as_ref() else { return };
        let ended = Ended {
            name: site.name(),
            module: site.module(),
            kind: site.kind(),
            metrics: site.records_metrics(),
            status,
            error_kind,
            workflow,
            retried,
            budget,
        };
        tally.0.lock().unwrap_or_else(|e| e.into_inner()).push(ended);
    });
}
