//! The timers behind deadlines, node timeouts and retry backoff, for any
//! executor: tokio's timer inside a tokio runtime, else obs's own timer
//! thread (started on first use), so that a workflow driven by
//! `futures::executor::block_on`, smol or async-std does not panic.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::Context;
use std::time::{Duration, Instant};

use atomic_waker::AtomicWaker;

/// A timer that completes once `after` has passed since it was made.
pub(crate) enum Sleep {
    Tokio(Pin<Box<tokio::time::Sleep>>),
    Own(OwnSleep),
}

/// Sleeps for `after`, on the runtime's timer when there is a tokio runtime.
pub(crate) fn sleep(after: Duration) -> Sleep {
    // A tokio runtime built without timers still panics here, as tokio's own
    // `sleep` would: that runtime cannot time anything.
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Sleep::Tokio(Box::pin(tokio::time::sleep(after))),
        Err(_) => Sleep::Own(OwnSleep::new(after)),
    }
}

impl Sleep {
    /// Whether the time is up; registers the task to wake when it is not.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Sleep::Tokio(sleep) => sleep.as_mut().poll(cx).is_ready(),
            Sleep::Own(sleep) => sleep.poll_expired(cx),
        }
    }
}

/// One sleep on obs's timer thread.
pub(crate) struct OwnSleep {
    key: (Instant, u64),
    state: Arc<Entry>,
}

struct Entry {
    fired: AtomicBool,
    waker: AtomicWaker,
}

struct Wheel {
    due: Mutex<BTreeMap<(Instant, u64), Arc<Entry>>>,
    changed: Condvar,
}

fn wheel() -> &'static Wheel {
    static WHEEL: OnceLock<&'static Wheel> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let wheel: &'static Wheel = Box::leak(Box::new(Wheel { due: Mutex::default(), changed: Condvar::new() }));
        // Lives as long as the process, like the sleeps it serves; if the thread
        // cannot start, sleeps fire at their first poll past the deadline.
        let _ = std::thread::Builder::new().name("obs-timer".into()).spawn(move || wheel.run());
        wheel
    })
}

impl Wheel {
    fn run(&self) {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            while let Some(entry) = due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let entry = entry.remove();
                entry.fired.store(true, Ordering::Release);
                entry.waker.wake();
            }
            due = match due.keys().next().map(|(at, _)| *at) {
                Some(next) => self.changed.wait_timeout(due, next - now).unwrap_or_else(|e| e.into_inner()).0,
                None => self.changed.wait(due).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

impl OwnSleep {
    fn new(after: Duration) -> OwnSleep {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let at = Instant::now() + after;
        let key = (at, NEXT.fetch_add(1, Ordering::Relaxed));
        let state = Arc::new(Entry { fired: AtomicBool::new(after.is_zero()), waker: AtomicWaker::new() });
        if !after.is_zero() {
            let wheel = wheel();
            let mut due = wheel.due.lock().unwrap_or_else(|e| e.into_inner());
            let earliest = due.keys().next().is_none_or(|first| key < *first);
            due.insert(key, state.clone());
            if earliest {
                wheel.changed.notify_one();
            }
        }
        OwnSleep { key, state }
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.state.fired.load(Ordering::Acquire) || Instant::now() >= self.key.0 {
            return true;
        }
        self.state.waker.register(cx.waker());
        // Fired between the check and the registration.
        self.state.fired.load(Ordering::Acquire)
    }
}

impl Drop for OwnSleep {
    fn drop(&mut self) {
        if !self.state.fired.load(Ordering::Acquire) {
            wheel().due.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Poll;

    use super::*;

    #[test]
    fn outside_tokio_a_sleep_wakes_its_task_after_its_time() {
        let started = Instant::now();
        futures_executor::block_on(async {
            let mut sleep = sleep(Duration::from_millis(50));
            std::future::poll_fn(|cx| if sleep.poll_expired(cx) { Poll::Ready(()) } else { Poll::Pending }).await;
        });
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(50) && took < Duration::from_secs(2), "{took:?}");
        // A dropped sleep leaves nothing behind.
        drop(sleep(Duration::from_secs(3600)));
        assert!(wheel().due.lock().unwrap().is_empty());
    }
}
