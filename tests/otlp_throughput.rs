//! How many spans a second OTLP export sustains into a real collector (Rotel,
//! over OTLP/HTTP) with the default queue (2048 spans) and batch settings, and
//! the rate at which the queue starts dropping. The application is one thread
//! calling an `#[observe]` function at a paced rate, raised step by step; each
//! step waits until every span it made is accounted for (exported, dropped or
//! failed) and the collector has counted the exported ones.
//!
//! A measurement, not a check of a fixed figure (it depends on the machine and
//! its load), so it is ignored by default:
//!
//! `cargo test -p obs-tests --test otlp_throughput -- --ignored --nocapture`
//!
//! It fails when spans go missing: a step whose spans the counters do not
//! account for, a collector count that differs from obs's exported count, or
//! drops at the lowest rate (10,000 spans a second).
//!
//! Needs `rotel-agent` (scripts/install-test-deps.sh installs it into the test venv).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use obs_runtime::observe;
use support::collector::Collector;
use support::sample;

/// One span per call, with one argument (a realistic minimum).
#[observe]
fn handle(request: u64) -> u64 {
    black_box(request).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// How long each rate is held.
const WINDOW: Duration = Duration::from_secs(2);

/// The paced rates tried, in spans a second, until one drops.
const RATES: [f64; 11] = [10e3, 25e3, 50e3, 75e3, 100e3, 125e3, 150e3, 200e3, 300e3, 450e3, 700e3];

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    exported: f64,
    dropped: f64,
    failed: f64,
}

fn counts(guard: &obs_runtime::ObsGuard) -> Counts {
    let text = guard.render_metrics().expect("prometheus");
    let get = |name: &str| sample(&text, name, &[("signal", "traces")]).unwrap_or(0.0);
    Counts {
        exported: get("obs_exporter_exported_spans_total"),
        dropped: get("obs_exporter_dropped_spans_total"),
        failed: get("obs_exporter_failed_spans_total"),
    }
}

/// Calls `handle` at `rate` a second for `window` (or as fast as it can with
/// `None`); returns the calls made and the time they took.
fn produce(rate: Option<f64>, window: Duration, first: u64) -> (u64, Duration) {
    let start = Instant::now();
    let mut made = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= window {
            return (made, elapsed);
        }
        let due = match rate {
            Some(rate) => (elapsed.as_secs_f64() * rate) as u64,
            None => made + 1024,
        };
        while made < due {
            black_box(handle(first + made));
            made += 1;
        }
        if rate.is_some() {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

struct Step {
    asked: Option<f64>,
    made: u64,
    produced_per_s: f64,
    exported: f64,
    dropped: f64,
    failed: f64,
    /// Exported spans a second, from the step's start until its last span was accounted for.
    exported_per_s: f64,
}

/// Runs one step and waits (within 30 s) until its spans are accounted for.
fn step(guard: &obs_runtime::ObsGuard, asked: Option<f64>, first: u64) -> Step {
    let before = counts(guard);
    let started = Instant::now();
    let (made, took) = produce(asked, WINDOW, first);
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let now = counts(guard);
        let settled = (now.exported - before.exported) + (now.dropped - before.dropped) + (now.failed - before.failed);
        if settled >= made as f64 {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "{made} spans made at {asked:?}/s, only {settled} exported, dropped or failed 30 s later"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let drained = started.elapsed();
    let exported = after.exported - before.exported;
    Step {
        asked,
        made,
        produced_per_s: made as f64 / took.as_secs_f64(),
        exported,
        dropped: after.dropped - before.dropped,
        failed: after.failed - before.failed,
        exported_per_s: exported / drained.as_secs_f64(),
    }
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn spans_per_second_into_a_real_collector() {
    let collector = Collector::start_counting();
    let guard = obs_runtime::builder()
        .service_name("throughput")
        .without_http()
        .log_format(obs_runtime::log::LogFormat::Off)
        .otlp_endpoint(format!("http://{}", collector.http))
        .init()
        .expect("init");
    // Warm up: the connection, the collector's first batch.
    step(&guard, Some(5e3), 0);

    let mut steps = Vec::new();
    let mut first = 1u64 << 32;
    for rate in RATES {
        let s = step(&guard, Some(rate), first);
        first += s.made;
        let dropped = s.dropped > 0.0;
        steps.push(s);
        // The producer could not keep up with the rate asked: higher ones ask the same.
        if dropped || steps.last().is_some_and(|s| s.produced_per_s < 0.9 * rate) {
            break;
        }
    }
    let flat_out = step(&guard, None, first);
    steps.push(flat_out);

    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("\nOTLP/HTTP span export into Rotel, default queue (2048) and batch (512); load average {loadavg}");
    eprintln!(
        "{:>10} {:>10} {:>12} {:>10} {:>9} {:>7} {:>12}",
        "asked/s", "made", "made/s", "exported", "dropped", "failed", "exported/s"
    );
    for s in &steps {
        let asked = s.asked.map_or("flat out".to_owned(), |r| format!("{r:.0}"));
        eprintln!(
            "{asked:>10} {:>10} {:>12.0} {:>10.0} {:>9.0} {:>7.0} {:>12.0}",
            s.made, s.produced_per_s, s.exported, s.dropped, s.failed, s.exported_per_s
        );
    }
    let lossless = steps.iter().filter(|s| s.asked.is_some() && s.dropped == 0.0 && s.failed == 0.0);
    let sustained = lossless.map(|s| s.produced_per_s).fold(0.0, f64::max);
    let first_drop = steps.iter().find(|s| s.dropped > 0.0).map(|s| s.produced_per_s);
    eprintln!("highest paced rate with zero loss: {sustained:.0} spans/s");
    match first_drop {
        Some(rate) => eprintln!("drops began at: {rate:.0} spans/s"),
        None => eprintln!("no drops up to {:.0} spans/s", steps.iter().map(|s| s.produced_per_s).fold(0.0, f64::max)),
    }

    assert!(steps[0].dropped == 0.0 && steps[0].failed == 0.0, "spans lost at 10,000 a second");
    let exported = counts(&guard).exported;
    let received = collector.wait_until(Duration::from_secs(10), "every exported span", |c| {
        let n = c.span_count();
        (n as f64 >= exported).then_some(n)
    });
    assert_eq!(received as f64, exported, "the collector counted {received} spans, obs exported {exported}");
}
