//! Workflow and node metrics: the same pattern as function metrics, handles
//! resolved once per call site (per workflow, for nodes) and per label series
//! (`#[workflow(labels(...))]`, `#[node(labels(...))]`), and kept.

use std::sync::{Mutex, OnceLock};

use metrics::{Counter, Gauge, Histogram};

use super::limits::Budget;
use crate::callsite::CallSite;
use crate::labels::{LabelTable, UNLABELLED};
use crate::metrics::{
    NODE_ATTEMPTS_TOTAL, NODE_DURATION_SECONDS, NODE_RETRIES_TOTAL, NODE_RUNS_TOTAL, Status, WORKFLOW_ACTIVE,
    WORKFLOW_BUDGET_EXCEEDED_TOTAL, WORKFLOW_DURATION_SECONDS, WORKFLOW_RUNS_TOTAL, active,
};

/// The `workflow` label of a node that runs outside any workflow.
pub const NO_WORKFLOW: &str = "none";

/// Registers every catalogued workflow's series at zero so dashboards show them
/// before the first run (with `labels(...)`, every combination when all of them are
/// enums; string labels register as they are seen). Nodes learn their workflow
/// label when they run, so they register then.
pub(crate) fn preregister() {
    for site in crate::callsite::catalog() {
        if site.kind() == crate::callsite::Kind::Workflow && site.records_metrics() {
            match site.info.labels {
                None => {
                    let _ = WorkflowHandles::resolve(site.name(), &[]);
                }
                Some(labels) => {
                    if let Some(table) = labels.table().filter(|table| table.all_known()) {
                        for index in 0..table.len() {
                            let _ = WorkflowHandles::resolve(site.name(), &table.values(index));
                        }
                    }
                }
            }
        }
    }
}

/// Per flow site storage: a workflow's handles, or a node's handles per workflow label;
/// each per series of the site's `labels(...)`.
pub(crate) struct FlowHandles {
    workflow: OnceLock<PerSeries<WorkflowHandles>>,
    /// The node's handles under the first workflow it runs in: the common case, lock-free.
    node: OnceLock<(&'static str, PerSeries<NodeHandles>)>,
    /// Under any further workflow (rare: a node shared by several workflows).
    other_nodes: Mutex<Vec<(&'static str, &'static PerSeries<NodeHandles>)>>,
}

impl FlowHandles {
    pub(crate) const fn new() -> FlowHandles {
        FlowHandles { workflow: OnceLock::new(), node: OnceLock::new(), other_nodes: Mutex::new(Vec::new()) }
    }
}

/// One workflow's (or one node's, under one workflow) handles per label series:
/// one slot without `labels(...)`, else a slot per series of the site's label
/// table (the same mixed-radix index `#[observe]` uses), each resolved on first use.
struct PerSeries<T> {
    table: Option<&'static LabelTable>,
    slots: Box<[OnceLock<T>]>,
}

impl<T> PerSeries<T> {
    /// `None` for a labelled site whose table no call has built yet (its value
    /// types could not be named in a static): nothing is kept before one does.
    fn new(site: &'static CallSite) -> Option<PerSeries<T>> {
        let table = match site.info.labels {
            None => None,
            Some(labels) => Some(labels.table()?),
        };
        let len = table.map_or(1, LabelTable::len);
        Some(PerSeries { table, slots: (0..len).map(|_| OnceLock::new()).collect() })
    }

    /// The handles of series `index` (`UNLABELLED` for a site without labels).
    #[inline]
    fn get(&self, index: usize, resolve: impl FnOnce(&[(&'static str, &'static str)]) -> T) -> Option<&T> {
        let slot = match (self.table, index) {
            (None, _) => self.slots.first()?,
            // Labels, but the call had none to give (it raced `init`).
            (Some(_), UNLABELLED) => return None,
            (Some(_), index) => self.slots.get(index)?,
        };
        if let Some(handles) = slot.get() {
            return Some(handles);
        }
        Some(slot.get_or_init(|| resolve(&self.table.map(|table| table.values(index)).unwrap_or_default())))
    }

    /// Registers every series at zero when all label values are known (enums only).
    fn preregister(&self, resolve: impl Fn(&[(&'static str, &'static str)]) -> T) {
        if let Some(table) = self.table.filter(|table| table.all_known()) {
            for index in 0..table.len() {
                let _ = self.get(index, &resolve);
            }
        }
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
    /// The handles of the workflow at `site` for the label series `labels`
    /// selected (`UNLABELLED` without labels); `None` before `init`.
    pub(crate) fn workflow(&'static self, site: &'static CallSite, labels: usize) -> Option<&'static WorkflowHandles> {
        let per = match self.workflow.get() {
            Some(per) => per,
            None if !active() => return None,
            None => {
                let per = PerSeries::new(site)?;
                self.workflow.get_or_init(|| per)
            }
        };
        per.get(labels, |values| WorkflowHandles::resolve(site.name(), values))
    }

    /// The handles of the node at `site` under `workflow`, for the label series
    /// `labels` selected; `None` before `init`.
    pub(crate) fn node(
        &'static self,
        site: &'static CallSite,
        workflow: &'static str,
        labels: usize,
    ) -> Option<&'static NodeHandles> {
        let node = site.name();
        let resolve = move |values: &[(&'static str, &'static str)]| NodeHandles::resolve(node, workflow, values);
        if let Some((first, per)) = self.node.get()
            && std::ptr::eq(*first, workflow)
        {
            return per.get(labels, resolve);
        }
        if !active() {
            return None;
        }
        let per = match self.node.get() {
            Some(found) => found,
            None => {
                let per = PerSeries::new(site)?;
                let mut created = false;
                let found = self.node.get_or_init(|| {
                    created = true;
                    (workflow, per)
                });
                if created {
                    found.1.preregister(resolve);
                }
                found
            }
        };
        if per.0 == workflow {
            return per.1.get(labels, resolve);
        }
        let mut others = self.other_nodes.lock().unwrap_or_else(|e| e.into_inner());
        let per = match others.iter().find(|(w, _)| *w == workflow) {
            Some((_, per)) => *per,
            None => {
                // Bounded by the number of workflow call sites in the binary.
                let per: &'static PerSeries<NodeHandles> = Box::leak(Box::new(PerSeries::new(site)?));
                per.preregister(resolve);
                others.push((workflow, per));
                per
            }
        };
        drop(others);
        per.get(labels, resolve)
    }
}

/// The label set of a workflow or node series: its own labels, then those
/// `labels(...)` adds, then `extra` (`status`, `budget`, `outcome`).
fn label_set(
    own: &[(&'static str, &'static str)],
    labels: &[(&'static str, &'static str)],
    extra: Option<(&'static str, &'static str)>,
) -> Vec<metrics::Label> {
    own.iter().chain(labels).chain(extra.as_ref()).map(|&(name, value)| metrics::Label::new(name, value)).collect()
}

impl WorkflowHandles {
    fn resolve(workflow: &'static str, labels: &[(&'static str, &'static str)]) -> WorkflowHandles {
        let own = [("workflow", workflow)];
        let set = |extra| label_set(&own, labels, extra);
        WorkflowHandles {
            runs: Status::ALL.map(|status| {
                if status == Status::Timeout {
                    // A run never times out as a whole: its deadline is a budget.
                    Counter::noop()
                } else {
                    metrics::counter!(WORKFLOW_RUNS_TOTAL.name(), set(Some(("status", status.as_str()))))
                }
            }),
            duration: metrics::histogram!(WORKFLOW_DURATION_SECONDS.name(), set(None)),
            active: metrics::gauge!(WORKFLOW_ACTIVE.name(), set(None)),
            budget: Budget::ALL.map(|budget| {
                metrics::counter!(WORKFLOW_BUDGET_EXCEEDED_TOTAL.name(), set(Some(("budget", budget.as_str()))))
            }),
        }
    }
}

impl NodeHandles {
    fn resolve(node: &'static str, workflow: &'static str, labels: &[(&'static str, &'static str)]) -> NodeHandles {
        let own = [("workflow", workflow), ("node", node)];
        let set = |extra| label_set(&own, labels, extra);
        NodeHandles {
            runs: Status::ALL
                .map(|status| metrics::counter!(NODE_RUNS_TOTAL.name(), set(Some(("status", status.as_str()))))),
            duration: metrics::histogram!(NODE_DURATION_SECONDS.name(), set(None)),
            retries: metrics::counter!(NODE_RETRIES_TOTAL.name(), set(None)),
            attempts: Status::ALL
                .map(|outcome| metrics::counter!(NODE_ATTEMPTS_TOTAL.name(), set(Some(("outcome", outcome.as_str()))))),
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
