//! What a workflow run and a node attempt are allowed: the options the
//! attributes set, and the errors a run or attempt fails with past them.

use std::fmt;
use std::time::Duration;

/// The budgets of a `#[workflow]`, enforced on every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WorkflowOptions {
    deadline: Option<Duration>,
    max_hops: Option<u64>,
    max_tokens: Option<u64>,
}

impl WorkflowOptions {
    /// No budgets.
    pub const DEFAULT: WorkflowOptions = WorkflowOptions { deadline: None, max_hops: None, max_tokens: None };

    /// `deadline = "30s"`: the run fails with a budget error when it takes longer.
    pub const fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// `max_hops = N`: the N+1-th node execution of a run fails before running.
    pub const fn with_max_hops(mut self, hops: u64) -> Self {
        self.max_hops = Some(hops);
        self
    }

    /// `max_tokens = N`: what [`consume_tokens`](super::budget::consume_tokens) may draw in one run.
    pub const fn with_max_tokens(mut self, tokens: u64) -> Self {
        self.max_tokens = Some(tokens);
        self
    }

    /// The run's deadline.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The most node executions a run may make.
    pub fn max_hops(&self) -> Option<u64> {
        self.max_hops
    }

    /// The most tokens a run's nodes may draw.
    pub fn max_tokens(&self) -> Option<u64> {
        self.max_tokens
    }
}

/// The retry and timeout policy of a `#[node]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeOptions {
    retries: u32,
    backoff: Duration,
    max_backoff: Duration,
    timeout: Option<Duration>,
}

impl NodeOptions {
    /// No retries, no timeout; a 100 ms backoff capped at 10 s once retries are set.
    pub const DEFAULT: NodeOptions = NodeOptions {
        retries: 0,
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
        timeout: None,
    };

    /// `retries = N`: attempts after the first one.
    pub const fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// `backoff = "100ms"`: the delay before the first retry, doubled for each later one.
    pub const fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// `max_backoff = "10s"`: the cap of the doubled delay.
    pub const fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// `timeout = "2s"`: an attempt running longer is cancelled and fails with a timeout error.
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Attempts after the first one.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The delay before the first retry.
    pub fn backoff(&self) -> Duration {
        self.backoff
    }

    /// The cap of the doubled delay.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The time limit of one attempt.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions::DEFAULT
    }
}

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

impl crate::error::ErrorKind for BudgetExceeded {
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

/// The error an attempt of a `#[node(timeout = "...")]` fails with when it runs
/// over. The node's error type must implement `From<TimeoutError>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutError {
    pub(crate) after: Duration,
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

impl crate::error::ErrorKind for TimeoutError {
    fn kind(&self) -> &'static str {
        "timeout"
    }
}
