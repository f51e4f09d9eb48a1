//! The runs in progress, as [`active_runs`] and `/obs/workflows/active` list them.
//!
//! Runs are listed in shards (a run locks only its own shard, twice: when it
//! starts and when it ends), and at most [`MAX_LISTED`] at once: past that a run
//! still runs and is measured, it is only left out of the view (and counted in
//! [`ActivePage::unlisted`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::run::{Run, RunId};

/// The most runs the active view lists at once.
pub const MAX_LISTED: usize = 10_000;

const SHARDS: usize = 16;

static ACTIVE: [Mutex<BTreeMap<RunId, Arc<Run>>>; SHARDS] = [const { Mutex::new(BTreeMap::new()) }; SHARDS];
static LISTED: AtomicUsize = AtomicUsize::new(0);
static UNLISTED: AtomicUsize = AtomicUsize::new(0);

fn shard(id: RunId) -> &'static Mutex<BTreeMap<RunId, Arc<Run>>> {
    // The low bits of a run id are random.
    &ACTIVE[(id.as_u128() as usize) % SHARDS]
}

/// Lists `run` as in progress, unless [`MAX_LISTED`] runs already are.
pub(crate) fn insert(run: &Arc<Run>) {
    if LISTED.fetch_add(1, Ordering::AcqRel) >= MAX_LISTED {
        LISTED.fetch_sub(1, Ordering::AcqRel);
        UNLISTED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    run.listed.store(true, Ordering::Release);
    shard(run.id).lock().unwrap_or_else(|e| e.into_inner()).insert(run.id, run.clone());
}

pub(crate) fn finish(run: &Run) {
    if run.listed.swap(false, Ordering::AcqRel) {
        shard(run.id).lock().unwrap_or_else(|e| e.into_inner()).remove(&run.id);
        LISTED.fetch_sub(1, Ordering::AcqRel);
    } else {
        // `insert` counted it as unlisted (a run that never started is in neither).
        let _ = UNLISTED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// A workflow run in progress, as listed by [`active_runs`] and `/obs/workflows/active`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveRun {
    /// The run's id.
    pub run_id: RunId,
    /// The workflow's name.
    pub workflow: &'static str,
    /// When the run started.
    pub started_at: SystemTime,
    /// How long it has been running.
    pub elapsed: Duration,
    /// The nodes running now (more than one when the workflow runs nodes concurrently).
    pub running: Vec<&'static str>,
    /// The last nodes completed (at most 32), in order of completion.
    pub completed: Vec<&'static str>,
    /// Every node execution the run has completed.
    pub completed_total: u64,
}

/// One page of the runs in progress, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActivePage {
    /// At most the `limit` asked for, starting after the `after` run id.
    pub runs: Vec<ActiveRun>,
    /// Every listed run in progress.
    pub total: usize,
    /// Runs in progress left out of the view because [`MAX_LISTED`] were listed.
    pub unlisted: usize,
    /// The id to pass as `after` for the next page, when there is one.
    pub next: Option<RunId>,
}

/// The workflow runs in progress, oldest first (at most [`MAX_LISTED`]).
pub fn active_runs() -> Vec<ActiveRun> {
    active_page(None, MAX_LISTED).runs
}

/// The runs in progress started after run `after` (ids sort by start time),
/// `limit` of them at most, oldest first.
pub fn active_page(after: Option<RunId>, limit: usize) -> ActivePage {
    // Each shard contributes at most `limit` runs, so the work is bounded by
    // the page, not by the number of runs.
    let mut picked: Vec<Arc<Run>> = Vec::new();
    for shard in &ACTIVE {
        let runs = shard.lock().unwrap_or_else(|e| e.into_inner());
        let from = match after {
            Some(after) => runs.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => runs.range(..),
        };
        picked.extend(from.take(limit.saturating_add(1)).map(|(_, run)| run.clone()));
    }
    picked.sort_by_key(|run| run.id);
    let more = picked.len() > limit;
    picked.truncate(limit);
    let next = if more { picked.last().map(|run| run.id) } else { None };
    let runs = picked
        .into_iter()
        .map(|run| {
            let progress = run.progress();
            ActiveRun {
                run_id: run.id,
                workflow: run.name(),
                started_at: run.started_at,
                elapsed: run.elapsed(),
                running: progress.running.clone(),
                completed: progress.completed(),
                completed_total: progress.completed_total(),
            }
        })
        .collect();
    ActivePage {
        runs,
        total: LISTED.load(Ordering::Acquire).min(MAX_LISTED),
        unlisted: UNLISTED.load(Ordering::Relaxed),
        next,
    }
}
