//! A log consumer that stops reading stdout (a full pipe) never blocks the
//! application: during an error storm every logging call returns at once,
//! the lines that do not fit are dropped and counted in
//! `obs_log_dropped_total`, and the lines that were written are whole JSON
//! lines once the consumer reads again.
//!
//! The test binary runs itself as the application, with its stdout a pipe
//! this test leaves unread until the storm is over.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

const CHILD: &str = "OBS_TEST_STALLED_STDOUT_CHILD";
const THREADS: u64 = 4;
const LINES_PER_THREAD: u64 = 50_000;

/// The application: `init` with its defaults (JSON lines on stdout), then an error storm from four threads.
fn storm() {
    let guard = obs_runtime::builder().service_name("storm").without_http().init().expect("init");
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            std::thread::spawn(move || {
                let detail = "d".repeat(180);
                let mut calls = Vec::with_capacity(LINES_PER_THREAD as usize);
                for i in 0..LINES_PER_THREAD {
                    let call = Instant::now();
                    tracing::error!(thread, i, detail = detail.as_str(), "storm");
                    calls.push(call.elapsed());
                }
                calls
            })
        })
        .collect();
    let mut calls: Vec<Duration> = threads.into_iter().flat_map(|t| t.join().expect("logging thread")).collect();
    let total = started.elapsed();
    calls.sort_unstable();
    let slowest = calls.last().copied().unwrap_or_default();
    let p999 = calls[calls.len() * 999 / 1000];
    let metrics = guard.render_metrics().expect("the Prometheus exporter is on by default");
    let dropped = metrics.lines().find_map(|l| l.strip_prefix("obs_log_dropped_total ")).unwrap_or("missing");
    eprintln!(
        "storm total_ms={} p999_us={} slowest_us={} dropped={dropped}",
        total.as_millis(),
        p999.as_micros(),
        slowest.as_micros()
    );
    // The parent reads stdout from now on; then the guard writes what is pending.
    let _ = std::io::stdin().read(&mut [0]);
    let dropping = Instant::now();
    drop(guard);
    eprintln!("flushed guard_drop_ms={}", dropping.elapsed().as_millis());
}

fn field(report: &str, key: &str) -> u64 {
    let value =
        report.split(' ').find_map(|pair| pair.strip_prefix(key)).unwrap_or_else(|| panic!("{key} in {report}"));
    value.trim().parse().unwrap_or_else(|e| panic!("{key} in {report}: {e}"))
}

#[test]
fn a_stalled_stdout_never_blocks_the_threads_that_log_and_drops_whole_lines() {
    if std::env::var_os(CHILD).is_some() {
        return storm();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_stalled_stdout_never_blocks_the_threads_that_log_and_drops_whole_lines", "--nocapture"])
        .arg("-q")
        .env(CHILD, "1")
        .env("RUST_LOG", "info")
        .env_remove("OBS_LOG_FORMAT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the application");
    let stderr = support::StderrLines::follow(&mut child);
    let wait_for = |needle: &str, within: Duration| stderr.wait_for(needle, within);

    // Nobody reads stdout yet: the pipe fills after some 64 KiB.
    let Some(report) = wait_for("storm ", Duration::from_secs(15)) else {
        let _ = child.kill();
        panic!("the application did not finish logging within 15 s while its stdout was not read: logging blocks");
    };
    let (total_ms, p999_us, slowest_us, dropped) = (
        field(&report, "total_ms="),
        field(&report, "p999_us="),
        field(&report, "slowest_us="),
        field(&report, "dropped="),
    );
    assert!(total_ms < 10_000, "{} lines took {total_ms} ms", THREADS * LINES_PER_THREAD);
    // A call blocked on the full pipe would not return at all. The bounds leave room for the
    // scheduler: four logging threads on a busy two-core machine are preempted now and then
    // (the slowest call measured there was about 0.1 s, the 99.9th percentile well under 1 ms,
    // and 20 ms once with a load average of 14 from other builds).
    assert!(p999_us < 50_000, "the 99.9th percentile of logging calls took {p999_us} µs");
    assert!(slowest_us < 1_000_000, "the slowest logging call took {slowest_us} µs");
    assert!(dropped > 0, "a stalled consumer drops lines, and counts them: {report}");

    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("utf-8 lines");
        text
    });
    child.stdin.take().unwrap().write_all(b"go").unwrap();
    let flushed = wait_for("flushed ", Duration::from_secs(10));
    let finished = child.wait().expect("the application ends");
    assert!(flushed.is_some() && finished.success(), "the guard returned and the application exited: {finished}");
    let text = reader.join().unwrap();

    let mut written = 0;
    for line in text.lines().filter(|line| line.starts_with('{')) {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a torn or invalid line ({e}): {line}"));
        if json["message"] == "storm" {
            assert_eq!(json["level"], "ERROR");
            assert_eq!(json["detail"].as_str().map(str::len), Some(180));
            written += 1;
        }
    }
    eprintln!("written={written} dropped={dropped}");
    assert!(written > 0, "the lines that fit were written");
    assert_eq!(written + dropped, THREADS * LINES_PER_THREAD, "every line is written or counted as dropped");
}
