//! `WorkflowSuccessCheck`: health that degrades when a workflow fails too
//! often. Each evaluation samples the workflow's finished and failed run
//! counts (the learned shape's totals, which every run updates with two
//! atomic adds); the ratio over the window compares the newest sample with
//! the oldest one still inside it. So the window slides with the health
//! refresh (every 10 s by default), and nothing extra runs on the hot path.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Check, CheckResult};
use crate::workflow::workflows;

/// The most samples kept: a day of evaluations every 10 s, and then some.
const MAX_SAMPLES: usize = 10_000;

/// Degraded while the share of a workflow's runs that ended `ok` over the
/// last `window` is below `min_ratio` (runs that failed, timed out, exceeded
/// a budget, panicked or were cancelled count against it). Healthy when
/// fewer than `min_runs` runs finished in the window. Its details show the
/// ratio, the counts and the window.
///
/// ```
/// use std::time::Duration;
/// use obs_runtime::HealthCheck;
/// use obs_runtime::health::WorkflowSuccessCheck;
///
/// #[derive(HealthCheck)]
/// struct Health {
///     #[health(non_critical)]
///     pipeline: WorkflowSuccessCheck,
/// }
///
/// let health = Health {
///     pipeline: WorkflowSuccessCheck::new("process_document").min_ratio(0.95).window(Duration::from_secs(3600)),
/// };
/// ```
#[derive(Debug)]
pub struct WorkflowSuccessCheck {
    workflow: String,
    min_ratio: f64,
    window: Duration,
    min_runs: u64,
    samples: Mutex<VecDeque<Sample>>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    runs: u64,
    failed: u64,
}

impl WorkflowSuccessCheck {
    /// A check of the workflow named `workflow` (its `#[workflow]` name),
    /// by default degraded below 95 % over 1 hour, from the first finished run.
    pub fn new(workflow: impl Into<String>) -> Self {
        WorkflowSuccessCheck {
            workflow: workflow.into(),
            min_ratio: 0.95,
            window: Duration::from_secs(3600),
            min_runs: 1,
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// The lowest healthy share of successful runs, between 0 and 1.
    pub fn min_ratio(mut self, ratio: f64) -> Self {
        self.min_ratio = ratio;
        self
    }

    /// How far back the ratio looks.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How many finished runs the window needs before the ratio counts (default 1).
    pub fn min_runs(mut self, runs: u64) -> Self {
        self.min_runs = runs;
        self
    }

    /// Takes a sample now and returns (runs, failed) over the window.
    fn window_counts(&self, now: Instant, runs: u64, failed: u64) -> (u64, u64) {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.is_empty() {
            // The first evaluation: the window starts with the process (no runs before it).
            samples.push_back(Sample { at: now, runs: 0, failed: 0 });
        }
        samples.push_back(Sample { at: now, runs, failed });
        // The baseline is the newest sample at or before the window's start.
        while samples.len() > 2 && samples.get(1).is_some_and(|s| now.duration_since(s.at) >= self.window) {
            samples.pop_front();
        }
        while samples.len() > MAX_SAMPLES {
            samples.pop_front();
        }
        let base = samples[0];
        (runs.saturating_sub(base.runs), failed.saturating_sub(base.failed))
    }
}

impl Check for WorkflowSuccessCheck {
    async fn check(&self) -> CheckResult {
        let Some(shape) = workflows().into_iter().find(|w| w.name == self.workflow) else {
            return CheckResult::unhealthy(format!("no #[workflow] named {:?} in this binary", self.workflow));
        };
        let (runs, failed) = self.window_counts(Instant::now(), shape.runs, shape.errors);
        let ratio = if runs == 0 { 1.0 } else { (runs - failed) as f64 / runs as f64 };
        let result = if runs >= self.min_runs && ratio < self.min_ratio {
            CheckResult::degraded(format!(
                "{:.1}% of the runs of {} succeeded over the last {}s (at least {:.1}% expected)",
                ratio * 100.0,
                self.workflow,
                self.window.as_secs(),
                self.min_ratio * 100.0
            ))
        } else {
            CheckResult::healthy()
        };
        result
            .with_detail("workflow", self.workflow.clone())
            .with_detail("success_ratio", ratio)
            .with_detail("runs", runs)
            .with_detail("failed", failed)
            .with_detail("min_ratio", self.min_ratio)
            .with_detail("window_seconds", self.window.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides() {
        let check = WorkflowSuccessCheck::new("w").window(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(check.window_counts(t0, 10, 5), (10, 5));
        assert_eq!(check.window_counts(t0 + Duration::from_secs(30), 20, 5), (20, 5));
        // 70 s on, the first sample (10 runs, 5 failed) is the newest one at or before the window's start.
        assert_eq!(check.window_counts(t0 + Duration::from_secs(70), 30, 6), (20, 1));
        // 100 s on, the 30 s sample is.
        assert_eq!(check.window_counts(t0 + Duration::from_secs(100), 40, 6), (20, 1));
    }
}
