//! Exemplars: for each bucket of a function's duration histogram and each
//! status of its calls counter, one recent call that a trace backend will
//! have, shown in the OpenMetrics text of `/metrics` (and sent with OTLP
//! metrics), so a spike on a dashboard leads to a trace.
//!
//! Only a call whose trace will be stored qualifies: [`enable`] is called by
//! the OTLP trace exporter alone (no export, no exemplars), with the rule that
//! says which calls it will export (sampled ones; with
//! `keep_error_traces`/`keep_slow_traces`, the local roots it keeps after the
//! fact). A trace id no backend ever receives would send the user to nothing.
//!
//! At most one exemplar is taken per slot per scrape interval: each slot
//! remembers the interval ([`EPOCH`], advanced by every OpenMetrics scrape)
//! it was last filled in, so a call checks one relaxed load against another
//! and is done; only the first qualifying call of an interval writes. The
//! write is a seqlock over atomics (a claimed sequence number, the fields,
//! the released number), so a scrape reads a whole exemplar or none and a
//! call never waits: a slot another thread is writing is skipped.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Status;

/// One call's trace, value and time, as an exemplar shows them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exemplar {
    pub trace_id: u128,
    pub span_id: u64,
    /// The observed value: the duration in seconds for a bucket, 1 for a counter.
    pub value: f64,
    /// When the call ended, in nanoseconds since the Unix epoch.
    pub unix_nanos: u64,
}

/// Whether a call's trace will be stored, and its ids if so: given the call's
/// span, how it ended and how long it took in nanoseconds.
pub(crate) type Qualify = fn(&tracing::Span, Status, u64) -> Option<(u128, u64)>;

static QUALIFY: OnceLock<Qualify> = OnceLock::new();

/// The scrape interval exemplars are taken in; starts above every slot's 0.
static EPOCH: AtomicU64 = AtomicU64::new(1);

/// Turns exemplars on, with the rule that says which calls the trace exporter stores.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) fn enable(qualify: Qualify) {
    let _ = QUALIFY.set(qualify);
}

/// Starts the next interval: every slot may take a new exemplar. Called after
/// a rendering that shows them.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn next_interval() {
    EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// A series' exemplar slots: one per histogram bucket (`+Inf` included), then
/// one per [`Status::FUNCTION`] for the calls counter.
pub(crate) struct Slots {
    buckets: usize,
    slots: Box<[Slot]>,
}

#[derive(Default)]
struct Slot {
    /// Even: stable; odd: being written. 0: never written.
    seq: AtomicU64,
    /// The interval the slot was last filled in.
    epoch: AtomicU64,
    trace_hi: AtomicU64,
    trace_lo: AtomicU64,
    span_id: AtomicU64,
    value: AtomicU64,
    unix_nanos: AtomicU64,
}

impl Slot {
    #[inline]
    fn wants(&self, epoch: u64) -> bool {
        self.epoch.load(Ordering::Relaxed) != epoch
    }

    fn write(&self, epoch: u64, exemplar: Exemplar) {
        let seq = self.seq.load(Ordering::Relaxed);
        // Another thread is writing it: this interval has its exemplar.
        if seq & 1 == 1 || self.seq.compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return;
        }
        self.trace_hi.store((exemplar.trace_id >> 64) as u64, Ordering::Relaxed);
        self.trace_lo.store(exemplar.trace_id as u64, Ordering::Relaxed);
        self.span_id.store(exemplar.span_id, Ordering::Relaxed);
        self.value.store(exemplar.value.to_bits(), Ordering::Relaxed);
        self.unix_nanos.store(exemplar.unix_nanos, Ordering::Relaxed);
        self.epoch.store(epoch, Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }

    /// The last exemplar written, or `None` when there is none (or a writer
    /// kept it busy for every try: the next scrape shows it).
    fn read(&self) -> Option<Exemplar> {
        for _ in 0..8 {
            let before = self.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let hi = self.trace_hi.load(Ordering::Relaxed);
            let lo = self.trace_lo.load(Ordering::Relaxed);
            let exemplar = Exemplar {
                trace_id: (u128::from(hi) << 64) | u128::from(lo),
                span_id: self.span_id.load(Ordering::Relaxed),
                value: f64::from_bits(self.value.load(Ordering::Relaxed)),
                unix_nanos: self.unix_nanos.load(Ordering::Relaxed),
            };
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return Some(exemplar);
            }
        }
        None
    }
}

impl Slots {
    pub(crate) fn new(buckets: usize) -> Slots {
        Slots { buckets, slots: (0..buckets + Status::FUNCTION.len()).map(|_| Slot::default()).collect() }
    }

    /// Offers a call that ended in `bucket` with `status` after `nanos`: taken
    /// when exemplars are on, its bucket or status slot has none for this
    /// interval, and its trace will be stored.
    #[inline]
    pub(crate) fn offer(&self, bucket: usize, status: Status, nanos: u64, span: &tracing::Span) {
        let Some(qualify) = QUALIFY.get() else { return };
        let epoch = EPOCH.load(Ordering::Relaxed);
        let by_bucket = self.slots.get(bucket).filter(|slot| slot.wants(epoch));
        let by_status = self.slots.get(self.buckets + status as usize).filter(|slot| slot.wants(epoch));
        if by_bucket.is_none() && by_status.is_none() {
            return;
        }
        take(*qualify, epoch, (by_bucket, by_status), status, nanos, span);
    }

    /// The exemplar of each bucket, in bucket order.
    pub(crate) fn buckets(&self) -> Vec<Option<Exemplar>> {
        self.slots[..self.buckets].iter().map(Slot::read).collect()
    }

    /// The exemplar of each of [`Status::FUNCTION`], in that order.
    pub(crate) fn statuses(&self) -> [Option<Exemplar>; 4] {
        std::array::from_fn(|i| self.slots[self.buckets + i].read())
    }
}

/// The slow half of [`Slots::offer`]: asks the trace exporter, then writes.
#[cold]
fn take(
    qualify: Qualify,
    epoch: u64,
    (by_bucket, by_status): (Option<&Slot>, Option<&Slot>),
    status: Status,
    nanos: u64,
    span: &tracing::Span,
) {
    if span.is_disabled() {
        return;
    }
    let Some((trace_id, span_id)) = qualify(span, status, nanos) else { return };
    let unix_nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    if let Some(slot) = by_bucket {
        slot.write(epoch, Exemplar { trace_id, span_id, value: nanos as f64 / 1e9, unix_nanos });
    }
    if let Some(slot) = by_status {
        slot.write(epoch, Exemplar { trace_id, span_id, value: 1.0, unix_nanos });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_keeps_the_first_exemplar_of_an_interval_and_reads_it_whole() {
        let slot = Slot::default();
        assert_eq!(slot.read(), None);
        let first =
            Exemplar { trace_id: u128::MAX - 7, span_id: 9, value: 0.25, unix_nanos: 1_700_000_000_000_000_000 };
        assert!(slot.wants(5));
        slot.write(5, first);
        assert!(!slot.wants(5), "filled for interval 5");
        assert_eq!(slot.read(), Some(first));
        assert!(slot.wants(6));
        let second = Exemplar { trace_id: 1, span_id: 2, value: 3.0, unix_nanos: 4 };
        slot.write(6, second);
        assert_eq!(slot.read(), Some(second));
    }

    #[test]
    fn readers_never_see_half_an_exemplar_while_threads_write() {
        let slot = Slot::default();
        std::thread::scope(|s| {
            for t in 1..=3u64 {
                let slot = &slot;
                s.spawn(move || {
                    for epoch in 0..20_000u64 {
                        let id = u128::from(t) << 64 | u128::from(t);
                        slot.write(
                            epoch * 4 + t,
                            Exemplar { trace_id: id, span_id: t, value: t as f64, unix_nanos: t },
                        );
                    }
                });
            }
            for _ in 0..20_000 {
                if let Some(e) = slot.read() {
                    let t = e.span_id;
                    assert_eq!(e.trace_id, u128::from(t) << 64 | u128::from(t));
                    assert_eq!((e.value, e.unix_nanos), (t as f64, t));
                }
            }
        });
    }
}
