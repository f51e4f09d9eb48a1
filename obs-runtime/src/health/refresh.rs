//! Evaluates the health checks on a timer, so that `obs_health_status` and
//! `health.changed` events stay current when nothing probes the endpoints.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Scope, report};

/// The refresh thread; dropping it stops the thread.
pub(crate) struct Refresher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts evaluating every `interval`, the first time right away; `None` when
/// `interval` is zero or no thread can be started.
pub(crate) fn start(interval: Duration) -> Option<Refresher> {
    if interval.is_zero() {
        return None;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("obs-health".into())
        .spawn(move || {
            loop {
                runtime.block_on(report(Scope::All));
                if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    continue;
                }
                break;
            }
        })
        .ok()?;
    Some(Refresher { stop: Some(stop), thread: Some(thread) })
}

impl Drop for Refresher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A check still running is bounded by its timeout; do not wait that long at shutdown.
            let deadline = Instant::now() + Duration::from_secs(1);
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}
