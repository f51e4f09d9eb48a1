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
        SpanIds { trace_id: trace_id.unwrap_or_else(random_trace_id), span_id: random_nonzero_u64() }
    }
}

fn random_trace_id() -> u128 {
    (u128::from(random_nonzero_u64()) << 64) | u128::from(random_u64())
}

fn random_nonzero_u64() -> u64 {
    loop {
        let value = random_u64();
        if value != 0 {
            return value;
        }
    }
}

/// A per-thread xorshift generator seeded from the OS-randomised hasher keys.
pub(crate) fn random_u64() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(std::process::id().into());
            hasher.finish() | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}
