//! `#[workflow]` and `#[node]` at run time: the options and budgets a site
//! carries, run contexts, the drivers of runs and node attempts (retries,
//! timeouts), workflow metrics, and the live views (learned shapes and active
//! runs). It reaches the call path only through `call::Hook`.

mod active;
pub mod budget;
mod context;
mod drive;
mod flow;
mod graph;
mod limits;
pub(crate) mod metrics;
mod node;
mod run;
mod site;
mod timer;

pub use active::{ActivePage, ActiveRun, MAX_LISTED, active_page, active_runs};
pub use context::current_run_id;
pub(crate) use context::tracked_run;
pub use drive::WorkflowRun;
pub use flow::FlowCompletion;
pub use graph::{Edge, EdgeKind, NodeShape, WorkflowShape, workflows};
pub use limits::{NodeOptions, TimeoutError, WorkflowOptions};
pub use node::{NodeCall, Once, Repeat};
pub use run::{ParseRunIdError, RunId};
pub use site::FlowSite;
