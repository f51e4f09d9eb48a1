//! Shared by the fuzz targets: a counting global allocator (per thread, so
//! tests running side by side do not see each other's allocations) and the
//! case count of a run.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the bytes live on the current thread and the peak since the last [`reset_peak`].
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(delta: isize) {
    // `try_with`: an allocation while the thread's locals are torn down is not counted.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            add(layout.size() as isize);
        }
        ptr
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            add(layout.size() as isize);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        new
    }
}

/// Starts a measurement: the peak is set to what is live now.
pub fn reset_peak() -> isize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(live));
    live
}

/// The most bytes live on this thread since [`reset_peak`], above `base`.
pub fn peak_above(base: isize) -> usize {
    (PEAK.with(Cell::get) - base).max(0) as usize
}

/// `PROPTEST_CASES` when set (the long runs), else `default` (kept small for CI).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What one target saw, printed at the end of its run.
#[derive(Default)]
pub struct Tally {
    pub cases: u64,
    pub input_bytes: u64,
    /// The largest peak of any case, and that case's input size.
    pub max_peak: usize,
    pub max_peak_input: usize,
    /// The largest peak / input ratio of any input.
    pub max_ratio: f64,
    /// The largest peak / input ratio among inputs of at least 1 KiB.
    pub max_ratio_1k: f64,
    /// The same among inputs of at least 32 KiB (fixed buffers no longer dominate).
    pub max_ratio_32k: f64,
}

impl Tally {
    pub fn add(&mut self, input: usize, peak: usize) {
        self.cases += 1;
        self.input_bytes += input as u64;
        if peak > self.max_peak {
            self.max_peak = peak;
            self.max_peak_input = input;
        }
        if input > 0 {
            self.max_ratio = self.max_ratio.max(peak as f64 / input as f64);
        }
        if input >= 1024 {
            self.max_ratio_1k = self.max_ratio_1k.max(peak as f64 / input as f64);
        }
        if input >= 32 * 1024 {
            self.max_ratio_32k = self.max_ratio_32k.max(peak as f64 / input as f64);
        }
    }

    pub fn report(&self, target: &str, elapsed: std::time::Duration) {
        println!(
            "{target}: {} cases in {:.2} s ({:.0}/s), {} input bytes; peak bytes allocated: max {} (input {} bytes); \
             max peak per input byte: {:.2} (any input), {:.2} (inputs >= 1 KiB), {:.2} (inputs >= 32 KiB)",
            self.cases,
            elapsed.as_secs_f64(),
            self.cases as f64 / elapsed.as_secs_f64().max(1e-9),
            self.input_bytes,
            self.max_peak,
            self.max_peak_input,
            self.max_ratio,
            self.max_ratio_1k,
            self.max_ratio_32k
        );
    }
}
