//! The shape of each workflow, learned from execution: which nodes ran under
//! it and which node ran after or inside which, with run and error counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::callsite::{Kind, catalog};

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
    /// Those that did not end `ok`.
    pub errors: u64,
}

/// One node as seen under one workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeShape {
    /// The node's name.
    pub name: &'static str,
    /// Executions (all attempts of a call count once).
    pub runs: u64,
    /// Executions that did not end `ok`.
    pub errors: u64,
}

/// A workflow's shape: its nodes and edges as learned from its runs so far.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowShape {
    /// The workflow's name.
    pub name: &'static str,
    /// Finished runs.
    pub runs: u64,
    /// Finished runs that did not end `ok`.
    pub errors: u64,
    /// Nodes in order of first execution.
    pub nodes: Vec<NodeShape>,
    /// Edges in order of first execution.
    pub edges: Vec<Edge>,
}

impl WorkflowShape {
    fn new(name: &'static str) -> WorkflowShape {
        WorkflowShape { name, runs: 0, errors: 0, nodes: Vec::new(), edges: Vec::new() }
    }

    /// The shape as a Mermaid flowchart: solid arrows for `then`, dotted for
    /// `inside`, each labelled with run and error counts.
    ///
    /// ```
    /// for shape in obs_runtime::workflows() {
    ///     println!("{}", shape.to_mermaid());
    /// }
    /// ```
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let _ = writeln!(out, "    start([\"{} ({} runs, {} errors)\"])", self.name, self.runs, self.errors);
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
            let _ = writeln!(
                out,
                "    {} {arrow}|\"{} runs, {} errors\"| {}",
                id(edge.from),
                edge.runs,
                edge.errors,
                id(edge.to)
            );
        }
        out
    }
}

static SHAPES: Mutex<BTreeMap<&'static str, WorkflowShape>> = Mutex::new(BTreeMap::new());

pub(crate) fn record_node(workflow: &'static str, from: &'static str, to: &'static str, kind: EdgeKind, failed: bool) {
    let mut shapes = SHAPES.lock().unwrap_or_else(|e| e.into_inner());
    let shape = shapes.entry(workflow).or_insert_with(|| WorkflowShape::new(workflow));
    let errors = u64::from(failed);
    match shape.nodes.iter_mut().find(|n| n.name == to) {
        Some(node) => {
            node.runs += 1;
            node.errors += errors;
        }
        None => shape.nodes.push(NodeShape { name: to, runs: 1, errors }),
    }
    match shape.edges.iter_mut().find(|e| e.from == from && e.to == to && e.kind == kind) {
        Some(edge) => {
            edge.runs += 1;
            edge.errors += errors;
        }
        None => shape.edges.push(Edge { from, to, kind, runs: 1, errors }),
    }
}

pub(crate) fn record_run(workflow: &'static str, failed: bool) {
    let mut shapes = SHAPES.lock().unwrap_or_else(|e| e.into_inner());
    let shape = shapes.entry(workflow).or_insert_with(|| WorkflowShape::new(workflow));
    shape.runs += 1;
    shape.errors += u64::from(failed);
}

/// Every workflow of the binary (from the catalog, whether it ran or not) with
/// the shape learned from its runs so far.
pub fn workflows() -> Vec<WorkflowShape> {
    let mut shapes = SHAPES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for site in catalog() {
        if site.kind() == Kind::Workflow {
            shapes.entry(site.name()).or_insert_with(|| WorkflowShape::new(site.name()));
        }
    }
    shapes.into_values().collect()
}
