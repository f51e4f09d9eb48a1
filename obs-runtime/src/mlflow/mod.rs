//! MLflow experiment tracking: every run of a `#[workflow(mlflow(...))]` is an
//! MLflow run, and these functions log to the run the caller is part of.
//!
//! ```no_run
//! use obs_runtime::{mlflow, node, workflow};
//!
//! #[node]
//! async fn train_epoch(epoch: u32) -> f64 {
//!     let loss = 1.0 / f64::from(epoch + 1);
//!     mlflow::log_metric("loss", loss, i64::from(epoch));
//!     loss
//! }
//!
//! #[workflow(mlflow(experiment = "churn-model", params(learning_rate, epochs)))]
//! async fn train(learning_rate: f64, epochs: u32) {
//!     for epoch in 0..epochs {
//!         train_epoch(epoch).await;
//!     }
//!     mlflow::log_artifact("model/weights.json");
//!     mlflow::log_model("model", "churn-model");
//! }
//! ```
//!
//! With `MLFLOW_TRACKING_URI` (or [`Builder::mlflow_tracking_uri`](crate::Builder::mlflow_tracking_uri))
//! set, `init` starts the tracking exporter (`export/mlflow.rs`): each run is
//! created in its experiment (created if missing), gets its parameters, the tags
//! `obs.workflow_run_id`, `obs.trace_id`, `service.name`, `service.version` and
//! `host.name`, a `node.<name>.duration_s` metric per node execution (the attempt
//! as step), `tokens_consumed` at the end, its exported trace linked to it
//! (MLflow's `traces/link-to-run`) and its status: `FINISHED`, `FAILED` (error,
//! panic, timeout, exceeded budget) or `KILLED` (cancelled, or still running at
//! shutdown). Without it, or outside a tracked run, these functions do nothing.
//!
//! Nothing here waits for the server: the calls put what they log on a bounded
//! queue that one background thread sends in batches (`runs/log-batch`, within
//! MLflow's limits), retrying for a bounded time. What is dropped (queue full) is
//! counted in `obs_exporter_dropped_spans_total{signal="mlflow"}`, what the server
//! did not take in `obs_exporter_failed_spans_total{signal="mlflow"}`.

// Without the exporter nothing reads the queue, and nothing ever fills it.
#![cfg_attr(not(feature = "mlflow"), allow(dead_code))]

#[cfg(feature = "mlflow")]
pub(crate) mod client;
#[cfg(feature = "mlflow")]
pub(crate) mod limits;
#[cfg(feature = "mlflow")]
pub(crate) mod options;
#[cfg(feature = "mlflow")]
pub(crate) mod tracker;

use std::fmt::{Display, Write as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::metrics::Status;
use crate::workflow::RunId;

/// One thing to tell the tracking server, in the order the application did it.
pub(crate) enum Op {
    Start(Box<Start>),
    Param { run: RunId, key: String, value: String },
    Metric { run: RunId, key: String, value: f64, step: i64, timestamp_ms: i64 },
    Artifact { run: RunId, path: PathBuf },
    Model { run: RunId, path: PathBuf, name: String },
    End { run: RunId, status: &'static str, end_ms: i64, tokens: u64 },
}

impl Op {
    /// How many items the counters count for this operation.
    pub(crate) fn items(&self) -> u64 {
        match self {
            Op::Start(start) => 1 + start.params.len() as u64,
            _ => 1,
        }
    }
}

/// A run starting.
pub(crate) struct Start {
    pub run: RunId,
    pub workflow: &'static str,
    /// `mlflow(experiment = ...)`; `None`: the builder's default, else the workflow's name.
    pub experiment: Option<&'static str>,
    pub start_ms: i64,
    pub trace_id: Option<u128>,
    pub params: Vec<(&'static str, String)>,
}

/// Where the calls put their operations: the exporter's queue, once it started.
pub(crate) struct Sink {
    queue: std::sync::mpsc::SyncSender<Op>,
    dropped: metrics::Counter,
    /// What the worker has not said yet it dropped.
    unlogged: std::sync::Arc<AtomicU64>,
    open: AtomicBool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

impl Sink {
    /// Installs the queue the exporter's worker reads. Once per process (`init` runs once).
    #[cfg(feature = "mlflow")]
    pub(crate) fn install(
        queue: std::sync::mpsc::SyncSender<Op>,
        dropped: metrics::Counter,
        unlogged: std::sync::Arc<AtomicU64>,
    ) -> bool {
        SINK.set(Sink { queue, dropped, unlogged, open: AtomicBool::new(true) }).is_ok()
    }

    /// Stops taking operations (the worker is shutting down).
    #[cfg(feature = "mlflow")]
    pub(crate) fn close() {
        if let Some(sink) = SINK.get() {
            sink.open.store(false, Ordering::Release);
        }
    }

    fn get() -> Option<&'static Sink> {
        SINK.get().filter(|sink| sink.open.load(Ordering::Acquire))
    }

    /// Never blocks: a full queue drops the operation and counts it.
    fn send(&self, op: Op) {
        let items = op.items();
        if self.queue.try_send(op).is_err() {
            self.dropped.increment(items);
            self.unlogged.fetch_add(items, Ordering::Relaxed);
        }
    }
}

/// Whether tracking is on (the exporter runs and takes operations).
pub(crate) fn active() -> bool {
    Sink::get().is_some()
}

pub(crate) fn now_ms() -> i64 {
    millis(SystemTime::now())
}

pub(crate) fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as i64
}

/// What generated code hands a tracked workflow run: the experiment and the
/// parameters, rendered when the call was made (before the body owns the arguments).
#[doc(hidden)]
pub struct Tracking {
    pub(crate) experiment: Option<&'static str>,
    pub(crate) params: Vec<(&'static str, String)>,
}

/// The parameters of a tracked call, rendered only when tracking is on.
pub(crate) fn tracking(experiment: Option<&'static str>, params: &[(&'static str, &dyn Display)]) -> Option<Tracking> {
    if !active() {
        return None;
    }
    let params = params
        .iter()
        .map(|(name, value)| {
            let mut text = String::new();
            let _ = write!(text, "{value}");
            (*name, text)
        })
        .collect();
    Some(Tracking { experiment, params })
}

/// The run `run` started (called by the workflow hook when the run's call starts).
pub(crate) fn run_started(
    run: RunId,
    workflow: &'static str,
    start: SystemTime,
    span: &tracing::Span,
    tracking: Tracking,
) {
    if let Some(sink) = Sink::get() {
        let trace_id = trace_id(span);
        sink.send(Op::Start(Box::new(Start {
            run,
            workflow,
            experiment: tracking.experiment,
            start_ms: millis(start),
            trace_id,
            params: tracking.params,
        })));
    }
}

/// The trace id the workflow's span is exported with (the one its log lines show).
fn trace_id(span: &tracing::Span) -> Option<u128> {
    #[cfg(feature = "mlflow")]
    {
        crate::log::with_log_ids(span, |ids| ids.trace_id)
    }
    #[cfg(not(feature = "mlflow"))]
    {
        let _ = span;
        None
    }
}

/// The run ended with `status` (the workflow hook, whatever ended it).
pub(crate) fn run_ended(run: RunId, status: Status, tokens: u64) {
    if let Some(sink) = Sink::get() {
        sink.send(Op::End { run, status: run_status(status), end_ms: now_ms(), tokens });
    }
}

/// MLflow's `RunStatus` for how a run ended.
pub(crate) fn run_status(status: Status) -> &'static str {
    match status {
        Status::Ok => "FINISHED",
        Status::Cancelled => "KILLED",
        Status::Error | Status::Panic | Status::Timeout | Status::BudgetExceeded => "FAILED",
    }
}

/// One node execution of a tracked run took `seconds` (the attempt is the step).
pub(crate) fn node_ended(run: RunId, node: &'static str, attempt: u32, seconds: f64) {
    if let Some(sink) = Sink::get() {
        let key = format!("node.{node}.duration_s");
        sink.send(Op::Metric { run, key, value: seconds, step: i64::from(attempt), timestamp_ms: now_ms() });
    }
}

/// The tracked run the caller is part of, and the sink to send to.
fn current() -> Option<(&'static Sink, RunId)> {
    let sink = Sink::get()?;
    let run = crate::workflow::tracked_run()?;
    Some((sink, run))
}

/// Logs a parameter of the current run (`value` through `Display`). A key logged
/// twice keeps its first value (MLflow refuses to change a parameter).
///
/// Keys longer than 250 characters and values longer than 6000 are cut and end
/// in `...[truncated]`; the run is never failed for it.
pub fn log_param(key: &str, value: impl Display) {
    if let Some((sink, run)) = current() {
        sink.send(Op::Param { run, key: key.to_owned(), value: value.to_string() });
    }
}

/// Logs `value` for the metric `key` of the current run at `step`, stamped now.
/// Sent in batches, never one request each.
pub fn log_metric(key: &str, value: f64, step: i64) {
    if let Some((sink, run)) = current() {
        sink.send(Op::Metric { run, key: key.to_owned(), value, step, timestamp_ms: now_ms() });
    }
}

/// Uploads a file (under the run's artifact root, by its file name) or a
/// directory (under its own name, with everything in it) to the current run's
/// artifacts, through the tracking server's artifact endpoint. The files are
/// read on the background thread, later: keep them until the workflow returns.
pub fn log_artifact(path: impl AsRef<Path>) {
    if let Some((sink, run)) = current() {
        sink.send(Op::Artifact { run, path: path.as_ref().to_owned() });
    }
}

/// Stores the model files at `path` (a file or a directory) as the current
/// run's artifact `model/` and registers them as a new version of the
/// registered model `registered_name` (created if missing) in the model registry.
pub fn log_model(path: impl AsRef<Path>, registered_name: &str) {
    if let Some((sink, run)) = current() {
        sink.send(Op::Model { run, path: path.as_ref().to_owned(), name: registered_name.to_owned() });
    }
}
