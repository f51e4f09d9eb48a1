//! Workflow and node metrics: the same pattern as function metrics, handles
//! resolved once per call site (per workflow, for nodes) and kept.

use std::sync::{Mutex, OnceLock};

use metrics::{Counter, Gauge, Histogram};

use super::limits::Budget;
use crate::metrics::{
    NODE_ATTEMPTS_TOTAL, NODE_DURATION_SECONDS, NODE_RETRIES_TOTAL, NODE_RUNS_TOTAL, Status, WORKFLOW_ACTIVE,
    WORKFLOW_BUDGET_EXCEEDED_TOTAL, WORKFLOW_DURATION_SECONDS, WORKFLOW_RUNS_TOTAL, active,
};

/// The `workflow` label of a node that runs outside any workflow.
pub const NO_WORKFLOW: &str = "none";

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
    /// Every attempt by how it ended, retried ones included.
    attempts: [Counter; 6],
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
        if !active() {
            return None;
        }
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
        if !active() {
            return None;
        }
        let runs = WORKFLOW_RUNS_TOTAL.name();
        Some(WorkflowHandles {
            runs: Status::ALL.map(|status| {
                if status == Status::Timeout {
                    // A run never times out as a whole: its deadline is a budget.
                    Counter::noop()
                } else {
                    metrics::counter!(runs.clone(), "workflow" => workflow, "status" => status.as_str())
                }
            }),
            duration: metrics::histogram!(WORKFLOW_DURATION_SECONDS.name(), "workflow" => workflow),
            active: metrics::gauge!(WORKFLOW_ACTIVE.name(), "workflow" => workflow),
            budget: Budget::ALL.map(|budget| {
                metrics::counter!(WORKFLOW_BUDGET_EXCEEDED_TOTAL.name(), "workflow" => workflow, "budget" => budget.as_str())
            }),
        })
    }
}

impl NodeHandles {
    fn resolve(node: &'static str, workflow: &'static str) -> NodeHandles {
        let runs = NODE_RUNS_TOTAL.name();
        NodeHandles {
            runs: Status::ALL
                .map(|status| metrics::counter!(runs.clone(), "workflow" => workflow, "node" => node, "status" => status.as_str())),
            duration: metrics::histogram!(NODE_DURATION_SECONDS.name(), "workflow" => workflow, "node" => node),
            retries: metrics::counter!(NODE_RETRIES_TOTAL.name(), "workflow" => workflow, "node" => node),
            attempts: Status::ALL.map(|outcome| {
                let attempts = NODE_ATTEMPTS_TOTAL.name();
                metrics::counter!(attempts, "workflow" => workflow, "node" => node, "outcome" => outcome.as_str())
            }),
        }
    }

    /// An attempt ended with `outcome` and will be retried.
    pub(crate) fn retried(&self, outcome: Status) {
        self.retries.increment(1);
        self.attempts[outcome as usize].increment(1);
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
                // The last attempt ends the way the node does.
                h.attempts[status as usize].increment(1);
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
