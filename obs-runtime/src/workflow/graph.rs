//! The shape of each workflow, learned from execution: which nodes ran under
//! it and which node ran after or inside which, with run and error counts.
//!
//! Recording takes no lock: each workflow and node site keeps, in its
//! [`SiteCounts`], pointers to the counters of the edges it has been seen on
//! (a handful: the edges of one node are fixed by the code's shape), and
//! bumps atomics. The global map is locked only the first time an edge is
//! seen and when the shapes are read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::callsite::{Kind, catalog};
use crate::metrics::Status;
use crate::slots::Slots;

/// How two nodes of a workflow are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeKind {
    /// `to` started after `from` finished (`from` is `"start"` for a run's first node).
    Then,
    /// `to` ran inside `from`.
    Inside,
}

impl EdgeKind {
    /// `then` or `inside`.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Then => "then",
            EdgeKind::Inside => "inside",
        }
    }
}

/// One learned edge of a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Edge {
    /// The node before (or around) `to`, or `"start"`.
    pub from: &'static str,
    /// The node that ran.
    pub to: &'static str,
    /// How `to` relates to `from`.
    pub kind: EdgeKind,
    /// Executions of `to` along this edge.
    pub runs: u64,
    /// Those that failed (an error, a panic or a timeout).
    pub errors: u64,
    /// Those dropped before they finished.
    pub cancelled: u64,
    /// Those stopped by a workflow budget.
    pub budget_exceeded: u64,
    /// Attempts that failed and were run again (not counted in `runs`).
    pub retries: u64,
}

/// One node as seen under one workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeShape {
    /// The node's name.
    pub name: &'static str,
    /// Executions (all attempts of a call count once).
    pub runs: u64,
    /// Executions that failed (an error, a panic or a timeout).
    pub errors: u64,
    /// Executions dropped before they finished.
    pub cancelled: u64,
    /// Executions stopped by a workflow budget.
    pub budget_exceeded: u64,
    /// Attempts that failed and were run again.
    pub retries: u64,
}

/// A workflow's shape: its nodes and edges as learned from its runs so far.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowShape {
    /// The workflow's name.
    pub name: &'static str,
    /// Finished runs.
    pub runs: u64,
    /// Finished runs that failed (an error or a panic).
    pub errors: u64,
    /// Runs dropped before they finished.
    pub cancelled: u64,
    /// Runs stopped by a budget (deadline, hops, tokens).
    pub budget_exceeded: u64,
    /// Nodes in order of first execution.
    pub nodes: Vec<NodeShape>,
    /// Edges in order of first execution.
    pub edges: Vec<Edge>,
}

impl WorkflowShape {
    fn new(name: &'static str) -> WorkflowShape {
        WorkflowShape {
            name,
            runs: 0,
            errors: 0,
            cancelled: 0,
            budget_exceeded: 0,
            nodes: Vec::new(),
            edges: Vec::new(),
        }
    }

    /// The shape as a Mermaid flowchart: solid arrows for `then`, dotted for
    /// `inside`, each labelled with its runs and, when there are any, its
    /// errors, cancellations, budget stops and retries, counted apart
    /// (`3 runs, 1 error, 2 retries`).
    ///
    /// ```
    /// for shape in obs_runtime::workflow::workflows() {
    ///     println!("{}", shape.to_mermaid());
    /// }
    /// ```
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let label = tally(&[
            (self.runs, "run", "runs"),
            (self.errors, "error", "errors"),
            (self.cancelled, "cancelled", "cancelled"),
            (self.budget_exceeded, "budget stop", "budget stops"),
        ]);
        let _ = writeln!(out, "    start([\"{} ({label})\"])", self.name);
        let id = |name: &str| -> String {
            if name == "start" {
                return "start".to_owned();
            }
            let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
            format!("n_{clean}")
        };
        for node in &self.nodes {
            let _ = writeln!(out, "    {}[\"{}\"]", id(node.name), node.name.replace('"', "'"));
        }
        for edge in &self.edges {
            let arrow = match edge.kind {
                EdgeKind::Then => "-->",
                EdgeKind::Inside => "-.->",
            };
            let label = tally(&[
                (edge.runs, "run", "runs"),
                (edge.errors, "error", "errors"),
                (edge.cancelled, "cancelled", "cancelled"),
                (edge.budget_exceeded, "budget stop", "budget stops"),
                (edge.retries, "retry", "retries"),
            ]);
            let _ = writeln!(out, "    {} {arrow}|\"{label}\"| {}", id(edge.from), id(edge.to));
        }
        out
    }
}

/// `1 run, 2 errors`: the first count always, the others when not zero, each singular or plural.
fn tally(counts: &[(u64, &str, &str)]) -> String {
    let mut parts = Vec::new();
    for (i, &(n, one, many)) in counts.iter().enumerate() {
        if i == 0 || n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    parts.join(", ")
}

/// Executions of one node, edge or workflow by how they ended, and retried attempts.
#[derive(Default)]
struct Counts {
    runs: AtomicU64,
    errors: AtomicU64,
    cancelled: AtomicU64,
    budget_exceeded: AtomicU64,
    retries: AtomicU64,
}

/// What [`Counts`] held when read.
struct Read {
    runs: u64,
    errors: u64,
    cancelled: u64,
    budget_exceeded: u64,
    retries: u64,
}

impl Counts {
    fn add(&self, status: Status) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        let by = match status {
            Status::Ok => return,
            Status::Error | Status::Panic | Status::Timeout => &self.errors,
            Status::Cancelled => &self.cancelled,
            Status::BudgetExceeded => &self.budget_exceeded,
        };
        by.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> Read {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        Read {
            runs: get(&self.runs),
            errors: get(&self.errors),
            cancelled: get(&self.cancelled),
            budget_exceeded: get(&self.budget_exceeded),
            retries: get(&self.retries),
        }
    }

    fn leak() -> &'static Counts {
        Box::leak(Box::default())
    }
}

/// A workflow's learned shape, pointing at the live counters.
struct Skeleton {
    run: &'static Counts,
    nodes: Vec<(&'static str, &'static Counts)>,
    edges: Vec<(&'static str, &'static str, EdgeKind, &'static Counts)>,
}

impl Skeleton {
    fn new() -> Skeleton {
        Skeleton { run: Counts::leak(), nodes: Vec::new(), edges: Vec::new() }
    }

    fn node(&mut self, name: &'static str) -> &'static Counts {
        match self.nodes.iter().find(|(n, _)| *n == name) {
            Some((_, counts)) => counts,
            None => {
                let counts = Counts::leak();
                self.nodes.push((name, counts));
                counts
            }
        }
    }

    fn edge(&mut self, from: &'static str, to: &'static str, kind: EdgeKind) -> &'static Counts {
        match self.edges.iter().find(|e| e.0 == from && e.1 == to && e.2 == kind) {
            Some(edge) => edge.3,
            None => {
                let counts = Counts::leak();
                self.edges.push((from, to, kind, counts));
                counts
            }
        }
    }

    fn shape(&self, name: &'static str) -> WorkflowShape {
        let Read { runs, errors, cancelled, budget_exceeded, .. } = self.run.read();
        let nodes = self
            .nodes
            .iter()
            .map(|(name, counts)| {
                let Read { runs, errors, cancelled, budget_exceeded, retries } = counts.read();
                NodeShape { name, runs, errors, cancelled, budget_exceeded, retries }
            })
            .collect();
        let edges = self
            .edges
            .iter()
            .map(|&(from, to, kind, counts)| {
                let Read { runs, errors, cancelled, budget_exceeded, retries } = counts.read();
                Edge { from, to, kind, runs, errors, cancelled, budget_exceeded, retries }
            })
            .collect();
        WorkflowShape { name, runs, errors, cancelled, budget_exceeded, nodes, edges }
    }
}

static SHAPES: Mutex<BTreeMap<&'static str, Skeleton>> = Mutex::new(BTreeMap::new());

/// What one site has been seen as: `(workflow, from, kind)` and the counters
/// to bump, found without a lock.
struct Seen {
    workflow: &'static str,
    from: &'static str,
    kind: EdgeKind,
    /// The edge's counters (the run's, for a workflow site).
    edge: &'static Counts,
    /// The node's own counters under `workflow`.
    node: Option<&'static Counts>,
}

/// The counters one workflow or node site updates, cached per site (a
/// handful of edges: past that, recording takes the global lock each time).
pub(crate) struct SiteCounts(Slots<Seen, 8>);

impl SiteCounts {
    pub(crate) const fn new() -> SiteCounts {
        SiteCounts(Slots::new())
    }

    /// The counters for the key: cached, or registered under the global lock by `make`.
    fn get(
        &self,
        workflow: &'static str,
        from: &'static str,
        kind: EdgeKind,
        make: impl Fn(&mut Skeleton) -> (&'static Counts, Option<&'static Counts>),
    ) -> (&'static Counts, Option<&'static Counts>) {
        let register = || {
            let mut shapes = SHAPES.lock().unwrap_or_else(|e| e.into_inner());
            let (edge, node) = make(shapes.entry(workflow).or_insert_with(Skeleton::new));
            Seen { workflow, from, kind, edge, node }
        };
        let matches = |seen: &Seen| seen.kind == kind && seen.workflow == workflow && seen.from == from;
        match self.0.get_or_add(matches, |_| register()) {
            Some(seen) => (seen.edge, seen.node),
            None => {
                let seen = register();
                (seen.edge, seen.node)
            }
        }
    }
}

/// A node execution under `workflow`, reached from `from`.
pub(crate) fn record_node(
    site: &SiteCounts,
    workflow: &'static str,
    from: &'static str,
    to: &'static str,
    kind: EdgeKind,
    status: Status,
) {
    let (edge, node) = site.get(workflow, from, kind, |shape| (shape.edge(from, to, kind), Some(shape.node(to))));
    edge.add(status);
    if let Some(node) = node {
        node.add(status);
    }
}

/// An attempt of node `to` that failed and runs again.
pub(crate) fn record_retry(
    site: &SiteCounts,
    workflow: &'static str,
    from: &'static str,
    to: &'static str,
    kind: EdgeKind,
) {
    let (edge, node) = site.get(workflow, from, kind, |shape| (shape.edge(from, to, kind), Some(shape.node(to))));
    edge.retries.fetch_add(1, Ordering::Relaxed);
    if let Some(node) = node {
        node.retries.fetch_add(1, Ordering::Relaxed);
    }
}

/// A finished run of `workflow`.
pub(crate) fn record_run(site: &SiteCounts, workflow: &'static str, status: Status) {
    let (run, _) = site.get(workflow, "", EdgeKind::Then, |shape| (shape.run, None));
    run.add(status);
}

/// Every workflow of the binary (from the catalog, whether it ran or not) with
/// the shape learned from its runs so far.
pub fn workflows() -> Vec<WorkflowShape> {
    let mut shapes: BTreeMap<&'static str, WorkflowShape> = {
        let skeletons = SHAPES.lock().unwrap_or_else(|e| e.into_inner());
        skeletons.iter().map(|(name, skeleton)| (*name, skeleton.shape(name))).collect()
    };
    for site in catalog() {
        if site.kind() == Kind::Workflow {
            shapes.entry(site.name()).or_insert_with(|| WorkflowShape::new(site.name()));
        }
    }
    shapes.into_values().collect()
}
