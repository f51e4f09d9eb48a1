//! Workflow budgets, enforced on every run: a `deadline`, a number of node
//! executions (`max_hops`) and a token allowance (`max_tokens`) that nodes draw
//! from with [`consume_tokens`].
//!
//! A run that exceeds a budget fails with [`BudgetExceeded`], converted into the
//! workflow's error type through `From`, and ends with `status="budget_exceeded"`.
//!
//! ```no_run
//! use obs_runtime::budget::{self, BudgetExceeded};
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

use std::fmt;
use std::time::Duration;

use crate::workflow::run;

/// Which budget a run exceeded; the `budget` label of `obs_workflow_budget_exceeded_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// The run took longer than its `deadline`.
    Deadline,
    /// The run tried to execute more nodes than `max_hops`.
    Hops,
    /// The run's nodes asked for more than `max_tokens`.
    Tokens,
}

impl Budget {
    /// The label value: `deadline`, `hops` or `tokens`.
    pub fn as_str(self) -> &'static str {
        match self {
            Budget::Deadline => "deadline",
            Budget::Hops => "hops",
            Budget::Tokens => "tokens",
        }
    }

    pub(crate) const ALL: [Budget; 3] = [Budget::Deadline, Budget::Hops, Budget::Tokens];

    pub(crate) fn from_index(index: u8) -> Option<Budget> {
        Budget::ALL.get(usize::from(index).checked_sub(1)?).copied()
    }
}

/// The error a run fails with when it exceeds a budget. The workflow's error
/// type must implement `From<BudgetExceeded>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetExceeded {
    budget: Budget,
    limit: u64,
}

impl BudgetExceeded {
    pub(crate) fn new(budget: Budget, limit: u64) -> Self {
        BudgetExceeded { budget, limit }
    }

    /// Which budget was exceeded.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The limit that was exceeded: milliseconds for the deadline, a count otherwise.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.budget {
            Budget::Deadline => write!(f, "workflow deadline of {:?} exceeded", Duration::from_millis(self.limit)),
            Budget::Hops => write!(f, "workflow hop budget exceeded: at most {} node executions", self.limit),
            Budget::Tokens => write!(f, "workflow token budget exceeded: at most {} tokens", self.limit),
        }
    }
}

impl std::error::Error for BudgetExceeded {}

impl crate::ErrorKind for BudgetExceeded {
    fn kind(&self) -> &'static str {
        "budget_exceeded"
    }
}

/// What is left of the current run's budgets; `None` fields are unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Remaining {
    /// Time until the deadline.
    pub time: Option<Duration>,
    /// Node executions still allowed.
    pub hops: Option<u64>,
    /// Tokens still available.
    pub tokens: Option<u64>,
}

/// Draws `n` tokens from the current run's `max_tokens` budget. Outside a
/// workflow, or in a workflow without `max_tokens`, it always succeeds.
///
/// When the budget cannot cover `n`, nothing is drawn, the run is marked as
/// having exceeded its token budget (so it ends with `status="budget_exceeded"`
/// if it fails) and the error is returned for the node to propagate with `?`.
pub fn consume_tokens(n: u64) -> Result<(), BudgetExceeded> {
    match run::current() {
        Some(run) => run.consume_tokens(n),
        None => Ok(()),
    }
}

/// The current run's remaining budgets, or `None` outside a workflow run.
pub fn remaining() -> Option<Remaining> {
    run::current().map(|run| run.remaining())
}
