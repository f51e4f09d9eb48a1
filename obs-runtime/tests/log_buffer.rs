//! The buffer a thread formats JSON lines in does not keep the size of the
//! longest line it ever wrote.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use tracing_subscriber::layer::SubscriberExt;

/// Counts the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_huge_line_does_not_stay_allocated_after_it_is_written() {
    let subscriber = tracing_subscriber::registry().with(obs_runtime::log::JsonLayer::new("svc", std::io::sink));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(note = "warm-up", "small");
        let before = LIVE.load(Ordering::Relaxed);
        let huge = "x".repeat(8 << 20);
        tracing::info!(payload = %huge, "huge");
        drop(huge);
        tracing::info!(note = "after", "small");
        let kept = LIVE.load(Ordering::Relaxed) - before;
        assert!(kept < 256 << 10, "{kept} bytes are still allocated after one 8 MiB line");
    });
}
