//! obs's own storage for function metrics, used when obs's Prometheus exporter
//! is installed. A call costs a few relaxed adds on counters only its thread
//! touches: every series is split into [`SHARDS`] cache-line-aligned shards,
//! a thread always writes the same shard, and a scrape sums them.
//!
//! The `metrics` facade cannot do this: its Prometheus handles bump a shared
//! generation counter on every operation, keep gauges as CAS loops on `f64`,
//! and append histogram samples to a shared, epoch-pinned bucket.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::exemplar::{self, Exemplar};
use super::{FUNCTION_CALLS_TOTAL, FUNCTION_DURATION_SECONDS, FUNCTION_IN_FLIGHT, Family, Status};
use crate::kind::Kind;

/// Shards per series: enough that a handful of busy threads rarely share one.
const SHARDS: usize = 8;
/// Counters per cache line pair (128 bytes, so adjacent-line prefetch does not
/// pull in a neighbour's shard either).
const SLOTS_PER_LINE: usize = 16;

#[repr(align(128))]
struct Line([AtomicU64; SLOTS_PER_LINE]);

impl Line {
    fn zero() -> Line {
        Line(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// `slots` counters, [`SHARDS`] times over: a thread writes its own shard
/// (see [`shard`]), a reader sums them.
pub(crate) struct Sharded {
    lines_per_shard: usize,
    lines: Box<[Line]>,
}

impl Sharded {
    pub(crate) fn new(slots: usize) -> Sharded {
        let lines_per_shard = slots.div_ceil(SLOTS_PER_LINE);
        Sharded { lines_per_shard, lines: (0..SHARDS * lines_per_shard).map(|_| Line::zero()).collect() }
    }

    /// Counter `index` of this thread's shard.
    #[inline]
    pub(crate) fn mine(&self, index: usize) -> &AtomicU64 {
        self.slot(shard(), index)
    }

    #[inline]
    pub(crate) fn slot(&self, shard: usize, index: usize) -> &AtomicU64 {
        &self.lines[shard * self.lines_per_shard + index / SLOTS_PER_LINE].0[index % SLOTS_PER_LINE]
    }

    /// Adds `nanos` to the nanosecond sum at `sum` of `shard`, counting each
    /// wrap past `u64::MAX` (584 years of summed time: days, for a busy series
    /// of long calls) in the slot after it.
    #[inline]
    pub(crate) fn add_nanos(&self, shard: usize, sum: usize, nanos: u64) {
        if self.slot(shard, sum).fetch_add(nanos, Relaxed).checked_add(nanos).is_none() {
            self.slot(shard, sum + 1).fetch_add(1, Relaxed);
        }
    }

    /// The nanosecond sum at `sum` of every shard, wraps included.
    pub(crate) fn sum_nanos(&self, sum: usize) -> u128 {
        self.each(sum + 1)
            .zip(self.each(sum))
            .map(|(wraps, nanos)| (u128::from(wraps.load(Relaxed)) << 64) + u128::from(nanos.load(Relaxed)))
            .sum()
    }

    /// Counter `index` of every shard.
    pub(crate) fn each(&self, index: usize) -> impl Iterator<Item = &AtomicU64> {
        (0..SHARDS).map(move |shard| self.slot(shard, index))
    }

    /// Counter `index` summed over the shards.
    pub(crate) fn sum(&self, index: usize) -> u64 {
        self.each(index).map(|slot| slot.load(Relaxed)).fold(0, u64::wrapping_add)
    }
}

// Where each counter sits within a shard.
const STARTED: usize = 0;
const CALLS: usize = 1;
const SUM_NANOS: usize = CALLS + Status::FUNCTION.len();
/// How often the shard's nanosecond sum wrapped past `u64::MAX` (every 584
/// years of summed call time: days, for a busy series of long calls).
const SUM_WRAPS: usize = SUM_NANOS + 1;
/// One slot per bucket bound, then `+Inf`.
const BUCKETS: usize = SUM_WRAPS + 1;

/// The shard this thread writes: threads take shards in turn as they first record.
#[inline]
pub(super) fn shard() -> usize {
    // A `const` thread-local with no destructor is a plain TLS read, with no lazy-init check.
    thread_local! {
        static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    SHARD.with(|shard| match shard.get() {
        usize::MAX => {
            let taken = NEXT.fetch_add(1, Relaxed) % SHARDS;
            shard.set(taken);
            taken
        }
        taken => taken,
    })
}

/// The calls, duration histogram and in-flight count of one `(function, module)`
/// label pair. Call sites that share the pair (methods of different types with
/// the same name in one module) share the series, as they would through the facade.
pub(crate) struct FunctionSeries {
    function: &'static str,
    module: &'static str,
    /// `labels(...)` of the call site, after `module` (empty without): one series per combination.
    labels: &'static [(&'static str, &'static str)],
    /// Workflows and nodes keep a series too, for `/obs/hotspots` only: their
    /// metrics on `/metrics` are the workflow and node families.
    kind: Kind,
    /// Bucket upper bounds in nanoseconds, ascending.
    bounds: &'static [u64],
    slots: Sharded,
    /// One recent stored trace per bucket and per status, for OpenMetrics scrapes.
    exemplars: exemplar::Slots,
}

impl FunctionSeries {
    fn new(function: &'static str, module: &'static str, kind: Kind, bounds: &'static [u64]) -> FunctionSeries {
        let slots = Sharded::new(BUCKETS + bounds.len() + 1);
        let exemplars = exemplar::Slots::new(bounds.len() + 1);
        FunctionSeries { function, module, labels: &[], kind, bounds, slots, exemplars }
    }

    #[inline]
    pub(crate) fn start(&self) {
        self.slots.mine(STARTED).fetch_add(1, Relaxed);
    }

    #[inline]
    pub(crate) fn end(&self, status: Status, elapsed: Duration) {
        self.record(status, elapsed);
    }

    /// [`end`](Self::end), offering the call as an exemplar of its bucket and status.
    #[inline]
    pub(crate) fn end_traced(&self, status: Status, elapsed: Duration, span: &tracing::Span) {
        let (bucket, nanos) = self.record(status, elapsed);
        self.exemplars.offer(bucket, status, nanos, span);
    }

    /// Counts the call; returns its bucket and its duration in nanoseconds.
    #[inline]
    fn record(&self, status: Status, elapsed: Duration) -> (usize, u64) {
        let nanos = elapsed.as_secs().saturating_mul(1_000_000_000).saturating_add(u64::from(elapsed.subsec_nanos()));
        // Most calls are short and end at one of the first bounds.
        let bucket = self.bounds.iter().position(|&bound| nanos <= bound).unwrap_or(self.bounds.len());
        let shard = shard();
        let slot = |index| self.slots.slot(shard, index);
        // `FUNCTION` lists the statuses in discriminant order.
        if (status as usize) < Status::FUNCTION.len() {
            slot(CALLS + status as usize).fetch_add(1, Relaxed);
        }
        self.slots.add_nanos(shard, SUM_NANOS, nanos);
        slot(BUCKETS + bucket).fetch_add(1, Relaxed);
        (bucket, nanos)
    }

    /// Sums the shards. The counters are read one by one while calls go on, so
    /// derived figures come from the same reads: the histogram count is the
    /// sum of its buckets, and in-flight is what started minus what ended.
    fn totals(&self) -> Totals {
        let sum = |index: usize| self.slots.sum(index);
        let buckets: Vec<u64> = (0..=self.bounds.len()).map(|b| sum(BUCKETS + b)).collect();
        let started = sum(STARTED);
        let ended = buckets.iter().sum::<u64>();
        Totals {
            function: self.function,
            module: self.module,
            labels: self.labels,
            kind: self.kind,
            calls: std::array::from_fn(|i| sum(CALLS + i)),
            sum_seconds: self.slots.sum_nanos(SUM_NANOS) as f64 / 1e9,
            in_flight: started.saturating_sub(ended),
            buckets,
            bucket_exemplars: self.exemplars.buckets(),
            call_exemplars: self.exemplars.statuses(),
        }
    }
}

/// What a scrape reports for one series.
// Read by the Prometheus rendering only.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) struct Totals {
    pub function: &'static str,
    pub module: &'static str,
    /// The series' `labels(...)` pairs, rendered after `module`.
    pub labels: &'static [(&'static str, &'static str)],
    /// `/metrics` shows functions only; `/obs/hotspots` every kind.
    pub kind: Kind,
    /// Calls ended with each of [`Status::FUNCTION`], in that order.
    pub calls: [u64; 4],
    /// Calls per bucket (not cumulative), the last one above every bound.
    pub buckets: Vec<u64>,
    pub sum_seconds: f64,
    pub in_flight: u64,
    /// The exemplar of each bucket, when one was taken.
    pub bucket_exemplars: Vec<Option<Exemplar>>,
    /// The exemplar of each of [`Status::FUNCTION`]'s calls counters.
    pub call_exemplars: [Option<Exemplar>; 4],
}

/// The names (under the configured namespace) and bucket bounds of the families obs renders itself.
// Read by the Prometheus rendering only.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) struct Families {
    pub calls: String,
    pub duration: String,
    pub in_flight: String,
    /// Bucket upper bounds in seconds (the `le` labels).
    pub bounds: Vec<f64>,
}

/// The families obs keeps in this store and renders itself (with its own
/// Prometheus exporter), in the order it renders them; help and type come from the table.
pub(crate) const RENDERED: [&Family; 3] = [&FUNCTION_CALLS_TOTAL, &FUNCTION_DURATION_SECONDS, &FUNCTION_IN_FLIGHT];

/// Whether `family` is one this store keeps (so it is not described through the facade).
pub(crate) fn renders(family: &Family) -> bool {
    RENDERED.contains(&family)
}

struct Store {
    families: Families,
    bounds_nanos: &'static [u64],
    series: Mutex<Vec<&'static FunctionSeries>>,
}

static STORE: OnceLock<Store> = OnceLock::new();

/// The bucket bounds in nanoseconds, once obs keeps function metrics itself.
pub(super) fn bounds_nanos() -> Option<&'static [u64]> {
    STORE.get().map(|store| store.bounds_nanos)
}

/// Keeps function metrics in obs from now on (called once, by `init`).
pub(super) fn install(families: Families) {
    let nanos = families.bounds.iter().map(|&b| (b * 1e9).round() as u64).collect::<Vec<_>>();
    STORE.get_or_init(|| Store { families, bounds_nanos: nanos.leak(), series: Mutex::new(Vec::new()) });
}

/// The series of a `(function, module)` pair, created at zero on first use;
/// `None` when function metrics go through the facade.
pub(crate) fn series(function: &'static str, module: &'static str, kind: Kind) -> Option<&'static FunctionSeries> {
    labelled_series(function, module, kind, &[])
}

/// [`series`] with the `labels(...)` pairs of one label combination (added
/// for labels; the unlabelled series is the one with none).
pub(crate) fn labelled_series(
    function: &'static str,
    module: &'static str,
    kind: Kind,
    labels: &'static [(&'static str, &'static str)],
) -> Option<&'static FunctionSeries> {
    let store = STORE.get()?;
    let mut all = store.series.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) =
        all.iter().find(|s| s.function == function && s.module == module && s.kind == kind && s.labels == labels)
    {
        return Some(found);
    }
    let created: &'static FunctionSeries = Box::leak(Box::new(FunctionSeries {
        labels,
        ..FunctionSeries::new(function, module, kind, store.bounds_nanos)
    }));
    all.push(created);
    Some(created)
}

/// The families and the current totals of every series, sorted by module and
/// function; `None` when function metrics go through the facade.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn snapshot() -> Option<(&'static Families, Vec<Totals>)> {
    let store = STORE.get()?;
    let mut series: Vec<&'static FunctionSeries> = store.series.lock().unwrap_or_else(|e| e.into_inner()).clone();
    series.sort_by_key(|s| (s.module, s.function, s.labels));
    Some((&store.families, series.iter().map(|s| s.totals()).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: &[u64] = &[1_000, 10_000, 100_000];

    #[test]
    fn calls_land_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let series = FunctionSeries::new("f", "m", Kind::Function, BOUNDS);
        for nanos in [0, 1_000, 1_001, 50_000, 100_000, 100_001, 5_000_000_000] {
            series.start();
            series.end(Status::Ok, Duration::from_nanos(nanos));
        }
        let totals = series.totals();
        assert_eq!(totals.buckets, [2, 1, 2, 2]);
        assert_eq!(totals.calls, [7, 0, 0, 0]);
        assert_eq!(totals.in_flight, 0);
        assert!((totals.sum_seconds - 5.000252002).abs() < 1e-9, "{}", totals.sum_seconds);
    }

    #[test]
    fn shards_written_by_many_threads_add_up_and_calls_may_end_on_another_thread() {
        let series: &'static FunctionSeries =
            Box::leak(Box::new(FunctionSeries::new("f", "m", Kind::Function, BOUNDS)));
        std::thread::scope(|scope| {
            for _ in 0..SHARDS + 3 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        series.start();
                    }
                });
                scope.spawn(|| {
                    for i in 0..1000 {
                        let status = if i % 10 == 0 { Status::Error } else { Status::Ok };
                        series.end(status, Duration::from_nanos(i));
                    }
                });
            }
        });
        let totals = series.totals();
        let threads = (SHARDS + 3) as u64;
        assert_eq!(totals.calls, [900 * threads, 100 * threads, 0, 0]);
        assert_eq!(totals.buckets.iter().sum::<u64>(), 1000 * threads);
        assert_eq!(totals.in_flight, 0);
    }

    #[test]
    fn the_duration_sum_survives_passing_u64_nanoseconds() {
        let series = FunctionSeries::new("f", "m", Kind::Function, &[1_000]);
        // 3 calls of 300 years each: 2.8e19 ns, past u64::MAX (1.8e19).
        let long = Duration::from_secs(300 * 365 * 24 * 3600);
        for _ in 0..3 {
            series.end(Status::Ok, long);
        }
        let expected = 3.0 * long.as_secs_f64();
        let got = series.totals().sum_seconds;
        assert!((got - expected).abs() / expected < 1e-9, "{got} != {expected}");
    }
}
