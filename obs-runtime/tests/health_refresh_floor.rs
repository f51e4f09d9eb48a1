//! The background refresh with a tiny interval evaluates at most every
//! 100 ms instead of spinning a core, and survives an evaluation that panics.
//! Its own binary: it needs its own `init`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use obs_runtime::health::{Check, CheckResult, Component, HealthCheck};

static RUNS: AtomicUsize = AtomicUsize::new(0);
static EXPLODE: AtomicBool = AtomicBool::new(false);

struct Counted;

impl Check for Counted {
    async fn check(&self) -> CheckResult {
        RUNS.fetch_add(1, Ordering::SeqCst);
        CheckResult::healthy()
    }
}

/// Panics in `components()` while `EXPLODE` is set.
struct AppHealth {
    counted: Counted,
}

impl HealthCheck for AppHealth {
    fn components(&self) -> Vec<Component<'_>> {
        if EXPLODE.load(Ordering::SeqCst) {
            panic!("components exploded");
        }
        vec![Component::new("counted", &self.counted)]
    }
}

fn wait_for_runs() {
    let deadline = Instant::now() + Duration::from_secs(5);
    let from = RUNS.load(Ordering::SeqCst);
    while RUNS.load(Ordering::SeqCst) == from {
        assert!(Instant::now() < deadline, "the refresh stopped");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_tiny_refresh_interval_is_clamped_and_a_panic_does_not_stop_the_refresh() {
    let _guard = obs_runtime::builder()
        .without_http()
        .log_writer(obs_runtime::log::MemoryWriter::default())
        .health(AppHealth { counted: Counted })
        .health_cache(Duration::ZERO)
        .health_refresh(Duration::from_nanos(1))
        .init()
        .expect("obs init");
    wait_for_runs();
    let (from, started) = (RUNS.load(Ordering::SeqCst), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let runs = RUNS.load(Ordering::SeqCst) - from;
    let allowed = (started.elapsed().as_millis() / 100) as usize + 2;
    assert!(runs >= 5, "the refresh goes on: {runs} runs in a second");
    assert!(runs <= allowed, "{runs} runs in {:?}: the interval is not clamped to 100 ms", started.elapsed());

    // A few refreshes panic, then the refresh goes on.
    EXPLODE.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(350));
    EXPLODE.store(false, Ordering::SeqCst);
    wait_for_runs();
}
