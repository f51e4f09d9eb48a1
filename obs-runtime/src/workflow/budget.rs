//! Workflow budgets, enforced on every run: a `deadline`, a number of node
//! executions (`max_hops`) and a token allowance (`max_tokens`) that nodes draw
//! from with [`consume_tokens`].
//!
//! A run that exceeds a budget fails with [`BudgetExceeded`], converted into the
//! workflow's error type through `From`, and ends with `status="budget_exceeded"`.
//!
//! ```no_run
//! use obs_runtime::workflow::budget::{self, BudgetExceeded};
//! use obs_runtime::{node, workflow};
//!
//! #[derive(Debug)]
//! enum JobError { Budget(BudgetExceeded) }
//! impl From<BudgetExceeded> for JobError {
//!     fn from(e: BudgetExceeded) -> Self { JobError::Budget(e) }
//! }
//!
//! #[node]
//! async fn summarize(text: String) -> Result<String, JobError> {
//!     budget::consume_tokens(text.len() as u64)?;
//!     Ok(text[..10.min(text.len())].to_owned())
//! }
//!
//! #[workflow(deadline = "30s", max_hops = 20, max_tokens = 10_000)]
//! async fn job(text: String) -> Result<String, JobError> {
//!     let summary = summarize(text).await?;
//!     println!("tokens left: {:?}", budget::remaining().and_then(|r| r.tokens));
//!     Ok(summary)
//! }
//! ```

pub use super::limits::{Budget, BudgetExceeded, Remaining};

use super::context;

/// Draws `n` tokens from the current run's `max_tokens` budget. Outside a
/// workflow, or in a workflow without `max_tokens`, it always succeeds.
///
/// When the budget cannot cover `n`, nothing is drawn, the run is marked as
/// having exceeded its token budget (so it ends with `status="budget_exceeded"`
/// if it fails) and the error is returned for the node to propagate with `?`.
pub fn consume_tokens(n: u64) -> Result<(), BudgetExceeded> {
    match context::current() {
        Some(run) => run.consume_tokens(n),
        None => Ok(()),
    }
}

/// The current run's remaining budgets, or `None` outside a workflow run.
pub fn remaining() -> Option<Remaining> {
    context::current().map(|run| run.remaining())
}
