//! Where checks run: off the thread that serves the endpoints. A check is the
//! application's code and may block its thread (a synchronous driver call, a
//! `statvfs` on a hung NFS mount) where a timeout cannot interrupt it. So every
//! evaluation runs on obs's own checks runtime (one thread, timers enabled,
//! whatever executor asked), and every check there on a thread of its blocking
//! pool; the evaluation only awaits each result, bounded by the check's timeout.
//! The HTTP thread, `/metrics` and `/health/live` never wait on a blocked check.
//!
//! A blocked check's thread cannot be taken back. To keep one hung dependency
//! from using up a thread per probe, a check whose earlier run is still
//! blocked past its timeout is not started again: it reports unhealthy at
//! once until that run returns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::future::{Either, select};
use tokio::runtime::Handle;
use tracing::Instrument as _;

use super::{CheckResult, DynCheck, HealthCheck};

/// The checks runtime, started on first use; `None` when no thread can be
/// started (checks then run on the caller's task, as a last resort).
pub(crate) fn handle() -> Option<&'static Handle> {
    static HANDLE: OnceLock<Option<Handle>> = OnceLock::new();
    HANDLE.get_or_init(|| start().ok()).as_ref()
}

fn start() -> std::io::Result<Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().thread_name("obs-health-check").build()?;
    let handle = runtime.handle().clone();
    // This thread drives the runtime's timers and sockets for the checks on the
    // blocking pool (`Handle::block_on` there needs it) and runs the evaluations.
    // It lives as long as the process: it only parks when nothing is checked.
    std::thread::Builder::new()
        .name("obs-health".to_owned())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

/// Where to find a check again from another thread: the registered group and
/// the index of each component on the way down (before scope filtering).
#[derive(Clone)]
pub(crate) struct Location {
    pub root: Arc<dyn HealthCheck>,
    pub at: Vec<usize>,
}

impl Location {
    pub(crate) fn child(&self, index: usize) -> Location {
        let mut at = self.at.clone();
        at.push(index);
        Location { root: self.root.clone(), at }
    }

    fn find(&self) -> Option<&dyn DynCheck> {
        let (&first, rest) = self.at.split_first()?;
        let mut check = self.root.components().get(first)?.check;
        for &index in rest {
            check = check.group()?.components().get(index)?.check;
        }
        Some(check)
    }
}

/// Runs the check at `location` on a blocking thread of the checks runtime and
/// awaits its result. Dropping the returned future (the check's timeout
/// passed) cancels an async check at its next await; a check that blocks its
/// thread is remembered as blocked until it returns.
pub(crate) async fn run(handle: &'static Handle, location: Location, path: &str, span: tracing::Span) -> CheckResult {
    if still_blocked(path) {
        return CheckResult::unhealthy("an earlier run is still blocked past its timeout; not started again");
    }
    let done = Arc::new(AtomicBool::new(false));
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let task = handle.spawn_blocking({
        let done = done.clone();
        move || {
            let _done = SetOnDrop(done);
            let Some(check) = location.find() else {
                return CheckResult::unhealthy("the check is no longer registered");
            };
            let check = check.check_boxed().instrument(span);
            match handle.block_on(select(check, cancelled)) {
                Either::Left((result, _)) => result,
                Either::Right(_) => CheckResult::unhealthy("cancelled"),
            }
        }
    });
    let _watch = Watch { path, done, _cancel: cancel };
    match task.await {
        Ok(result) => result,
        // Re-raised here, so the caller reports it like a panic of an inline check.
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => CheckResult::unhealthy("the checks runtime shut down"),
    }
}

/// Checks whose run is still blocked past its timeout, by path, with the flag that run sets when it returns.
fn blocked() -> std::sync::MutexGuard<'static, HashMap<String, Arc<AtomicBool>>> {
    static BLOCKED: OnceLock<Mutex<HashMap<String, Arc<AtomicBool>>>> = OnceLock::new();
    BLOCKED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner())
}

fn still_blocked(path: &str) -> bool {
    let mut blocked = blocked();
    match blocked.get(path) {
        Some(done) if !done.load(Ordering::SeqCst) => true,
        Some(_) => {
            blocked.remove(path);
            false
        }
        None => false,
    }
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Held while awaiting a run: dropping it cancels the run (the sender goes)
/// and, when the run has not returned, records it as blocked.
struct Watch<'a> {
    path: &'a str,
    done: Arc<AtomicBool>,
    _cancel: tokio::sync::oneshot::Sender<()>,
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if !self.done.load(Ordering::SeqCst) {
            blocked().insert(self.path.to_owned(), self.done.clone());
        }
    }
}
