//! Evaluates the health checks on a timer, so that `obs_health_status` and
//! `health.changed` events stay current when nothing probes the endpoints.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use super::{Scope, report};
use crate::worker::{Worker, current_thread_runtime};

/// The shortest interval between background evaluations: a smaller one (a
/// typo, `Duration::from_nanos(1)`) would keep a core busy evaluating.
pub(crate) const MIN_REFRESH: Duration = Duration::from_millis(100);

/// Starts evaluating every `interval` (at least [`MIN_REFRESH`]), the first
/// time right away; `None` when `interval` is zero or no thread can be
/// started. Stopping the worker stops it.
pub(crate) fn start(interval: Duration) -> Option<Worker> {
    if interval.is_zero() {
        return None;
    }
    let interval = interval.max(MIN_REFRESH);
    let runtime = current_thread_runtime().ok()?;
    Worker::spawn("obs-health", move |stop| {
        loop {
            // `report` does not panic; should that ever change, the refresh still goes on.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(report(Scope::All))));
            if stop.wait(interval) {
                break;
            }
        }
    })
    .ok()
}
