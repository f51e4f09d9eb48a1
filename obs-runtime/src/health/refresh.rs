//! Evaluates the health checks on a timer, so that `obs_health_status` and
//! `health.changed` events stay current when nothing probes the endpoints.

use std::time::Duration;

use super::{Scope, report};
use crate::worker::{Worker, current_thread_runtime};

/// Starts evaluating every `interval`, the first time right away; `None` when
/// `interval` is zero or no thread can be started. Stopping the worker stops it.
pub(crate) fn start(interval: Duration) -> Option<Worker> {
    if interval.is_zero() {
        return None;
    }
    let runtime = current_thread_runtime().ok()?;
    Worker::spawn("obs-health", move |stop| {
        loop {
            runtime.block_on(report(Scope::All));
            if stop.wait(interval) {
                break;
            }
        }
    })
    .ok()
}
