//! With nobody probing, the background refresh keeps `obs_health_status`
//! current and logs each change once. Its own binary: it needs its own `init`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use obs_runtime::HealthCheck;
use obs_runtime::health::{Check, CheckResult};
use obs_runtime::log::MemoryWriter;

static UP: AtomicBool = AtomicBool::new(true);

struct Flag;

impl Check for Flag {
    async fn check(&self) -> CheckResult {
        UP.load(Ordering::SeqCst).into()
    }
}

#[derive(HealthCheck)]
struct AppHealth {
    queue: Flag,
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn background_refresh_updates_the_gauge_without_probes() {
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .without_http()
        .log_writer(logs.clone())
        .health(AppHealth { queue: Flag })
        .health_cache(Duration::ZERO)
        .health_refresh(Duration::from_millis(50))
        .init()
        .expect("obs init");
    let gauge = || {
        let text = guard.render_metrics().unwrap();
        text.lines().find_map(|l| l.strip_prefix("obs_health_status{check=\"queue\"} ").map(str::to_owned))
    };
    wait_for("obs_health_status 1", || gauge().as_deref() == Some("1"));
    UP.store(false, Ordering::SeqCst);
    wait_for("obs_health_status 0", || gauge().as_deref() == Some("0"));
    // Several more refreshes while it stays down: still one change event.
    std::thread::sleep(Duration::from_millis(300));
    let changes = logs.text().matches("\"event\":\"health.changed\"").count();
    assert_eq!(changes, 1, "{}", logs.text());
}
