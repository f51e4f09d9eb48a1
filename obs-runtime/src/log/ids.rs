//! Trace and span ids for log correlation, W3C-sized (16 and 8 bytes).

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// The ids of one span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanIds {
    /// Shared by every span of one trace.
    pub trace_id: u128,
    /// This span's own id.
    pub span_id: u64,
}

impl SpanIds {
    /// Ids for a new span: the parent's trace id, or a new trace when there is none.
    pub(crate) fn new_child_of(trace_id: Option<u128>) -> SpanIds {
        // One visit to the generator for all three words: a span is made on every call.
        let [span, high, low] = random_words::<3>();
        let span_id = nonzero(span);
        let trace_id = trace_id.unwrap_or_else(|| (u128::from(nonzero(high)) << 64) | u128::from(low));
        SpanIds { trace_id, span_id }
    }
}

/// `value`, or a fresh draw in the rare case it is zero (an invalid W3C id).
fn nonzero(value: u64) -> u64 {
    let mut value = value;
    while value == 0 {
        value = random_u64();
    }
    value
}

/// A per-thread xorshift generator seeded from the OS-randomised hasher keys.
pub(crate) fn random_u64() -> u64 {
    let [value] = random_words::<1>();
    value
}

fn random_words<const N: usize>() -> [u64; N] {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(std::process::id().into());
            hasher.finish() | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        let words = std::array::from_fn(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        });
        state.set(x);
        words
    })
}
