//! A workflow run's state: its id, budgets and progress.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use atomic_waker::AtomicWaker;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::limits::{Budget, BudgetExceeded, Remaining, WorkflowOptions};
use super::metrics::WorkflowHandles;
use super::site::FlowSite;

/// The id of one workflow run: UUID v7 layout (48-bit Unix milliseconds, then
/// random bits), so ids sort by start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(u128);

impl RunId {
    pub(crate) fn new() -> RunId {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let random = (u128::from(crate::log::random_u64()) << 64) | u128::from(crate::log::random_u64());
        let mut id = (millis & 0xffff_ffff_ffff) << 80 | (random & ((1 << 80) - 1));
        // Version 7 and the RFC 4122 variant.
        id = (id & !(0xf << 76)) | (0x7 << 76);
        id = (id & !(0x3 << 62)) | (0x2 << 62);
        RunId(id)
    }

    /// The id as a number.
    pub fn as_u128(&self) -> u128 {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(f, "{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }
}

impl std::str::FromStr for RunId {
    type Err = ParseRunIdError;

    /// Parses the hyphenated UUID form `Display` writes.
    fn from_str(text: &str) -> Result<RunId, ParseRunIdError> {
        let hex: String = text.chars().filter(|c| *c != '-').collect();
        if text.len() != 36 || hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseRunIdError);
        }
        u128::from_str_radix(&hex, 16).map(RunId).map_err(|_| ParseRunIdError)
    }
}

/// A text that is not a run id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseRunIdError;

impl fmt::Display for ParseRunIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a run id (a hyphenated UUID)")
    }
}

impl std::error::Error for ParseRunIdError {}

/// What a run has done so far, for the live view and the learned shape.
/// Bounded whatever the run does: the nodes running now (bounded by the run's
/// own concurrency), a count of completed node executions and the last
/// [`Progress::KEPT`] of them.
#[derive(Default)]
pub(crate) struct Progress {
    pub running: Vec<&'static str>,
    completed: VecDeque<&'static str>,
    completed_total: u64,
    /// The last top-level node to finish: the `from` of the next top-level node's edge.
    pub last_top: Option<&'static str>,
}

impl Progress {
    /// How many completed nodes a run keeps for the live view.
    pub(crate) const KEPT: usize = 32;

    /// `node` finished.
    pub(crate) fn complete(&mut self, node: &'static str) {
        if let Some(i) = self.running.iter().position(|n| *n == node) {
            self.running.remove(i);
        }
        if self.completed.len() == Self::KEPT {
            self.completed.pop_front();
        }
        self.completed.push_back(node);
        self.completed_total += 1;
    }

    /// The last completed nodes, oldest first.
    pub(crate) fn completed(&self) -> Vec<&'static str> {
        self.completed.iter().copied().collect()
    }

    /// Every node execution completed so far.
    pub(crate) fn completed_total(&self) -> u64 {
        self.completed_total
    }
}

pub(crate) struct Run {
    pub id: RunId,
    pub site: &'static FlowSite,
    pub started_at: SystemTime,
    started: Instant,
    options: WorkflowOptions,
    hops: AtomicU64,
    tokens: AtomicU64,
    /// `Budget as u8 + 1` of the first budget exceeded, 0 while none is.
    exceeded: AtomicU8,
    counted: AtomicU8,
    abort: AtomicBool,
    waker: AtomicWaker,
    /// Whether the run is listed in the active-run view (which is capped).
    pub(crate) listed: AtomicBool,
    progress: Mutex<Progress>,
    pub(crate) handles: Option<&'static WorkflowHandles>,
    /// Whether the run is an MLflow run (`#[workflow(mlflow(...))]` with tracking on).
    tracked: AtomicBool,
}

impl Run {
    /// A run of the workflow at `site`, counted in the series its `labels(...)` selected.
    pub(crate) fn new(site: &'static FlowSite, labels: usize) -> Run {
        let options = site.workflow_options();
        let handles = if site.site.records_metrics() { site.handles.workflow(site.site, labels) } else { None };
        Run {
            id: RunId::new(),
            site,
            started_at: SystemTime::now(),
            started: Instant::now(),
            options,
            hops: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            exceeded: AtomicU8::new(0),
            counted: AtomicU8::new(0),
            abort: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            listed: AtomicBool::new(false),
            progress: Mutex::new(Progress::default()),
            handles,
            tracked: AtomicBool::new(false),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        self.site.name()
    }

    pub(crate) fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The first budget this run exceeded.
    pub(crate) fn exceeded(&self) -> Option<Budget> {
        Budget::from_index(self.exceeded.load(Ordering::Acquire))
    }

    /// Whether a budget stopped the run (deadline or hops); its body is being dropped.
    pub(crate) fn aborted(&self) -> bool {
        self.abort.load(Ordering::Acquire)
    }

    pub(crate) fn error(&self, budget: Budget) -> BudgetExceeded {
        let limit = match budget {
            Budget::Deadline => self.options.deadline().map_or(0, |d| d.as_millis() as u64),
            Budget::Hops => self.options.max_hops().unwrap_or(0),
            Budget::Tokens => self.options.max_tokens().unwrap_or(0),
        };
        BudgetExceeded::new(budget, limit)
    }

    /// Records that `budget` was exceeded (counted once per run and budget);
    /// `abort` also stops the run at its next poll.
    pub(crate) fn trip(&self, budget: Budget, abort: bool) {
        let _ = self.exceeded.compare_exchange(0, budget as u8 + 1, Ordering::AcqRel, Ordering::Acquire);
        // Each exceeded budget counts once per run.
        let bit = 1 << budget as u8;
        if self.counted.fetch_or(bit, Ordering::AcqRel) & bit == 0
            && let Some(handles) = self.handles
        {
            handles.budget_exceeded(budget);
        }
        if abort && !self.abort.swap(true, Ordering::AcqRel) {
            self.waker.wake();
        }
    }

    /// Counts one node execution against `max_hops`.
    pub(crate) fn hop(&self) -> Result<(), BudgetExceeded> {
        let hops = self.hops.fetch_add(1, Ordering::AcqRel) + 1;
        match self.options.max_hops() {
            Some(max) if hops > max => {
                self.trip(Budget::Hops, true);
                Err(self.error(Budget::Hops))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn consume_tokens(&self, n: u64) -> Result<(), BudgetExceeded> {
        let Some(max) = self.options.max_tokens() else {
            self.tokens.fetch_add(n, Ordering::AcqRel);
            return Ok(());
        };
        let drawn = self.tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(n).filter(|&total| total <= max)
        });
        drawn.map(|_| ()).map_err(|_| {
            self.trip(Budget::Tokens, false);
            self.error(Budget::Tokens)
        })
    }

    /// Tokens drawn so far with `consume_tokens`.
    pub(crate) fn tokens_used(&self) -> u64 {
        self.tokens.load(Ordering::Acquire)
    }

    pub(crate) fn set_tracked(&self) {
        self.tracked.store(true, Ordering::Release);
    }

    /// Whether the run is an MLflow run.
    pub(crate) fn tracked(&self) -> bool {
        self.tracked.load(Ordering::Acquire)
    }

    pub(crate) fn remaining(&self) -> Remaining {
        Remaining {
            time: self.options.deadline().map(|d| d.saturating_sub(self.started.elapsed())),
            hops: self.options.max_hops().map(|max| max.saturating_sub(self.hops.load(Ordering::Acquire))),
            tokens: self.options.max_tokens().map(|max| max.saturating_sub(self.tokens.load(Ordering::Acquire))),
        }
    }

    /// Registers the task to wake when a budget stops the run; no lock, so
    /// cheap on every poll.
    pub(crate) fn set_waker(&self, waker: &Waker) {
        self.waker.register(waker);
    }
}
