//! The runs in progress, as [`active_runs`] and `/obs/workflows/active` list them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::run::{Run, RunId};

static ACTIVE: Mutex<BTreeMap<RunId, Arc<Run>>> = Mutex::new(BTreeMap::new());

/// Lists `run` as in progress.
pub(crate) fn insert(run: &Arc<Run>) {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).insert(run.id, run.clone());
}

pub(crate) fn finish(run: &Run) {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&run.id);
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
    /// The nodes completed so far, in order of completion.
    pub completed: Vec<&'static str>,
}

/// The workflow runs in progress, oldest first.
pub fn active_runs() -> Vec<ActiveRun> {
    ACTIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect::<Vec<_>>()
        .into_iter()
        .map(|run| {
            let progress = run.progress();
            ActiveRun {
                run_id: run.id,
                workflow: run.name(),
                started_at: run.started_at,
                elapsed: run.elapsed(),
                running: progress.running.clone(),
                completed: progress.completed.clone(),
            }
        })
        .collect()
}
