//! Soak tests: minutes long, opt-in (`#[ignore]`), run in release mode by
//! `scripts/soak.sh` (which gives each its duration through the environment).
//! `init` runs once per process, so each scenario runs in a child process:
//! this binary re-invoked with `OBS_SOAK_CHILD` naming it (the test `child`
//! does nothing without it).
//!
//! - `soak_backend_down`: the OTLP backend accepts connections and never
//!   answers for `SOAK_BACKEND_DOWN_SECONDS` (60) while 8 threads call an
//!   instrumented function as fast as they can, with error keeping on and log
//!   export on; half the calls continue a sampled caller's trace (two spans),
//!   half start an unsampled trace and fail (one span, kept for its error).
//!   Against the same run with export off: p99 call latency (ratio), RSS
//!   growth, and exported + dropped + failed + tail overflow = spans
//!   produced, exactly, from the scrape text; and a third run with a backend
//!   that answers at once, to tell what export costs from what the backend
//!   being down costs. Repeated with 64 KB string arguments.
//! - `soak_stdout_stalled`: stdout is a pipe nobody reads for
//!   `SOAK_STALL_SECONDS` (30) during an error storm from 4 threads: the
//!   slowest call, and written + dropped = lines logged, exactly.
//! - `soak_connection_exhaustion`: the application under `RLIMIT_NOFILE`
//!   `SOAK_FD_LIMIT` (512), `SOAK_IDLE` (2000) idle and `SOAK_SLOW` (1000)
//!   slow-header connections to its obs port, held `SOAK_HOLD_SECONDS` (20):
//!   `/metrics` still answers, the application's own listener keeps
//!   accepting, and after the clients go both answer at once again and the
//!   descriptors come back.
//! - `soak_long_workflow_run`: one workflow run of `SOAK_NODES` (10,000,000)
//!   node executions: RSS and the size of `/obs/workflows/active`, sampled
//!   during the run, stay bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use obs_runtime::export::otlp::TraceSampler;
use obs_runtime::propagation::TraceContext;
use obs_runtime::{node, observe, workflow};

const CHILD: &str = "OBS_SOAK_CHILD";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs_f64(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default as f64))
}

fn rss_kb() -> u64 {
    rss_kb_of("self")
}

fn rss_kb_of(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap_or("0 kB");
    line.trim().trim_end_matches("kB").trim().parse().unwrap_or(0)
}

fn fds_of(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The value of the sample `name{...}` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
                .then(|| value.parse().ok())?
        })
        .unwrap_or(0.0)
}

/// `key=value` from a report line.
fn field(report: &str, key: &str) -> f64 {
    let prefix = format!("{key}=");
    report
        .split(' ')
        .find_map(|pair| pair.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

/// Call latencies, log-linear (eight buckets per power of two: 12.5 % resolution).
struct Histogram {
    counts: Vec<u64>,
    max: u64,
    total: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram { counts: vec![0; 512], max: 0, total: 0 }
    }

    fn index(ns: u64) -> usize {
        if ns < 8 {
            return ns as usize;
        }
        let log = 63 - ns.leading_zeros() as usize;
        (log - 2) * 8 + ((ns >> (log - 3)) & 7) as usize
    }

    /// The upper end of bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < 8 {
            return i as u64;
        }
        let (log, mantissa) = (i / 8 + 2, (i % 8) as u64);
        ((8 + mantissa + 1) << (log - 3)) - 1
    }

    fn record(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
        self.max = self.max.max(ns);
        self.total += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max = self.max.max(other.max);
        self.total += other.total;
    }

    fn quantile(&self, q: f64) -> u64 {
        let rank = ((self.total as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank.max(1) {
                return Self::upper(i).min(self.max);
            }
        }
        self.max
    }
}

/// Samples this process's RSS every 250 ms until stopped: (first after `warm_up`, max, last).
fn rss_sampler(stop: Arc<AtomicBool>, warm_up: Duration) -> std::thread::JoinHandle<(u64, u64, u64)> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let (mut first, mut max, mut last) = (0, 0, 0);
        while !stop.load(Ordering::Relaxed) {
            let now = rss_kb();
            if started.elapsed() >= warm_up {
                if first == 0 {
                    first = now;
                }
                max = max.max(now);
            }
            last = now;
            std::thread::sleep(Duration::from_millis(250));
        }
        (first, max, last)
    })
}

// ---------------------------------------------------------------- (a) backend down

#[derive(Debug, obs_runtime::ErrorKind)]
enum Failure {
    Upstream,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream failed")
    }
}
impl std::error::Error for Failure {}

/// The instrumented function: `payload` is recorded on its span (a string argument).
#[observe]
fn handle(i: u64, payload: &str) -> Result<u64, Failure> {
    if i.is_multiple_of(2) { Ok(i.wrapping_mul(3) ^ payload.len() as u64) } else { Err(Failure::Upstream) }
}

/// Even calls continue a sampled caller's trace (a `request` span and `handle`),
/// odd ones start an unsampled trace that fails (kept for its error).
fn call(thread: u64, i: u64, payload: &str, export: bool) {
    if i.is_multiple_of(2) {
        let span = tracing::info_span!("request");
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&(i + 1).to_be_bytes());
        trace_id[8..].copy_from_slice(&(thread + 1).to_be_bytes());
        let caller = TraceContext::new(trace_id, (i + 1).to_be_bytes(), 0x01);
        let parented = obs_runtime::trace::set_parent(&span, &caller);
        assert!(parented || !export, "the caller's context is taken when exporting");
        let _ = std::hint::black_box(span.in_scope(|| handle(i, payload)));
    } else {
        let _ = std::hint::black_box(handle(i, payload));
    }
}

/// Answers every HTTP request on `stream` with `200 OK` and an empty body (an empty
/// OTLP export response), until the client hangs up.
fn answer_ok(stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut body = Vec::new();
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        body.resize(length, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let response = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if reader.get_mut().write_all(response).is_err() {
            return;
        }
    }
}

fn backend_down_child() {
    let export = std::env::var("SOAK_EXPORT").as_deref() == Ok("on");
    let arg_bytes = env_u64("SOAK_ARG_BYTES", 0) as usize;
    let duration = env_secs("SOAK_BACKEND_DOWN_SECONDS", 60);
    let threads = env_u64("SOAK_THREADS", 8);
    // A backend that accepts connections and never answers (the exporter's requests time out),
    // or, for the reference run, one that accepts every request at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = listener.local_addr().unwrap();
    let up = std::env::var("SOAK_BACKEND").as_deref() == Ok("up");
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let held = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if up {
                    std::thread::spawn(move || answer_ok(stream));
                } else {
                    held.lock().unwrap().push(stream);
                }
            }
        });
    }
    let mut builder = obs_runtime::builder()
        .service_name("soak")
        .log_writer(std::io::sink)
        .without_http()
        .trace_sampler(TraceSampler::ParentBasedAlwaysOff)
        .keep_error_traces(true);
    if export {
        builder = builder
            .otlp_endpoint(format!("http://{backend}"))
            .otlp_logs(env_u64("SOAK_OTLP_LOGS", 1) == 1)
            .otlp_timeout(Duration::from_millis(500))
            .otlp_shutdown_timeout(Duration::from_secs(1));
    }
    let guard = builder.init().expect("init");
    let payload = "p".repeat(arg_bytes);

    let stop = Arc::new(AtomicBool::new(false));
    let rss = rss_sampler(stop.clone(), duration / 10);
    let calls = AtomicU64::new(0);
    let started = Instant::now();
    let histogram = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (payload, calls) = (payload.as_str(), &calls);
                scope.spawn(move || {
                    let mut histogram = Histogram::new();
                    let mut i = 0u64;
                    while started.elapsed() < duration {
                        let t = Instant::now();
                        call(thread, i, payload, export);
                        histogram.record(t.elapsed().as_nanos() as u64);
                        i += 1;
                    }
                    calls.fetch_add(i, Ordering::Relaxed);
                    histogram
                })
            })
            .collect();
        let mut all = Histogram::new();
        for w in workers {
            all.merge(&w.join().unwrap());
        }
        all
    });
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (rss_first, rss_max, rss_last) = rss.join().unwrap();
    let calls = calls.load(Ordering::Relaxed);

    // Per thread, even calls make two spans, odd ones one.
    let text = guard.render_metrics().unwrap();
    // Even calls (ok) made two spans, odd ones (error) one: the split is read from the call metrics.
    let produced: u64 = {
        let ok = sample(&text, "obs_function_calls_total", &[("function", "handle"), ("status", "ok")]) as u64;
        let err = sample(&text, "obs_function_calls_total", &[("function", "handle"), ("status", "error")]) as u64;
        assert_eq!(ok + err, calls, "every call is measured");
        2 * ok + err
    };
    let traces = |text: &str, name: &str| sample(text, name, &[("signal", "traces")]) as u64;
    let logs = |text: &str, name: &str| sample(text, name, &[("signal", "logs")]) as u64;
    let accounted = |text: &str| {
        traces(text, "obs_exporter_exported_spans_total")
            + traces(text, "obs_exporter_dropped_spans_total")
            + traces(text, "obs_exporter_failed_spans_total")
            + traces(text, "obs_exporter_tail_buffer_overflow_spans_total")
    };
    // The export thread is still working through its queue (each request waits for its timeout).
    let settle_started = Instant::now();
    let mut text = text;
    while export && accounted(&text) < produced && settle_started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
        text = guard.render_metrics().unwrap();
    }
    let (exported, dropped, failed, overflow) = (
        traces(&text, "obs_exporter_exported_spans_total"),
        traces(&text, "obs_exporter_dropped_spans_total"),
        traces(&text, "obs_exporter_failed_spans_total"),
        traces(&text, "obs_exporter_tail_buffer_overflow_spans_total"),
    );
    let (log_exported, log_dropped, log_failed) = (
        logs(&text, "obs_exporter_exported_spans_total"),
        logs(&text, "obs_exporter_dropped_spans_total"),
        logs(&text, "obs_exporter_failed_spans_total"),
    );
    let backend_connections = held.lock().unwrap().len();
    println!(
        "SOAK backend export={} arg_bytes={arg_bytes} seconds={:.1} calls={calls} calls_per_sec={:.0} \
         p50_ns={} p99_ns={} p999_ns={} max_ns={} rss_first_kb={rss_first} rss_max_kb={rss_max} rss_last_kb={rss_last} \
         produced={produced} exported={exported} dropped={dropped} failed={failed} overflow={overflow} \
         settle_ms={} log_exported={log_exported} log_dropped={log_dropped} log_failed={log_failed} \
         backend_connections={backend_connections}",
        if export { "on" } else { "off" },
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64(),
        histogram.quantile(0.5),
        histogram.quantile(0.99),
        histogram.quantile(0.999),
        histogram.max,
        settle_started.elapsed().as_millis(),
    );
    let dropping = Instant::now();
    drop(guard);
    println!("SOAK guard_drop_ms={}", dropping.elapsed().as_millis());
}

/// Runs the child `scenario` with `env`, echoing its stderr; returns its stdout lines starting with `SOAK `.
fn run_child(scenario: &str, env: &[(&str, String)]) -> Vec<String> {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--nocapture", "-q", "--test-threads=1"]).env(CHILD, scenario);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT").env_remove("OBS_HTTP_ADDR").output().expect("the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("panicked"), "{scenario} failed:\n{stdout}\n{stderr}");
    let lines: Vec<String> = stdout.lines().filter_map(|l| l.split_once("SOAK ").map(|(_, r)| r.to_owned())).collect();
    for line in &lines {
        eprintln!("{scenario}: {line}");
    }
    lines
}

fn backend_round(arg_bytes: usize) {
    let env = |export: &str, backend: &str| {
        vec![
            ("SOAK_EXPORT", export.to_owned()),
            ("SOAK_ARG_BYTES", arg_bytes.to_string()),
            ("SOAK_BACKEND", backend.to_owned()),
        ]
    };
    let off = run_child("backend-down", &env("off", "down"));
    let on = run_child("backend-down", &env("on", "down"));
    // The same with a backend that answers: what export itself costs the callers.
    let up = (env_u64("SOAK_BACKEND_UP_REFERENCE", 1) == 1).then(|| run_child("backend-down", &env("on", "up")));
    let (off, on) = (&off[0], &on[0]);
    let ratio = field(on, "p99_ns") / field(off, "p99_ns");
    let growth_on = field(on, "rss_max_kb") - field(on, "rss_first_kb");
    let growth_off = field(off, "rss_max_kb") - field(off, "rss_first_kb");
    let accounted = |r: &str| field(r, "exported") + field(r, "dropped") + field(r, "failed") + field(r, "overflow");
    let produced = field(on, "produced");
    eprintln!(
        "backend down, {arg_bytes}-byte arguments: p99 export on / off = {ratio:.2} ({} ns / {} ns), p999 on / off = {:.2}, \
         max on / off = {} / {} ns, throughput on / off = {:.2}, RSS growth after warm-up on {growth_on} kB (max {} kB), \
         off {growth_off} kB (max {} kB); spans produced {produced}, accounted {}",
        field(on, "p99_ns"),
        field(off, "p99_ns"),
        field(on, "p999_ns") / field(off, "p999_ns"),
        field(on, "max_ns"),
        field(off, "max_ns"),
        field(on, "calls_per_sec") / field(off, "calls_per_sec"),
        field(on, "rss_max_kb"),
        field(off, "rss_max_kb"),
        accounted(on),
    );
    if let Some(up) = &up {
        let up = &up[0];
        eprintln!(
            "backend up (reference), {arg_bytes}-byte arguments: p99 up / off = {:.2} ({} ns), p999 up / off = {:.2}, \
             throughput up / off = {:.2}; p99 down / up = {:.2}; RSS growth after warm-up {} kB (max {} kB); \
             spans produced {}, exported {}, accounted {}",
            field(up, "p99_ns") / field(off, "p99_ns"),
            field(up, "p99_ns"),
            field(up, "p999_ns") / field(off, "p999_ns"),
            field(up, "calls_per_sec") / field(off, "calls_per_sec"),
            field(on, "p99_ns") / field(up, "p99_ns"),
            field(up, "rss_max_kb") - field(up, "rss_first_kb"),
            field(up, "rss_max_kb"),
            field(up, "produced"),
            field(up, "exported"),
            accounted(up),
        );
        assert_eq!(accounted(up), field(up, "produced"), "every span is accounted for with the backend up: {up}");
    }
    assert_eq!(accounted(on), produced, "exported + dropped + failed + overflow = spans produced: {on}");
    // Bounded: the queue (2048 spans) and the tail buffer hold a bounded number of spans.
    let limit_kb = env_u64("SOAK_RSS_GROWTH_LIMIT_KB", if arg_bytes > 0 { 512 * 1024 } else { 64 * 1024 }) as f64;
    assert!(growth_on < limit_kb, "RSS grew {growth_on} kB after warm-up with the backend down: {on}");
}

#[test]
#[ignore = "soak: minutes long; scripts/soak.sh runs it"]
fn soak_backend_down() {
    backend_round(0);
}

/// Failed before the queues were bounded by bytes, batches by 4 MiB and a timed-out export's
/// connection was ended: measured on commit f8aa25b (60 s, 8 threads), RSS 716 MB after the
/// warm-up and 2.51 GB at most with export on, against 8 MB with export off. After (15 s,
/// debug build): 128 -> 139 MB with the backend down, 97 -> 117 MB with one that answers.
#[test]
#[ignore = "soak: minutes long; scripts/soak.sh runs it"]
fn soak_backend_down_64k_arguments() {
    backend_round(64 * 1024);
}

// ---------------------------------------------------------------- (b) stdout stalled

#[observe]
fn failing(i: u64) -> Result<u64, Failure> {
    let _ = i;
    Err(Failure::Upstream)
}

fn stalled_child() {
    let duration = env_secs("SOAK_STALL_SECONDS", 30);
    let guard = obs_runtime::builder().service_name("storm").without_http().init().expect("init");
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut histogram = Histogram::new();
                let mut i = 0u64;
                while started.elapsed() < duration {
                    let t = Instant::now();
                    let _ = std::hint::black_box(failing(i));
                    histogram.record(t.elapsed().as_nanos() as u64);
                    i += 1;
                }
                (i, histogram)
            })
        })
        .collect();
    let mut calls = 0;
    let mut histogram = Histogram::new();
    for t in threads {
        let (n, h) = t.join().unwrap();
        calls += n;
        histogram.merge(&h);
    }
    let elapsed = started.elapsed();
    let text = guard.render_metrics().unwrap();
    let dropped = sample(&text, "obs_log_dropped_total", &[]) as u64;
    eprintln!(
        "SOAK storm seconds={:.1} calls={calls} p99_ns={} p999_ns={} max_ns={} dropped={dropped}",
        elapsed.as_secs_f64(),
        histogram.quantile(0.99),
        histogram.quantile(0.999),
        histogram.max
    );
    // The parent reads stdout from now on; then the guard writes what is pending.
    let _ = std::io::stdin().read(&mut [0]);
    let dropping = Instant::now();
    drop(guard);
    eprintln!("SOAK flushed guard_drop_ms={}", dropping.elapsed().as_millis());
}

#[test]
#[ignore = "soak: minutes long; scripts/soak.sh runs it"]
fn soak_stdout_stalled() {
    let duration = env_secs("SOAK_STALL_SECONDS", 30);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "-q", "--test-threads=1"])
        .env(CHILD, "stalled")
        .env("RUST_LOG", "info")
        .env_remove("OBS_LOG_FORMAT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the application");
    let stderr = support::StderrLines::follow(&mut child);
    let wait_for = |needle: &str, within: Duration| stderr.wait_for(needle, within);
    // Nobody reads stdout for the whole storm.
    let Some(report) = wait_for("SOAK storm ", duration + Duration::from_secs(30)) else {
        let _ = child.kill();
        panic!("the storm did not end within {duration:?} + 30 s while stdout was not read: logging blocks");
    };
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("utf-8 lines");
        text
    });
    child.stdin.take().unwrap().write_all(b"go").unwrap();
    let flushed = wait_for("SOAK flushed ", Duration::from_secs(30));
    let finished = child.wait().expect("the application ends");
    assert!(flushed.is_some() && finished.success(), "the guard returned and the application exited: {finished}");
    let text = reader.join().unwrap();
    let mut written = 0u64;
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a torn line ({e}): {line}"));
        if json["event"] == "function.error" && json["span"].as_str().is_some_and(|s| s.ends_with("failing")) {
            written += 1;
        }
    }
    let (calls, dropped, max_ns) =
        (field(&report, "calls") as u64, field(&report, "dropped") as u64, field(&report, "max_ns"));
    eprintln!(
        "stdout stalled {duration:?}: {calls} failing calls, written {written}, dropped {dropped}, slowest call {:.3} ms, \
         p99.9 {:.1} µs",
        max_ns / 1e6,
        field(&report, "p999_ns") / 1e3
    );
    assert_eq!(written + dropped, calls, "every error line is written or counted as dropped");
    assert!(dropped > 0, "a stalled consumer drops lines");
    let max_call = env_secs("SOAK_MAX_CALL_MS", 0).as_millis() as f64;
    let max_call_ns = if max_call > 0.0 { max_call * 1e6 } else { 1e9 };
    assert!(max_ns < max_call_ns, "the slowest call took {} ms: callers must not block", max_ns / 1e6);
}

// ---------------------------------------------------------------- (c) connection exhaustion

fn exhaustion_child() {
    let limit = env_u64("SOAK_FD_LIMIT", 512);
    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
    // SAFETY: setrlimit with a valid struct; lowering the limit of this process only.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) }, 0, "setrlimit");
    let guard = obs_runtime::builder()
        .service_name("exhausted")
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    // The application's own listener: answers `ok` to every connection.
    let app = TcpListener::bind("127.0.0.1:0").unwrap();
    let app_addr = app.local_addr().unwrap();
    let accept_errors = Arc::new(AtomicU64::new(0));
    {
        let accept_errors = accept_errors.clone();
        std::thread::spawn(move || {
            loop {
                match app.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.write_all(b"ok\n");
                    }
                    Err(_) => {
                        accept_errors.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        });
    }
    println!("SOAK addrs metrics={} app={app_addr}", guard.http_addr().unwrap());
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read(&mut [0]);
    println!("SOAK accept_errors={}", accept_errors.load(Ordering::Relaxed));
}

/// `GET /metrics` on a fresh connection: status and time to the whole answer.
fn scrape(addr: SocketAddr, timeout: Duration) -> (u16, Duration) {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else { return (0, started.elapsed()) };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = write!(stream, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    (text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), started.elapsed())
}

/// Connects to the application's own listener and reads its `ok`.
fn app_call(addr: SocketAddr, timeout: Duration) -> (bool, Duration) {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else { return (false, started.elapsed()) };
    let _ = stream.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 3];
    let ok = stream.read_exact(&mut buf).is_ok() && &buf == b"ok\n";
    (ok, started.elapsed())
}

/// Whether the server has closed `stream` (end of stream or a reset), without waiting.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let _ = stream.set_nonblocking(true);
    let mut buf = [0u8; 1024];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    let _ = stream.set_nonblocking(false);
    closed
}

/// Replaces the clients the server closed (the header timeout) with new ones, from many
/// threads at once, so that the pressure stays on; returns how many were replaced.
fn reopen(clients: &Mutex<Vec<TcpStream>>, addr: SocketAddr, slow: bool) -> u64 {
    let mut list = clients.lock().unwrap();
    let before = list.len();
    list.retain_mut(|s| !closed_by_server(s));
    let missing = before - list.len();
    drop(list);
    let replaced = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..32 {
            let replaced = &replaced;
            scope.spawn(move || {
                for _ in (t..missing).step_by(32) {
                    if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                        if slow {
                            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
                        }
                        clients.lock().unwrap().push(s);
                        replaced.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    replaced.into_inner()
}

#[test]
#[ignore = "soak: minutes long; scripts/soak.sh runs it"]
fn soak_connection_exhaustion() {
    let (idle, slow) = (env_u64("SOAK_IDLE", 2000) as usize, env_u64("SOAK_SLOW", 1000) as usize);
    let hold = env_secs("SOAK_HOLD_SECONDS", 20);
    // This side holds thousands of sockets: raise its own soft limit to the hard one.
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid pointers to a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
    assert!(
        rl.rlim_cur as usize > idle + slow + 100,
        "the test needs {} descriptors, has {}",
        idle + slow + 100,
        rl.rlim_cur
    );

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "-q", "--test-threads=1"])
        .env(CHILD, "exhaustion")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the application");
    let pid = child.id().to_string();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("SOAK addrs") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the application did not start");
    }
    let addr = |key: &str| -> SocketAddr {
        line.split_whitespace().find_map(|p| p.strip_prefix(key)).unwrap().parse().unwrap()
    };
    let (metrics, app) = (addr("metrics="), addr("app="));
    let timeout = Duration::from_secs(30);
    let (status, normal_scrape) = scrape(metrics, timeout);
    assert_eq!(status, 200);
    let (ok, normal_app) = app_call(app, timeout);
    assert!(ok);
    let fds_before = fds_of(&pid);

    // The clients, connected from many threads at once (most wait in the backlog or in SYN retries).
    let started = Instant::now();
    let clients: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
    let slow_clients: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
    let connect_failed = Arc::new(AtomicU64::new(0));
    std::thread::scope(|scope| {
        for t in 0..64 {
            let (clients, slow_clients, connect_failed) = (&clients, &slow_clients, &connect_failed);
            scope.spawn(move || {
                for n in (t..idle + slow).step_by(64) {
                    match TcpStream::connect_timeout(&metrics, Duration::from_secs(3)) {
                        Ok(mut s) if n >= idle => {
                            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
                            slow_clients.lock().unwrap().push(s);
                        }
                        Ok(s) => clients.lock().unwrap().push(s),
                        Err(_) => {
                            connect_failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let connected = clients.lock().unwrap().len() + slow_clients.lock().unwrap().len();
    eprintln!(
        "connected {connected} of {} clients in {:?} ({} connects timed out)",
        idle + slow,
        started.elapsed(),
        connect_failed.load(Ordering::Relaxed)
    );

    // While they are held: a prober scrapes and calls the application every second; meanwhile
    // the slow clients drip and the ones the server closed are replaced.
    let hold_started = Instant::now();
    let (scrapes, app_calls, fds_max, reopened) = std::thread::scope(|scope| {
        let prober = scope.spawn(|| {
            let (mut scrapes, mut app_calls, mut fds_max) = (Vec::new(), Vec::new(), 0);
            while hold_started.elapsed() < hold {
                let round = Instant::now();
                scrapes.push(scrape(metrics, timeout));
                app_calls.push(app_call(app, timeout));
                fds_max = fds_max.max(fds_of(&pid));
                std::thread::sleep(Duration::from_secs(1).saturating_sub(round.elapsed()));
            }
            (scrapes, app_calls, fds_max)
        });
        let mut reopened = 0;
        while hold_started.elapsed() < hold {
            for s in slow_clients.lock().unwrap().iter_mut() {
                let _ = s.write_all(b"a");
            }
            reopened += reopen(&clients, metrics, false) + reopen(&slow_clients, metrics, true);
            std::thread::sleep(Duration::from_millis(200));
        }
        let (scrapes, app_calls, fds_max) = prober.join().unwrap();
        (scrapes, app_calls, fds_max, reopened)
    });
    let held = clients.lock().unwrap().len() + slow_clients.lock().unwrap().len();
    let answered = scrapes.iter().filter(|(s, _)| *s == 200).count();
    let slowest_scrape = scrapes.iter().map(|(_, t)| *t).max().unwrap_or_default();
    let app_ok = app_calls.iter().filter(|(ok, _)| *ok).count();
    let slowest_app = app_calls.iter().map(|(_, t)| *t).max().unwrap_or_default();

    // They go; recovery.
    clients.lock().unwrap().clear();
    slow_clients.lock().unwrap().clear();
    let gone = Instant::now();
    let mut recovered = None;
    while gone.elapsed() < Duration::from_secs(30) {
        let (status, took) = scrape(metrics, timeout);
        if status == 200 && took < Duration::from_millis(500) {
            recovered = Some(gone.elapsed());
            break;
        }
    }
    let after: Vec<(u16, Duration)> = (0..20).map(|_| scrape(metrics, timeout)).collect();
    let (app_after, app_after_took) = app_call(app, timeout);
    std::thread::sleep(Duration::from_secs(1));
    let fds_after = fds_of(&pid);
    child.stdin.take().unwrap().write_all(b"x").unwrap();
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    let _ = child.wait();
    let accept_errors =
        rest.split_whitespace().find_map(|p| p.strip_prefix("accept_errors=")).unwrap_or("?").to_owned();
    eprintln!(
        "connection exhaustion ({idle} idle + {slow} slow, held {hold:?}, {reopened} reopened after the server closed \
         them, {held} open at the end): /metrics answered {answered} of {} scrapes, \
         slowest {slowest_scrape:?} (normal {normal_scrape:?}); the application's listener answered {app_ok} of {}, \
         slowest {slowest_app:?} (normal {normal_app:?}), accept errors {accept_errors}; descriptors {fds_before} before, \
         {fds_max} at most, {fds_after} after; recovered (scrape < 500 ms) {recovered:?} after the clients went; \
         20 scrapes after: {} answered, slowest {:?}; application after: {app_after} in {app_after_took:?}",
        scrapes.len(),
        app_calls.len(),
        after.iter().filter(|(s, _)| *s == 200).count(),
        after.iter().map(|(_, t)| *t).max().unwrap_or_default(),
    );
    assert_eq!(app_ok, app_calls.len(), "the application's own accept() keeps working");
    assert_eq!(accept_errors, "0", "the application's accept() never failed");
    assert!(answered == scrapes.len(), "every scrape is answered (within {timeout:?})");
    assert!(recovered.is_some(), "scrapes are fast again after the clients go");
    assert!(after.iter().all(|(s, _)| *s == 200));
    assert!(fds_after <= fds_before + 8, "descriptors come back: {fds_before} before, {fds_after} after");
}

// ---------------------------------------------------------------- (d) one long workflow run

#[derive(Debug)]
struct Never;
impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("never")
    }
}
impl std::error::Error for Never {}

#[node]
async fn step(i: u64) -> Result<u64, Never> {
    Ok(i)
}

#[workflow]
async fn long_run(nodes: u64) -> Result<u64, Never> {
    let mut sum = 0u64;
    for i in 0..nodes {
        sum = sum.wrapping_add(step(i).await?);
    }
    Ok(sum)
}

/// CPU time of this process so far (user + system), in nanoseconds.
fn cpu_ns() -> u64 {
    // SAFETY: a valid pointer to a zeroed local struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

fn http_get_len(addr: SocketAddr, path: &str) -> usize {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else { return 0 };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    text.split_once("\r\n\r\n").map_or(0, |(_, body)| body.len())
}

fn long_run_child() {
    let nodes = env_u64("SOAK_NODES", 10_000_000);
    let guard = obs_runtime::builder()
        .service_name("long-run")
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let addr = guard.http_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                samples.push((started.elapsed(), rss_kb(), http_get_len(addr, "/obs/workflows/active")));
                std::thread::sleep(Duration::from_millis(500));
            }
            samples
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (started, cpu_before) = (Instant::now(), cpu_ns());
    runtime.block_on(long_run(nodes)).unwrap();
    let (elapsed, cpu) = (started.elapsed(), cpu_ns() - cpu_before);
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let text = guard.render_metrics().unwrap();
    let counted = sample(&text, "obs_node_runs_total", &[("node", "step"), ("status", "ok")]) as u64;
    // Skip the first samples (start-up, the allocator reaching its working size): a tenth of
    // the run, at least its first 2 s.
    let steady: Vec<_> = samples.iter().skip((samples.len() / 10).max(4)).collect();
    let rss_first = steady.first().map_or(0, |s| s.1);
    let rss_max = steady.iter().map(|s| s.1).max().unwrap_or(0);
    let rss_last = steady.last().map_or(0, |s| s.1);
    let view_max = samples.iter().map(|s| s.2).max().unwrap_or(0);
    let view_min = samples.iter().map(|s| s.2).filter(|&n| n > 0).min().unwrap_or(0);
    println!(
        "SOAK long_run nodes={nodes} counted={counted} seconds={:.1} ns_per_node={:.0} cpu_ns_per_node={:.0} samples={} rss_first_kb={rss_first} \
         rss_max_kb={rss_max} rss_last_kb={rss_last} view_min_bytes={view_min} view_max_bytes={view_max}",
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / nodes as f64,
        cpu as f64 / nodes as f64,
        samples.len()
    );
}

#[test]
#[ignore = "soak: minutes long; scripts/soak.sh runs it"]
fn soak_long_workflow_run() {
    let report = run_child("long-run", &[]);
    let r = &report[0];
    assert_eq!(field(r, "counted"), field(r, "nodes"), "every node execution is counted");
    let growth = field(r, "rss_max_kb") - field(r, "rss_first_kb");
    eprintln!(
        "long run: {} node executions in {} s ({} ns of process CPU a node), RSS {} kB -> max {} kB (+{growth} kB), /obs/workflows/active {}..{} bytes",
        field(r, "nodes"),
        field(r, "seconds"),
        field(r, "cpu_ns_per_node"),
        field(r, "rss_first_kb"),
        field(r, "rss_max_kb"),
        field(r, "view_min_bytes"),
        field(r, "view_max_bytes")
    );
    assert!(growth < 16.0 * 1024.0, "RSS grew {growth} kB during one long run");
    assert!(field(r, "view_max_bytes") < 64.0 * 1024.0, "the active view stays small: {r}");
}

/// The child side: does nothing unless `OBS_SOAK_CHILD` names a scenario.
#[test]
fn child() {
    let Ok(scenario) = std::env::var(CHILD) else { return };
    match scenario.as_str() {
        "backend-down" => backend_down_child(),
        "stalled" => stalled_child(),
        "exhaustion" => exhaustion_child(),
        "long-run" => long_run_child(),
        other => panic!("unknown scenario {other}"),
    }
}
