//! `GET /obs/hotspots`: where the time went over the last interval. From the
//! live histograms of obs's store, every `#[observe]` function, `#[workflow]`
//! and `#[node]` that ran, ranked four ways: total time spent (the sum of its
//! call durations), p99 latency (estimated from the buckets the way
//! Prometheus' `histogram_quantile` does), error ratio, and slow polls.
//!
//! The interval is the time since the last baseline: the first request looks
//! back to start-up, and a request made [`INTERVAL`] or more after the
//! baseline makes the present the next one, so each window is at least that
//! long and the answer says how long it is (`window_seconds`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use crate::kind::Kind;
use crate::metrics::Status;
use crate::metrics::poll::{self, PollTotals};
use crate::metrics::store::{self, Totals};

/// The shortest window after which the baseline moves on.
pub(crate) const INTERVAL: Duration = Duration::from_secs(60);
/// Entries per ranking.
const TOP: usize = 10;

/// What a series had counted at a moment.
#[derive(Clone)]
struct Counts {
    function: &'static str,
    module: &'static str,
    kind: Kind,
    ok: u64,
    buckets: Vec<u64>,
    sum_seconds: f64,
    slow_polls: u64,
    busy_seconds: f64,
}

struct Baseline {
    at: Instant,
    counts: Vec<Counts>,
}

static BASELINE: Mutex<Option<Baseline>> = Mutex::new(None);
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Adds the route (served by obs's Prometheus exporter, which keeps the store).
pub(crate) fn routes(router: Router) -> Router {
    STARTED.get_or_init(Instant::now);
    router.route(
        "/obs/hotspots",
        get(|| async {
            ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], hotspots().to_string())
                .into_response()
        }),
    )
}

fn now_counts() -> (Vec<Counts>, Vec<f64>) {
    let Some((families, series)) = store::snapshot() else { return (Vec::new(), Vec::new()) };
    let polls = poll::snapshot();
    let mut all: Vec<Counts> = Vec::with_capacity(series.len());
    for totals in &series {
        // A function with `labels(...)` has a series per label combination: it ranks as one function.
        match all
            .iter_mut()
            .find(|c| c.function == totals.function && c.module == totals.module && c.kind == totals.kind)
        {
            Some(same) => {
                same.ok += totals.calls[Status::Ok as usize];
                same.sum_seconds += totals.sum_seconds;
                same.buckets.iter_mut().zip(&totals.buckets).for_each(|(sum, add)| *sum += add);
            }
            None => all.push(counts(totals, &polls)),
        }
    }
    (all, families.bounds.clone())
}

fn counts(totals: &Totals, polls: &[PollTotals]) -> Counts {
    let poll = polls.iter().find(|p| p.function == totals.function && p.module == totals.module);
    Counts {
        function: totals.function,
        module: totals.module,
        kind: totals.kind,
        ok: totals.calls[Status::Ok as usize],
        buckets: totals.buckets.clone(),
        sum_seconds: totals.sum_seconds,
        slow_polls: poll.map_or(0, |p| p.slow),
        busy_seconds: poll.map_or(0.0, |p| p.sum_seconds),
    }
}

/// The rankings over the window that ends now.
fn hotspots() -> Value {
    let (now, bounds) = now_counts();
    let mut baseline = BASELINE.lock().unwrap_or_else(|e| e.into_inner());
    let since = baseline.as_ref().map_or_else(|| *STARTED.get_or_init(Instant::now), |b| b.at);
    let empty = Vec::new();
    let before = baseline.as_ref().map_or(&empty, |b| &b.counts);
    let entries: Vec<Entry> = now.iter().filter_map(|c| Entry::over(c, before, &bounds)).collect();
    let window = since.elapsed();
    if window >= INTERVAL || baseline.is_none() {
        *baseline = Some(Baseline { at: Instant::now(), counts: now });
    }
    drop(baseline);
    rank(entries, window)
}

/// One series over the window.
struct Entry {
    function: &'static str,
    module: &'static str,
    kind: Kind,
    calls: u64,
    total_seconds: f64,
    p99_seconds: Option<f64>,
    error_ratio: f64,
    slow_polls: u64,
    busy_seconds: f64,
}

impl Entry {
    /// What `now` counted beyond `before` (the same series in the baseline); `None` when nothing happened.
    fn over(now: &Counts, before: &[Counts], bounds: &[f64]) -> Option<Entry> {
        let then = before.iter().find(|b| b.function == now.function && b.module == now.module && b.kind == now.kind);
        let buckets: Vec<u64> = match then {
            Some(then) => now.buckets.iter().zip(&then.buckets).map(|(n, t)| n.saturating_sub(*t)).collect(),
            None => now.buckets.clone(),
        };
        let calls: u64 = buckets.iter().sum();
        let slow_polls = now.slow_polls - then.map_or(0, |t| t.slow_polls.min(now.slow_polls));
        if calls == 0 && slow_polls == 0 {
            return None;
        }
        let ok = now.ok - then.map_or(0, |t| t.ok.min(now.ok));
        Some(Entry {
            function: now.function,
            module: now.module,
            kind: now.kind,
            calls,
            total_seconds: (now.sum_seconds - then.map_or(0.0, |t| t.sum_seconds)).max(0.0),
            p99_seconds: quantile(0.99, bounds, &buckets),
            error_ratio: if calls == 0 { 0.0 } else { calls.saturating_sub(ok) as f64 / calls as f64 },
            slow_polls,
            busy_seconds: (now.busy_seconds - then.map_or(0.0, |t| t.busy_seconds)).max(0.0),
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "function": self.function,
            "module": self.module,
            "kind": self.kind.as_str(),
            "calls": self.calls,
            "total_seconds": self.total_seconds,
            "p99_seconds": self.p99_seconds,
            "error_ratio": self.error_ratio,
            "slow_polls": self.slow_polls,
            "busy_seconds": self.busy_seconds,
        })
    }
}

/// The `q` quantile of per-bucket counts (the last one above every bound),
/// interpolated linearly inside its bucket as `histogram_quantile` does; the
/// highest bound when it falls above every bound; `None` without observations.
fn quantile(q: f64, bounds: &[f64], buckets: &[u64]) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut below = 0u64;
    for (i, &count) in buckets.iter().enumerate() {
        if count > 0 && (below + count) as f64 >= rank {
            let Some(&upper) = bounds.get(i) else { return bounds.last().copied() };
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            return Some(lower + (upper - lower) * (rank - below as f64) / count as f64);
        }
        below += count;
    }
    bounds.last().copied()
}

fn rank(mut entries: Vec<Entry>, window: Duration) -> Value {
    let mut ranking = |key: fn(&Entry) -> f64, keep: fn(&Entry) -> bool| -> Value {
        entries.sort_by(|a, b| key(b).total_cmp(&key(a)).then_with(|| a.function.cmp(b.function)));
        Value::Array(entries.iter().filter(|e| keep(e)).take(TOP).map(Entry::to_json).collect())
    };
    json!({
        "window_seconds": window.as_secs_f64(),
        "by_total_time": ranking(|e| e.total_seconds, |e| e.calls > 0),
        "by_p99": ranking(|e| e.p99_seconds.unwrap_or(0.0), |e| e.p99_seconds.is_some()),
        "by_error_ratio": ranking(|e| e.error_ratio, |e| e.error_ratio > 0.0),
        "by_slow_polls": ranking(|e| e.slow_polls as f64, |e| e.slow_polls > 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantile_interpolates_inside_its_bucket_like_histogram_quantile() {
        let bounds = [0.1, 0.2, 0.4];
        // 100 observations: 50 at most 0.1, 49 in (0.1, 0.2], 1 in (0.2, 0.4].
        assert_eq!(quantile(0.99, &bounds, &[50, 49, 1, 0]), Some(0.2));
        assert_eq!(quantile(0.5, &bounds, &[50, 49, 1, 0]), Some(0.1));
        assert!((quantile(0.995, &bounds, &[50, 49, 1, 0]).unwrap() - 0.3).abs() < 1e-9);
        assert_eq!(quantile(0.99, &bounds, &[0, 0, 0, 5]), Some(0.4), "above every bound: the highest");
        assert_eq!(quantile(0.99, &bounds, &[0, 0, 0, 0]), None);
    }
}
