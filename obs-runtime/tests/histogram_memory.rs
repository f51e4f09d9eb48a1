//! The memory a histogram holds stays fixed at any call rate, with or without
//! scrapes, and with the guard gone.

use std::time::Instant;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Records `n` samples into one facade histogram from 4 threads, as fast as they go.
fn record(n: u64) -> std::time::Duration {
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let latency = metrics::histogram!("app_step_seconds", "step" => "parse");
                for i in 0..n / 4 {
                    latency.record((i % 100) as f64 / 1000.0);
                }
            });
        }
    });
    started.elapsed()
}

#[test]
fn millions_of_samples_between_scrapes_do_not_pile_up() {
    const SAMPLES: u64 = 16_000_000;
    let guard = obs_runtime::builder().install_subscriber(false).without_http().init().unwrap();
    record(1_000_000);
    let _ = guard.render_metrics();
    let before = rss_bytes();
    let took = record(SAMPLES);
    let grown = rss_bytes().saturating_sub(before);
    eprintln!("{SAMPLES} samples in {took:?}: RSS grew {} KiB", grown / 1024);
    // Kept until the next drain (every 5 s), 16M samples took 122 MiB and more.
    assert!(grown < 48 << 20, "RSS grew {} MiB while recording {SAMPLES} samples", grown >> 20);
    let text = guard.render_metrics().unwrap();
    let count = format!("app_step_seconds_count{{step=\"parse\"}} {}", SAMPLES + 1_000_000);
    assert!(text.contains(&count), "every sample is counted: {count}\n{text}");

    // With the guard gone (nothing scrapes, nothing runs), the same.
    drop(guard);
    let before = rss_bytes();
    record(SAMPLES);
    let grown = rss_bytes().saturating_sub(before);
    eprintln!("after the guard: RSS grew {} KiB", grown / 1024);
    assert!(grown < 48 << 20, "RSS grew {} MiB after the guard was dropped", grown >> 20);
}
