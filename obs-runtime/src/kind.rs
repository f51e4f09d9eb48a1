//! The kinds of instrumented function: a leaf module, so that the metric
//! stores can tell them apart without importing the call sites that use them.
//! Re-exported as `obs_runtime::callsite::Kind`.

/// What kind of instrumented function a call site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `#[observe]`.
    Function,
    /// `#[workflow]`: each call is a run with its own run id and budgets.
    Workflow,
    /// `#[node]`: a step of a workflow, with retries and a timeout per attempt.
    Node,
}

impl Kind {
    /// The word used in log events (`function.success`, `workflow.start`, `node.retry`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Function => "function",
            Kind::Workflow => "workflow",
            Kind::Node => "node",
        }
    }
}
