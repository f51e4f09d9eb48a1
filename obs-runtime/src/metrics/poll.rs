//! Poll time against wall time for async instrumented functions: the busy
//! time of each call (the summed duration of its polls) as a histogram beside
//! the duration histogram, and the polls that ran longer than the slow-poll
//! threshold, each counted and (rate-limited) logged at WARN. A poll that
//! blocks (a synchronous sleep, a blocking lock, heavy CPU work) holds its
//! executor thread; this is how it shows in production.
//!
//! Kept like the function store (`store.rs`): sharded per-thread atomics, no
//! lock and no allocation per call. A call's first poll reuses the clock read
//! that starts the call and its last poll the read that ends it, so a future
//! ready on its first poll costs no extra clock read at all.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::Family;
use super::families::{FUNCTION_POLL_SECONDS, FUNCTION_SLOW_POLLS_TOTAL};
use super::store::{Sharded, bounds_nanos, shard};
use crate::kind::Kind;

/// The default slow-poll threshold: a poll longer than this blocks its executor thread noticeably.
pub const DEFAULT_SLOW_POLL: Duration = Duration::from_millis(10);
/// At most one slow-poll line per function and interval; the next line says how many were not logged.
const WARN_INTERVAL_NANOS: u64 = 1_000_000_000;

static SLOW_POLL_NANOS: AtomicU64 = AtomicU64::new(10_000_000);

// Where each counter sits within a shard.
/// With its wrap count in the next slot (see [`Sharded::add_nanos`]).
const SUM_NANOS: usize = 0;
const SLOW: usize = 2;
/// One slot per bucket bound, then `+Inf`.
const BUCKETS: usize = 3;

/// The busy-time histogram and slow-poll counter of one `(function, module)` pair.
pub(crate) struct PollSeries {
    pub(crate) function: &'static str,
    pub(crate) module: &'static str,
    kind: Kind,
    bounds: &'static [u64],
    slots: Sharded,
    /// When the last slow-poll line was written (nanoseconds of obs's clock), and how many were not since.
    last_warn: AtomicU64,
    unlogged: AtomicU64,
}

impl PollSeries {
    fn new(function: &'static str, module: &'static str, kind: Kind, bounds: &'static [u64]) -> PollSeries {
        PollSeries {
            function,
            module,
            kind,
            bounds,
            slots: Sharded::new(BUCKETS + bounds.len() + 1),
            last_warn: AtomicU64::new(0),
            unlogged: AtomicU64::new(0),
        }
    }

    /// One poll took `nanos`: counted (and logged) when over the threshold.
    #[inline]
    pub(crate) fn poll(&self, nanos: u64) {
        if nanos > SLOW_POLL_NANOS.load(Relaxed) {
            self.slow(nanos);
        }
    }

    #[cold]
    #[inline(never)]
    fn slow(&self, nanos: u64) {
        self.slots.mine(SLOW).fetch_add(1, Relaxed);
        let now = quanta::Instant::now();
        let now_nanos = clock_nanos(now);
        if already_reported(now_nanos, nanos) {
            return;
        }
        let last = self.last_warn.load(Relaxed);
        let due = last == 0 || now_nanos.saturating_sub(last) >= WARN_INTERVAL_NANOS;
        if !due || self.last_warn.compare_exchange(last, now_nanos.max(1), Relaxed, Relaxed).is_err() {
            self.unlogged.fetch_add(1, Relaxed);
            return;
        }
        let unlogged = self.unlogged.swap(0, Relaxed);
        let poll_ms = nanos as f64 / 1e6;
        let event = match self.kind {
            Kind::Workflow => "workflow.slow_poll",
            Kind::Node => "node.slow_poll",
            _ => "function.slow_poll",
        };
        tracing::warn!(
            target: "obs::poll",
            event,
            function = self.function,
            module = self.module,
            poll_ms,
            unlogged,
            "{} held its executor thread for {poll_ms:.1} ms in one poll (blocking work in async code?)",
            self.function,
        );
    }

    /// A call ended after `busy` nanoseconds of polling in all.
    #[inline]
    pub(crate) fn end(&self, busy: u64) {
        let bucket = self.bounds.iter().position(|&bound| busy <= bound).unwrap_or(self.bounds.len());
        let shard = shard();
        self.slots.add_nanos(shard, SUM_NANOS, busy);
        self.slots.slot(shard, BUCKETS + bucket).fetch_add(1, Relaxed);
    }

    fn totals(&self) -> PollTotals {
        PollTotals {
            function: self.function,
            module: self.module,
            buckets: (0..=self.bounds.len()).map(|b| self.slots.sum(BUCKETS + b)).collect(),
            sum_seconds: self.slots.sum_nanos(SUM_NANOS) as f64 / 1e9,
            slow: self.slots.sum(SLOW),
        }
    }
}

/// Whether a slow poll nested in this one (a node's poll inside its
/// workflow's, an `#[observe]` future awaited inside another) already
/// reported it on this thread: one blocking poll is one WARN line, from the
/// innermost instrumented future, which names the culprit; each enclosing
/// function still counts it. Records this poll's end for the polls enclosing it.
fn already_reported(now_nanos: u64, nanos: u64) -> bool {
    thread_local! {
        /// When the last slow poll on this thread ended (obs's clock; 0: none yet).
        static LAST_SLOW_END: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let began = now_nanos.saturating_sub(nanos);
    LAST_SLOW_END
        .try_with(|last| {
            let nested = last.get() != 0 && last.get() >= began;
            last.set(now_nanos);
            nested
        })
        .unwrap_or(false)
}

/// Nanoseconds since the first call, on obs's clock (never 0 once called).
fn clock_nanos(now: quanta::Instant) -> u64 {
    static ORIGIN: OnceLock<quanta::Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(|| now);
    u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX).saturating_add(1)
}

/// What a scrape reports of one series.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) struct PollTotals {
    pub function: &'static str,
    pub module: &'static str,
    /// Calls per bucket of busy time (not cumulative), the last one above every bound.
    pub buckets: Vec<u64>,
    pub sum_seconds: f64,
    pub slow: u64,
}

/// The families kept here and rendered by obs's Prometheus exporter.
pub(crate) const RENDERED: [&Family; 2] = [&FUNCTION_POLL_SECONDS, &FUNCTION_SLOW_POLLS_TOTAL];

static SERIES: Mutex<Vec<&'static PollSeries>> = Mutex::new(Vec::new());

/// Sets the slow-poll threshold (called by `init`).
pub(crate) fn set_threshold(threshold: Duration) {
    SLOW_POLL_NANOS.store(u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX), Relaxed);
}

/// The series of a `(function, module)` pair, created at zero on first use;
/// `None` unless obs keeps function metrics itself (its Prometheus exporter).
pub(crate) fn series(function: &'static str, module: &'static str, kind: Kind) -> Option<&'static PollSeries> {
    let bounds = bounds_nanos()?;
    let mut all = SERIES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = all.iter().find(|s| s.function == function && s.module == module) {
        return Some(found);
    }
    let created: &'static PollSeries = Box::leak(Box::new(PollSeries::new(function, module, kind, bounds)));
    all.push(created);
    Some(created)
}

/// The current totals of every series, sorted by module and function.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn snapshot() -> Vec<PollTotals> {
    let mut series: Vec<&'static PollSeries> = SERIES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    series.sort_by_key(|s| (s.module, s.function));
    series.iter().map(|s| s.totals()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_lands_in_buckets_and_slow_polls_are_counted_past_the_threshold() {
        let series = PollSeries::new("f", "m", Kind::Function, &[1_000, 1_000_000]);
        series.end(500);
        series.end(2_000);
        series.end(5_000_000);
        series.poll(SLOW_POLL_NANOS.load(Relaxed));
        series.poll(SLOW_POLL_NANOS.load(Relaxed) + 1);
        let totals = series.totals();
        assert_eq!(totals.buckets, [1, 1, 1]);
        assert_eq!(totals.slow, 1);
        assert!((totals.sum_seconds - 0.0050025).abs() < 1e-12, "{}", totals.sum_seconds);
    }
}
