//! `#[workflow]` and `#[node]` at run time: run contexts and budgets, the node
//! driver (attempts, retries, timeouts), workflow metrics, and the live views
//! (learned shapes and active runs).

mod graph;
pub(crate) mod metrics;
mod node;
pub(crate) mod run;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use graph::{Edge, EdgeKind, NodeShape, WorkflowShape, workflows};
pub use node::{NodeCall, Once, Repeat};
pub use run::{RunId, WorkflowRun};

use self::metrics::{FlowMeter, NO_WORKFLOW, node_handles};
use self::run::Run;
use crate::budget::Budget;
use crate::callsite::CallSite;
use crate::metrics::Status;

/// The error an attempt of a `#[node(timeout = "...")]` fails with when it runs
/// over. The node's error type must implement `From<TimeoutError>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutError {
    after: Duration,
}

impl TimeoutError {
    /// The timeout that was exceeded.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node timed out after {:?}", self.after)
    }
}

impl std::error::Error for TimeoutError {}

impl crate::ErrorKind for TimeoutError {
    fn kind(&self) -> &'static str {
        "timeout"
    }
}

/// A workflow run in progress, as listed by [`active_runs`] and `/obs/workflows/active`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveRun {
    /// The run's id.
    pub run_id: RunId,
    /// The workflow's name.
    pub workflow: &'static str,
    /// When the run started.
    pub started_at: SystemTime,
    /// How long it has been running.
    pub elapsed: Duration,
    /// The nodes running now (more than one when the workflow runs nodes concurrently).
    pub running: Vec<&'static str>,
    /// The nodes completed so far, in order of completion.
    pub completed: Vec<&'static str>,
}

/// The workflow runs in progress, oldest first.
pub fn active_runs() -> Vec<ActiveRun> {
    run::active()
        .into_iter()
        .map(|run| {
            let progress = run.progress();
            ActiveRun {
                run_id: run.id,
                workflow: run.name(),
                started_at: run.started_at,
                elapsed: run.elapsed(),
                running: progress.running.clone(),
                completed: progress.completed.clone(),
            }
        })
        .collect()
}

/// The id of the workflow run the caller is part of, if any.
pub fn current_run_id() -> Option<RunId> {
    run::current().map(|run| run.id)
}

/// The workflow-specific part of a measured call.
pub(crate) struct FlowCall {
    pub run: Option<Arc<Run>>,
    pub meter: Option<FlowMeter>,
    pub role: Role,
    pub attempt: u32,
    pub timed_out: bool,
}

pub(crate) enum Role {
    Workflow,
    Node { node: &'static str, from: &'static str, kind: EdgeKind },
}

impl FlowCall {
    pub(crate) fn workflow(run: Arc<Run>, meter: Option<FlowMeter>) -> FlowCall {
        FlowCall { run: Some(run), meter, role: Role::Workflow, attempt: 0, timed_out: false }
    }

    /// A node call under the current run (if any), placed in the run's progress.
    pub(crate) fn node(site: &'static CallSite, ctx: Option<run::Ctx>) -> FlowCall {
        let node = site.name();
        let (run, from, kind) = match ctx {
            Some(ctx) => {
                let (from, kind) = match ctx.node {
                    Some(parent) => (parent, EdgeKind::Inside),
                    None => (ctx.run.progress().last_top.unwrap_or("start"), EdgeKind::Then),
                };
                ctx.run.progress().running.push(node);
                (Some(ctx.run), from, kind)
            }
            None => (None, "start", EdgeKind::Then),
        };
        let workflow = run.as_ref().map_or(NO_WORKFLOW, |run| run.name());
        let meter = node_handles(site, workflow).map(FlowMeter::Node);
        FlowCall { run, meter, role: Role::Node { node, from, kind }, attempt: 1, timed_out: false }
    }

    /// The status a call ends with, given how its body ended.
    pub(crate) fn status(&self, ended: Status) -> Status {
        let exceeded = self.run.as_ref().and_then(|run| run.exceeded()).is_some();
        let aborted = self.run.as_ref().is_some_and(|run| run.aborted());
        match ended {
            Status::Error if self.timed_out => Status::Timeout,
            Status::Error if exceeded => Status::BudgetExceeded,
            Status::Cancelled if aborted && matches!(self.role, Role::Node { .. }) => Status::BudgetExceeded,
            other => other,
        }
    }

    /// The exceeded budget, for the `budget` field of `*.budget_exceeded` events.
    pub(crate) fn budget(&self) -> Option<Budget> {
        self.run.as_ref().and_then(|run| run.exceeded())
    }

    pub(crate) fn is_node(&self) -> bool {
        matches!(self.role, Role::Node { .. })
    }

    pub(crate) fn end(&self, status: Status, seconds: f64) {
        if let Some(meter) = self.meter {
            meter.end(status, seconds);
        }
        let failed = status != Status::Ok;
        match (&self.role, &self.run) {
            (Role::Workflow, Some(run)) => run::record_run_end(run, failed),
            (Role::Node { node, from, kind }, Some(run)) => {
                {
                    let mut progress = run.progress();
                    if let Some(i) = progress.running.iter().position(|n| n == node) {
                        progress.running.remove(i);
                    }
                    progress.completed.push(node);
                    if *kind == EdgeKind::Then {
                        progress.last_top = Some(node);
                    }
                }
                graph::record_node(run.name(), from, node, *kind, failed);
            }
            _ => {}
        }
    }
}
