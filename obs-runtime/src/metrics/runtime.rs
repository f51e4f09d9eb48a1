//! Tokio runtime metrics, read at scrape time from tokio's stable
//! `RuntimeMetrics`: workers, alive tasks, the global queue depth, and per
//! worker the busy time (its rate is the busy ratio) and park count.
//!
//! Only for a runtime obs knows of: the one [`init`](crate::init) was called
//! inside, or one handed to [`watch_tokio_runtime`]. Outside any runtime there
//! are no such series. Poll and steal counts, blocking threads and local
//! queue depths exist only in tokio builds with `RUSTFLAGS="--cfg tokio_unstable"`;
//! obs does not export them.

use std::sync::Mutex;

use tokio::runtime::Handle;

use super::Family;
use super::families::{
    TOKIO_ALIVE_TASKS, TOKIO_GLOBAL_QUEUE_DEPTH, TOKIO_WORKER_BUSY_SECONDS_TOTAL, TOKIO_WORKER_PARK_TOTAL,
    TOKIO_WORKERS,
};

static WATCHED: Mutex<Option<Handle>> = Mutex::new(None);

/// Reports the metrics of the runtime behind `handle` on `/metrics` (replacing
/// any runtime watched before). [`init`](crate::init) called inside a tokio
/// runtime watches that one by itself.
///
/// ```
/// let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// obs_runtime::metrics::watch_tokio_runtime(runtime.handle());
/// ```
pub fn watch_tokio_runtime(handle: &Handle) {
    *WATCHED.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle.clone());
}

/// Watches the runtime the caller runs in, if any (called by `init`).
pub(crate) fn watch_current() {
    if let Ok(handle) = Handle::try_current() {
        watch_tokio_runtime(&handle);
    }
}

/// The families kept here, in the order they are rendered.
pub(crate) const RENDERED: [&Family; 5] = [
    &TOKIO_WORKERS,
    &TOKIO_ALIVE_TASKS,
    &TOKIO_GLOBAL_QUEUE_DEPTH,
    &TOKIO_WORKER_BUSY_SECONDS_TOTAL,
    &TOKIO_WORKER_PARK_TOTAL,
];

/// One family's samples: values without labels, or one per worker.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) enum Samples {
    Single(f64),
    PerWorker(Vec<f64>),
}

/// The watched runtime's values now; empty when no runtime is watched.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn read() -> Vec<(&'static Family, Samples)> {
    let Some(handle) = WATCHED.lock().unwrap_or_else(|e| e.into_inner()).clone() else { return Vec::new() };
    let metrics = handle.metrics();
    let workers = metrics.num_workers();
    let mut out = vec![
        (&TOKIO_WORKERS, Samples::Single(workers as f64)),
        (&TOKIO_ALIVE_TASKS, Samples::Single(metrics.num_alive_tasks() as f64)),
        (&TOKIO_GLOBAL_QUEUE_DEPTH, Samples::Single(metrics.global_queue_depth() as f64)),
    ];
    #[cfg(target_has_atomic = "64")]
    {
        let busy = (0..workers).map(|w| metrics.worker_total_busy_duration(w).as_secs_f64()).collect();
        let parks = (0..workers).map(|w| metrics.worker_park_count(w) as f64).collect();
        out.push((&TOKIO_WORKER_BUSY_SECONDS_TOTAL, Samples::PerWorker(busy)));
        out.push((&TOKIO_WORKER_PARK_TOTAL, Samples::PerWorker(parks)));
    }
    out
}
