//! Workflow and node metrics: the same pattern as function metrics, handles
//! resolved once per call site (per workflow, for nodes) and kept.

use std::sync::{Mutex, OnceLock};

use metrics::{Counter, Gauge, Histogram, Unit};

use super::limits::Budget;
use crate::metrics::{Status, metric_name};

/// The `workflow` label of a node that runs outside any workflow.
pub const NO_WORKFLOW: &str = "none";

const RUNS: &str = "workflow_runs_total";
const DURATION: &str = "workflow_duration_seconds";
const ACTIVE: &str = "workflow_active";
const BUDGET: &str = "workflow_budget_exceeded_total";
const NODE_RUNS: &str = "node_runs_total";
const NODE_DURATION: &str = "node_duration_seconds";
const NODE_RETRIES: &str = "node_retries_total";

pub(crate) fn describe() {
    let name = |suffix| metric_name(suffix).unwrap_or_default();
    metrics::describe_counter!(name(RUNS), Unit::Count, "Workflow runs, by outcome status.");
    metrics::describe_histogram!(name(DURATION), Unit::Seconds, "Wall time of workflow runs.");
    metrics::describe_gauge!(name(ACTIVE), Unit::Count, "Workflow runs currently running.");
    metrics::describe_counter!(name(BUDGET), Unit::Count, "Workflow runs that exceeded a budget, by budget.");
    metrics::describe_counter!(
        name(NODE_RUNS),
        Unit::Count,
        "Node executions (all attempts of one call), by outcome status."
    );
    metrics::describe_histogram!(name(NODE_DURATION), Unit::Seconds, "Wall time of node executions, retries included.");
    metrics::describe_counter!(name(NODE_RETRIES), Unit::Count, "Node attempts that failed and were retried.");
}

/// Registers every catalogued workflow's series at zero so dashboards show them
/// before the first run. Nodes learn their workflow label when they run, so
/// they register then.
pub(crate) fn preregister() {
    for site in crate::callsite::catalog() {
        if site.kind() == crate::callsite::Kind::Workflow && site.records_metrics() {
            let _ = WorkflowHandles::resolve(site.name());
        }
    }
}

/// Per flow site storage: a workflow's handles, or a node's handles per workflow label.
pub(crate) struct FlowHandles {
    workflow: OnceLock<WorkflowHandles>,
    /// The node's handles under the first workflow it runs in: the common case, lock-free.
    node: OnceLock<(&'static str, NodeHandles)>,
    /// Under any further workflow (rare: a node shared by several workflows).
    other_nodes: Mutex<Vec<(&'static str, &'static NodeHandles)>>,
}

impl FlowHandles {
    pub(crate) const fn new() -> FlowHandles {
        FlowHandles { workflow: OnceLock::new(), node: OnceLock::new(), other_nodes: Mutex::new(Vec::new()) }
    }
}

pub(crate) struct WorkflowHandles {
    runs: [Counter; 6],
    duration: Histogram,
    active: Gauge,
    budget: [Counter; 3],
}

pub(crate) struct NodeHandles {
    runs: [Counter; 6],
    duration: Histogram,
    retries: Counter,
}

impl FlowHandles {
    /// The handles of workflow `name`; `None` before `init`.
    pub(crate) fn workflow(&'static self, name: &'static str) -> Option<&'static WorkflowHandles> {
        if let Some(handles) = self.workflow.get() {
            return Some(handles);
        }
        let resolved = WorkflowHandles::resolve(name)?;
        Some(self.workflow.get_or_init(|| resolved))
    }

    /// The handles of node `node` under `workflow`; `None` before `init`.
    pub(crate) fn node(&'static self, node: &'static str, workflow: &'static str) -> Option<&'static NodeHandles> {
        if let Some((first, handles)) = self.node.get()
            && std::ptr::eq(*first, workflow)
        {
            return Some(handles);
        }
        let _ = metric_name(NODE_RUNS)?;
        let (first, handles) = self.node.get_or_init(|| (workflow, NodeHandles::resolve(node, workflow)));
        if *first == workflow {
            return Some(handles);
        }
        let mut others = self.other_nodes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, handles)) = others.iter().find(|(w, _)| *w == workflow) {
            return Some(handles);
        }
        // Bounded by the number of workflow call sites in the binary.
        let handles: &'static NodeHandles = Box::leak(Box::new(NodeHandles::resolve(node, workflow)));
        others.push((workflow, handles));
        Some(handles)
    }
}

impl WorkflowHandles {
    fn resolve(workflow: &'static str) -> Option<WorkflowHandles> {
        let runs = metric_name(RUNS)?;
        Some(WorkflowHandles {
            runs: Status::ALL.map(|status| {
                if status == Status::Timeout {
                    // A run never times out as a whole: its deadline is a budget.
                    Counter::noop()
                } else {
                    metrics::counter!(runs.clone(), "workflow" => workflow, "status" => status.as_str())
                }
            }),
            duration: metrics::histogram!(metric_name(DURATION).unwrap_or_default(), "workflow" => workflow),
            active: metrics::gauge!(metric_name(ACTIVE).unwrap_or_default(), "workflow" => workflow),
            budget: Budget::ALL.map(|budget| {
                metrics::counter!(metric_name(BUDGET).unwrap_or_default(), "workflow" => workflow, "budget" => budget.as_str())
            }),
        })
    }
}

impl NodeHandles {
    fn resolve(node: &'static str, workflow: &'static str) -> NodeHandles {
        let runs = metric_name(NODE_RUNS).unwrap_or_default();
        NodeHandles {
            runs: Status::ALL
                .map(|status| metrics::counter!(runs.clone(), "workflow" => workflow, "node" => node, "status" => status.as_str())),
            duration: metrics::histogram!(metric_name(NODE_DURATION).unwrap_or_default(), "workflow" => workflow, "node" => node),
            retries: metrics::counter!(metric_name(NODE_RETRIES).unwrap_or_default(), "workflow" => workflow, "node" => node),
        }
    }

    pub(crate) fn retried(&self) {
        self.retries.increment(1);
    }
}

/// Where a workflow or node call's metrics go.
#[derive(Clone, Copy)]
pub(crate) enum FlowMeter {
    Workflow(&'static WorkflowHandles),
    Node(&'static NodeHandles),
}

impl FlowMeter {
    pub(crate) fn start(self) {
        if let FlowMeter::Workflow(h) = self {
            h.active.increment(1.0);
        }
    }

    pub(crate) fn end(self, status: Status, seconds: f64) {
        match self {
            FlowMeter::Workflow(h) => {
                h.active.decrement(1.0);
                h.runs[status as usize].increment(1);
                h.duration.record(seconds);
            }
            FlowMeter::Node(h) => {
                h.runs[status as usize].increment(1);
                h.duration.record(seconds);
            }
        }
    }
}

impl WorkflowHandles {
    pub(crate) fn budget_exceeded(&self, budget: Budget) {
        self.budget[budget as usize].increment(1);
    }
}
