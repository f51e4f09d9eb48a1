//! What `#[observe]` costs per call, against a plain function and against the
//! same telemetry written by hand, all in one process and one run so that the
//! ratios printed at the end compare like with like.
//!
//! `init`, the `metrics` recorder and `tracing`'s callsite interest are global,
//! so the phases run in a fixed order:
//! 1. before `init`: a plain function and `#[observe]` with no subscriber and no recorder;
//! 2. `init` with the Prometheus recorder only (no subscriber): `#[observe]`
//!    metrics-only, on one thread and on two threads at once;
//! 3. scoped dispatchers, one at a time: obs's [`JsonLayer`] for
//!    `#[observe(level = "info")]`, then tracing-subscriber's JSON formatter for
//!    the hand-written equivalent. Every line goes to a writer that counts it,
//!    and the run stops if a logging case wrote nothing; then tracing-subscriber's
//!    registry alone (a span per call, no layer), on one thread and on two;
//! 4. each configuration `init` sets up (the defaults of the quick start:
//!    JSON lines and the default filter; logs off; the defaults again with
//!    `#[observe(level = "info")]`, a line per call), in a child process of its
//!    own, since a process can `init` once: RUST_LOG unset, lines into a sink.
//!
//! The configuration rows use a function returning `Result` (one call in 1024
//! an error), and so does their reference, the cheapest setup (`metrics_only_result`).
//!
//! `cargo bench -p obs-runtime --bench overhead`

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use obs_runtime::log::JsonLayer;
use obs_runtime::{node, observe, workflow};
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

/// The work every variant wraps: small, so the instrumentation dominates.
#[inline(never)]
fn work(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

#[inline(never)]
fn plain(x: u64) -> u64 {
    work(x)
}

#[inline(never)]
async fn plain_async(x: u64) -> u64 {
    work(x)
}

/// Measured before `init` (nothing listens) and after it (metrics only).
#[observe]
fn observed(x: u64) -> u64 {
    work(x)
}

#[observe]
async fn observed_async(x: u64) -> u64 {
    work(x)
}

#[derive(Clone, Copy, obs_runtime::LabelValue)]
enum Tier {
    Free,
    Pro,
    Enterprise,
}

#[derive(Clone, Copy, obs_runtime::LabelValue)]
enum Channel {
    Web,
    Mobile,
}

const TIERS: [Tier; 3] = [Tier::Free, Tier::Pro, Tier::Enterprise];
const CHANNELS: [Channel; 2] = [Channel::Web, Channel::Mobile];
const REGIONS: [&str; 4] = ["eu-west", "us-east", "ap-south", "sa-east"];

/// `observed` with two enum labels: an index into the call site's table, no hashing.
#[observe(labels(tier = TIERS[x as usize % 3], channel = CHANNELS[x as usize & 1]))]
fn observed_two_enum_labels(x: u64) -> u64 {
    work(x)
}

/// `observed` with one string label: one lookup in the label's bounded map.
#[observe(labels(region = REGIONS[x as usize & 3]))]
fn observed_string_label(x: u64) -> u64 {
    work(x)
}

/// The error the `Result`-shaped variants return, one call in 1024.
#[derive(Debug)]
struct BenchError;

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("one call in 1024 fails")
    }
}

impl std::error::Error for BenchError {}

/// The shape the configuration rows are measured with: a `Result`, one call in 1024 an error.
#[inline(never)]
fn plain_result(x: u64) -> Result<u64, BenchError> {
    if x.is_multiple_of(1024) { Err(BenchError) } else { Ok(work(x)) }
}

#[observe]
fn observed_result(x: u64) -> Result<u64, BenchError> {
    if x.is_multiple_of(1024) { Err(BenchError) } else { Ok(work(x)) }
}

#[observe]
async fn observed_result_async(x: u64) -> Result<u64, BenchError> {
    if x.is_multiple_of(1024) { Err(BenchError) } else { Ok(work(x)) }
}

/// `observed_result` on the signature the thread helper takes.
fn observed_result_u64(x: u64) -> u64 {
    observed_result(x).unwrap_or_default()
}

async fn observed_result_async_u64(x: u64) -> u64 {
    observed_result_async(x).await.unwrap_or_default()
}

fn plain_result_u64(x: u64) -> u64 {
    plain_result(x).unwrap_or_default()
}

/// `#[observe]`'s metrics written by hand: a counter and a histogram through
/// handles resolved once, into the same Prometheus recorder.
#[inline(never)]
fn hand_metrics(x: u64) -> u64 {
    static HANDLES: std::sync::OnceLock<(metrics::Counter, metrics::Counter, metrics::Histogram)> =
        std::sync::OnceLock::new();
    let (ok, error, duration) = HANDLES.get_or_init(|| {
        let counter = |status: &'static str| {
            metrics::counter!("hand_calls_total", "function" => "hand_metrics", "module" => module_path!(), "status" => status)
        };
        let histogram =
            metrics::histogram!("hand_duration_seconds", "function" => "hand_metrics", "module" => module_path!());
        (counter("ok"), counter("error"), histogram)
    });
    let start = Instant::now();
    let ret = plain_result(x);
    duration.record(start.elapsed().as_secs_f64());
    if ret.is_ok() {
        ok.increment(1)
    } else {
        error.increment(1)
    }
    ret.unwrap_or_default()
}

/// The full `#[observe]`: span, metrics and an `info` log line per call.
#[observe(level = "info")]
fn observed_logged(x: u64) -> u64 {
    work(x)
}

#[observe(level = "info")]
async fn observed_logged_async(x: u64) -> u64 {
    work(x)
}

/// What `#[observe(level = "info")]` replaces: a span, a counter and a histogram
/// through the `metrics` macros, and one `info!` event.
#[inline(never)]
fn hand_written(x: u64) -> u64 {
    let span = tracing::info_span!("hand_written", x);
    let _entered = span.enter();
    let start = Instant::now();
    let ret = work(x);
    let elapsed = start.elapsed();
    metrics::counter!("hand_calls_total", "function" => "hand_written", "module" => module_path!(), "status" => "ok")
        .increment(1);
    metrics::histogram!("hand_duration_seconds", "function" => "hand_written", "module" => module_path!())
        .record(elapsed.as_secs_f64());
    tracing::info!(duration_ms = elapsed.as_secs_f64() * 1000.0, "hand_written completed");
    ret
}

/// A span per call through tracing-subscriber's registry with no layer: the part of
/// the default configuration's span that is the registry's (its slab, its span stack).
#[inline(never)]
fn registry_span(x: u64) -> u64 {
    let span = tracing::info_span!("registry_span", x);
    let _entered = span.enter();
    work(x)
}

// ---- a workflow of 10 nodes, against the same job instrumented by hand ----

macro_rules! nodes {
    ($($name:ident),*) => {$(
        #[node]
        async fn $name(x: u64) -> u64 {
            work(x)
        }
    )*};
}
nodes!(n0, n1, n2, n3, n4, n5, n6, n7, n8, n9);

#[workflow]
async fn workflow_10_nodes(x: u64) -> u64 {
    let x = n0(x).await;
    let x = n1(x).await;
    let x = n2(x).await;
    let x = n3(x).await;
    let x = n4(x).await;
    let x = n5(x).await;
    let x = n6(x).await;
    let x = n7(x).await;
    let x = n8(x).await;
    n9(x).await
}

/// One step instrumented by hand: a child span, a run counter and a duration histogram.
#[inline(never)]
async fn hand_step(name: &'static str, x: u64) -> u64 {
    let span = tracing::info_span!("node", node = name, attempt = 1u32);
    let _entered = span.enter();
    let start = Instant::now();
    let ret = work(x);
    let elapsed = start.elapsed().as_secs_f64();
    metrics::counter!("hand_node_runs_total", "workflow" => "hand", "node" => name, "status" => "ok").increment(1);
    metrics::histogram!("hand_node_duration_seconds", "workflow" => "hand", "node" => name).record(elapsed);
    ret
}

/// What `#[workflow]` + 10 `#[node]`s replace, written by hand: a run span with a
/// run id, an active gauge, run metrics and the 10 instrumented steps.
#[inline(never)]
async fn hand_written_10_steps(x: u64) -> u64 {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let span = tracing::info_span!("workflow", run_id = RUN.fetch_add(1, Ordering::Relaxed));
    let _entered = span.enter();
    let start = Instant::now();
    metrics::gauge!("hand_workflow_active", "workflow" => "hand").increment(1.0);
    let mut x = x;
    for name in ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"] {
        x = hand_step(name, x).await;
    }
    metrics::gauge!("hand_workflow_active", "workflow" => "hand").decrement(1.0);
    metrics::counter!("hand_workflow_runs_total", "workflow" => "hand", "status" => "ok").increment(1);
    metrics::histogram!("hand_workflow_duration_seconds", "workflow" => "hand").record(start.elapsed().as_secs_f64());
    x
}

/// Polls a future that never waits to completion.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Lines and bytes written by one logging case.
struct Written {
    lines: AtomicU64,
    bytes: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Written {
    const fn new() -> Written {
        Written { lines: AtomicU64::new(0), bytes: AtomicU64::new(0), first: Mutex::new(None) }
    }

    fn reset(&self) {
        self.lines.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }
}

/// A sink that counts what it is given (two relaxed atomic adds per line) and keeps the first line.
struct CountingSink(&'static Written);

impl io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.lines.fetch_add(1, Ordering::Relaxed) == 0 {
            *self.0.first.lock().unwrap() = Some(String::from_utf8_lossy(buf).trim_end().to_owned());
        }
        self.0.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

static OBS_JSON: Written = Written::new();
static FMT_JSON: Written = Written::new();

/// Runs `bench` with `dispatch` as this thread's default subscriber, after
/// checking that one call of `probe` writes exactly one line through it.
fn with_logging(name: &str, dispatch: Dispatch, written: &'static Written, probe: impl Fn(), bench: impl FnOnce()) {
    // Creating the dispatcher rebuilt the interest of every callsite; do it
    // again so that no interest cached under an earlier dispatcher survives.
    tracing_core::callsite::rebuild_interest_cache();
    tracing::dispatcher::with_default(&dispatch, || {
        written.reset();
        probe();
        let lines = written.lines.load(Ordering::Relaxed);
        assert_eq!(lines, 1, "{name}: one call should write one log line, it wrote {lines}");
        println!("{name}: one call writes {} bytes:", written.bytes.load(Ordering::Relaxed));
        println!("  {}", written.first.lock().unwrap().as_deref().unwrap_or_default());
        written.reset();
        bench();
        // None when a filter on the command line left this case's benches out.
        let lines = written.lines.load(Ordering::Relaxed).max(1);
        println!(
            "{name}: {lines} lines, {} bytes per line while measuring\n",
            written.bytes.load(Ordering::Relaxed) / lines
        );
    });
    drop(dispatch);
    tracing_core::callsite::rebuild_interest_cache();
}

/// Time per call when `threads` threads call `f` at the same moment: the
/// slowest thread's time for `iters` calls.
/// Each thread has `dispatch` as its default subscriber when one is given
/// (scoped dispatchers are per thread).
fn concurrent(threads: usize, iters: u64, f: fn(u64) -> u64, dispatch: Option<&Dispatch>) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let _default = dispatch.map(tracing::dispatcher::set_default);
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..iters {
                        black_box(f(black_box(i)));
                    }
                    start.elapsed()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).max().unwrap_or_default()
    })
}

fn bench_sync(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, f: fn(u64) -> u64) {
    group.bench_function(id, |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            f(black_box(i))
        })
    });
}

fn bench_async<F: Future<Output = u64>>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, f: fn(u64) -> F) {
    group.bench_function(id, |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            block_on(f(black_box(i)))
        })
    });
}

fn before_init(c: &mut Criterion) {
    let mut group = c.benchmark_group("before_init");
    bench_sync(&mut group, "plain", plain);
    bench_sync(&mut group, "observe", observed);
    bench_async(&mut group, "plain_async", plain_async);
    bench_async(&mut group, "observe_async", observed_async);
    group.finish();
}

fn metrics_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_only");
    bench_sync(&mut group, "plain", plain);
    bench_sync(&mut group, "observe", observed);
    bench_sync(&mut group, "observe_two_enum_labels", observed_two_enum_labels);
    bench_sync(&mut group, "observe_string_label", observed_string_label);
    bench_async(&mut group, "plain_async", plain_async);
    bench_async(&mut group, "observe_async", observed_async);
    bench_async(&mut group, "workflow_10_nodes", workflow_10_nodes);
    bench_async(&mut group, "hand_written_10_steps", hand_written_10_steps);
    group.finish();

    // The plain function on two threads shows what the machine itself loses
    // to a second busy thread (two cores, other work running).
    let mut group = c.benchmark_group("threads");
    for (name, f) in [("plain", plain as fn(u64) -> u64), ("observe", observed)] {
        for threads in [1, 2] {
            group.bench_function(format!("{name}_{threads}"), |b| {
                b.iter_custom(|iters| concurrent(threads, iters, f, None))
            });
        }
    }
    group.finish();

    // The configuration rows' shape (`Result`, one call in 1024 an error):
    // the cheapest setup, the reference of the default-init and logs-off cases.
    bench_configuration(c, "metrics_only_result", None);
    let mut group = c.benchmark_group("metrics_only_result");
    bench_sync(&mut group, "plain", plain_result_u64);
    bench_sync(&mut group, "hand_metrics", hand_metrics);
    group.bench_function("plain_2", |b| b.iter_custom(|iters| concurrent(2, iters, plain_result_u64, None)));
    group.finish();
}

/// The rows measured in every configuration: the `Result`-shaped function,
/// sync and async, on one thread and on two at once (the single-thread
/// figure of the two-thread comparison is measured the same way as the pair).
fn bench_configuration(c: &mut Criterion, name: &str, dispatch: Option<&Dispatch>) {
    let mut group = c.benchmark_group(name);
    bench_sync(&mut group, "observe", observed_result_u64);
    bench_async(&mut group, "observe_async", observed_result_async_u64);
    for threads in [1, 2] {
        group.bench_function(format!("observe_{threads}"), |b| {
            b.iter_custom(|iters| concurrent(threads, iters, observed_result_u64, dispatch))
        });
    }
    group.finish();
}

/// A configuration `init` sets up, measured in a process of its own (a
/// process can `init` once): the parent runs this binary again with
/// `OBS_BENCH_CASE` set and the same arguments.
fn configuration(c: &mut Criterion, case: &str) {
    static SINK: Written = Written::new();
    let builder = obs_runtime::builder().without_http().log_writer(|| CountingSink(&SINK));
    let (builder, group) = match case {
        // What the quick start gives: JSON lines, the default filter (the
        // info span recorded, the debug success line filtered out).
        "default_init" => (builder, "default_init"),
        "logs_off" => (builder.log_format(obs_runtime::log::LogFormat::Off), "logs_off"),
        "init_json_line" => (builder, "init_json_line"),
        other => panic!("unknown OBS_BENCH_CASE {other:?}"),
    };
    let _guard = builder.init().expect("init");
    if group == "init_json_line" {
        // `#[observe(level = "info")]` under `init`'s own subscriber: a line per call.
        SINK.reset();
        observed_logged(1);
        assert_eq!(SINK.lines.load(Ordering::Relaxed), 1, "{group}: one call should write one line");
        let mut group = c.benchmark_group(group);
        bench_sync(&mut group, "observe", observed_logged);
        bench_async(&mut group, "observe_async", observed_logged_async);
        for threads in [1, 2] {
            group.bench_function(format!("observe_{threads}"), |b| {
                b.iter_custom(|iters| concurrent(threads, iters, observed_logged, None))
            });
        }
        group.finish();
        return;
    }
    bench_configuration(c, group, None);
    println!("{group}: {} lines written while measuring (the 1 in 1024 errors)", SINK.lines.load(Ordering::Relaxed));
}

/// Runs each `init` configuration in a child process, with RUST_LOG unset.
fn configurations() {
    let exe = std::env::current_exe().expect("the bench binary");
    for case in ["default_init", "logs_off", "init_json_line"] {
        let status = std::process::Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env("OBS_BENCH_CASE", case)
            .env_remove("RUST_LOG")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .status()
            .expect("run the bench binary again");
        assert!(status.success(), "the {case} configuration failed: {status}");
    }
}

fn logging(c: &mut Criterion) {
    let obs = tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(JsonLayer::new("bench", || CountingSink(&OBS_JSON)));
    let obs_dispatch = Dispatch::new(obs);
    with_logging(
        "observe + JsonLayer",
        obs_dispatch.clone(),
        &OBS_JSON,
        || {
            observed_logged(1);
        },
        || {
            let mut group = c.benchmark_group("json_log");
            bench_sync(&mut group, "observe", observed_logged);
            bench_async(&mut group, "observe_async", observed_logged_async);
            for threads in [1, 2] {
                group.bench_function(format!("observe_{threads}"), |b| {
                    b.iter_custom(|iters| concurrent(threads, iters, observed_logged, Some(&obs_dispatch)))
                });
            }
            group.finish();
        },
    );

    // No interest cached for the next case may come from this dispatcher.
    drop(obs_dispatch);
    tracing_core::callsite::rebuild_interest_cache();

    let hand = tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(tracing_subscriber::fmt::layer().json().with_writer(|| CountingSink(&FMT_JSON)));
    let hand_dispatch = Dispatch::new(hand);
    with_logging(
        "hand-written + fmt::json",
        hand_dispatch.clone(),
        &FMT_JSON,
        || {
            hand_written(1);
        },
        || {
            let mut group = c.benchmark_group("json_log");
            bench_sync(&mut group, "hand_written", hand_written);
            for threads in [1, 2] {
                group.bench_function(format!("hand_written_{threads}"), |b| {
                    b.iter_custom(|iters| concurrent(threads, iters, hand_written, Some(&hand_dispatch)))
                });
            }
            group.finish();
        },
    );
}

/// The registry alone, a span per call, on one thread and on two: whether a
/// configuration's loss on two threads is the registry's or obs's.
fn registry_alone(c: &mut Criterion) {
    let dispatch = Dispatch::new(tracing_subscriber::registry());
    tracing_core::callsite::rebuild_interest_cache();
    let mut group = c.benchmark_group("registry");
    for threads in [1, 2] {
        group.bench_function(format!("span_{threads}"), |b| {
            b.iter_custom(|iters| concurrent(threads, iters, registry_span, Some(&dispatch)))
        });
    }
    group.finish();
    drop(dispatch);
    tracing_core::callsite::rebuild_interest_cache();
}

/// Criterion's estimate for `group/bench` from this run, in nanoseconds: the
/// slope when it sampled linearly (the figure it prints), else the mean.
fn estimate(dir: &std::path::Path, since: SystemTime, id: &str) -> Option<f64> {
    let path = dir.join(id).join("new").join("estimates.json");
    if std::fs::metadata(&path).and_then(|m| m.modified()).ok()? < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let pick = |key: &str| json.get(key)?.get("point_estimate")?.as_f64();
    pick("slope").or_else(|| pick("mean"))
}

fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    // target/release/deps/overhead-<hash>
    std::env::current_exe().ok()?.ancestors().map(|dir| dir.join("criterion")).find(|dir| dir.is_dir())
}

/// The figures the targets are stated in, computed from this run's estimates.
fn summary(since: SystemTime) {
    let Some(dir) = criterion_dir() else { return };
    let ns = |id: &str| estimate(&dir, since, id);
    println!("\n== summary (ns per call; ratios within this run) ==");
    for id in [
        "before_init/plain",
        "before_init/observe",
        "before_init/plain_async",
        "before_init/observe_async",
        "metrics_only/plain",
        "metrics_only/observe",
        "metrics_only/observe_two_enum_labels",
        "metrics_only/observe_string_label",
        "metrics_only/plain_async",
        "metrics_only/observe_async",
        "metrics_only/workflow_10_nodes",
        "metrics_only/hand_written_10_steps",
        "threads/plain_1",
        "threads/plain_2",
        "threads/observe_1",
        "threads/observe_2",
        "json_log/observe",
        "json_log/observe_async",
        "json_log/hand_written",
        "json_log/observe_1",
        "json_log/observe_2",
        "json_log/hand_written_1",
        "json_log/hand_written_2",
        "registry/span_1",
        "registry/span_2",
        "metrics_only_result/plain",
        "metrics_only_result/plain_2",
        "metrics_only_result/hand_metrics",
        "metrics_only_result/observe",
        "metrics_only_result/observe_async",
        "metrics_only_result/observe_1",
        "metrics_only_result/observe_2",
        "default_init/observe",
        "default_init/observe_async",
        "default_init/observe_1",
        "default_init/observe_2",
        "logs_off/observe",
        "logs_off/observe_async",
        "logs_off/observe_1",
        "logs_off/observe_2",
        "init_json_line/observe",
        "init_json_line/observe_async",
        "init_json_line/observe_1",
        "init_json_line/observe_2",
    ] {
        if let Some(v) = ns(id) {
            println!("{id:<40} {v:>9.1}");
        }
    }
    let line = |label: &str, value: Option<f64>, target: &str| {
        if let Some(value) = value {
            println!("{label:<52} {value:>8.2}   (target {target})");
        }
    };
    let diff = |a: &str, b: &str| Some(ns(a)? - ns(b)?);
    let ratio = |a: &str, b: &str| Some(ns(a)? / ns(b)?);
    println!();
    line("no init: observe - plain (ns)", diff("before_init/observe", "before_init/plain"), "next to nothing");
    line("metrics only: observe - plain (ns)", diff("metrics_only/observe", "metrics_only/plain"), "<= 100, aim 60");
    line(
        "metrics only, async: observe - plain (ns)",
        diff("metrics_only/observe_async", "metrics_only/plain_async"),
        "<= 100, aim 60",
    );
    line(
        "metrics only: two enum labels - none (ns)",
        diff("metrics_only/observe_two_enum_labels", "metrics_only/observe"),
        "<= 15",
    );
    line(
        "metrics only: one string label - none (ns)",
        diff("metrics_only/observe_string_label", "metrics_only/observe"),
        "one bounded-map lookup",
    );
    line("full observe / hand-written", ratio("json_log/observe", "json_log/hand_written"), "<= 0.5, aim 0.25");
    line(
        "full observe async / hand-written",
        ratio("json_log/observe_async", "json_log/hand_written"),
        "<= 0.5, aim 0.25",
    );
    line(
        "workflow of 10 nodes / same by hand (metrics only)",
        ratio("metrics_only/workflow_10_nodes", "metrics_only/hand_written_10_steps"),
        "reference",
    );
    line("2 threads / 1 thread, observe", ratio("threads/observe_2", "threads/observe_1"), "<= 1.2");
    line("2 threads / 1 thread, plain (the machine's own)", ratio("threads/plain_2", "threads/plain_1"), "reference");

    println!("\n-- configurations (Result return, one call in 1024 an error) --");
    line("default init / metrics only", ratio("default_init/observe", "metrics_only_result/observe"), "<= 2");
    line(
        "default init / metrics only, async",
        ratio("default_init/observe_async", "metrics_only_result/observe_async"),
        "<= 2",
    );
    line("logs off - metrics only (ns)", diff("logs_off/observe", "metrics_only_result/observe"), "<= 10");
    line(
        "logs off - metrics only, async (ns)",
        diff("logs_off/observe_async", "metrics_only_result/observe_async"),
        "<= 10",
    );
    for case in ["metrics_only_result", "default_init", "logs_off"] {
        line(
            &format!("2 threads / 1 thread, {case}"),
            ratio(&format!("{case}/observe_2"), &format!("{case}/observe_1")),
            "<= 1.2",
        );
    }
    line(
        "2 threads / 1 thread, json line (init)",
        ratio("init_json_line/observe_2", "init_json_line/observe_1"),
        "<= 1.2",
    );
    line(
        "2 threads / 1 thread, json line (JsonLayer on a registry)",
        ratio("json_log/observe_2", "json_log/observe_1"),
        "<= 1.2",
    );
    line(
        "2 threads / 1 thread, hand-written json",
        ratio("json_log/hand_written_2", "json_log/hand_written_1"),
        "reference",
    );
    line("2 threads / 1 thread, registry span alone", ratio("registry/span_2", "registry/span_1"), "reference");
    line("json line (init) / hand-written", ratio("init_json_line/observe", "json_log/hand_written"), "<= 0.3");
    line(
        "json line (JsonLayer on a registry) / hand-written",
        ratio("json_log/observe", "json_log/hand_written"),
        "<= 0.3",
    );
    line(
        "hand-written metrics (cached handles) - plain (ns)",
        diff("metrics_only_result/hand_metrics", "metrics_only_result/plain"),
        "reference",
    );
}

fn main() {
    let since = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();

    if let Ok(case) = std::env::var("OBS_BENCH_CASE") {
        configuration(&mut c, &case);
        return;
    }

    before_init(&mut c);

    let _guard = obs_runtime::builder()
        .install_subscriber(false)
        .without_http()
        .init()
        .expect("init with the Prometheus recorder and no subscriber");
    metrics_only(&mut c);
    logging(&mut c);
    registry_alone(&mut c);
    configurations();

    c.final_summary();
    summary(since);
}
