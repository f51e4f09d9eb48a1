//! How a 10-node `#[workflow]` scales with threads: 1, 2, 4 and 8 threads run
//! the same workflow at the same moment, each as fast as it can, and the figure
//! is the time of one workflow run on one thread (the slowest thread's time
//! for its share, divided by that share).
//!
//! Throughput per thread is then printed as a ratio of the 1-thread figure
//! (1.0 = perfect scaling). The same is measured for the same ten steps as
//! plain async functions, which shows what the machine itself loses to more
//! busy threads (a machine with fewer cores than threads cannot reach 1.0
//! whatever the code does): compare the two columns, not the workflow column
//! with 1.0.
//!
//! A second table gives the same from CPU time per run (each thread's own
//! clock), which a machine shared with other work disturbs less.
//!
//! Runs with the Prometheus recorder installed and no subscriber, so what is
//! measured is the workflow's own bookkeeping (run state, active-run map,
//! learned graph, node and workflow metrics), not log formatting.
//!
//! `cargo bench -p obs-runtime --bench scaling`; short runs:
//! `SCALING_MEASURE_MS=1000 SCALING_WARMUP_MS=300 <bench binary> --bench`.

use std::future::Future;
use std::hint::black_box;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use obs_runtime::{node, workflow};

const THREADS: [usize; 4] = [1, 2, 4, 8];

/// The work every node does: small, so the instrumentation dominates.
#[inline(never)]
fn work(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

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

#[inline(never)]
async fn plain_step(x: u64) -> u64 {
    work(x)
}

/// The same ten steps with no instrumentation: the machine's own scaling.
#[inline(never)]
async fn plain_10_steps(x: u64) -> u64 {
    let mut x = x;
    for _ in 0..10 {
        x = plain_step(x).await;
    }
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

/// CPU time of the calling thread, in nanoseconds. Beside criterion's wall time:
/// on a machine shared with other work, a thread that is preempted loses wall
/// time but no CPU time, while contention (cache lines moving between cores,
/// spinning) costs CPU time. A thread asleep on a lock costs neither, so a
/// blocking lock shows in the wall figures only.
fn thread_cpu_ns() -> u64 {
    // SAFETY: a valid pointer to a zeroed local struct.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU nanoseconds and runs, per variant (workflow, plain) and thread count, over the whole run.
static CPU: [[(AtomicU64, AtomicU64); THREADS.len()]; 2] =
    [const { [const { (AtomicU64::new(0), AtomicU64::new(0)) }; THREADS.len()] }; 2];

/// Time for `iters` runs on one thread when `threads` threads run at the same
/// moment: the slowest thread's time, so criterion's per-iteration figure is
/// the time of one run on one thread. Adds each thread's CPU time to `cpu`.
fn concurrent<F: Future<Output = u64>>(
    threads: usize,
    iters: u64,
    f: fn(u64) -> F,
    cpu: &(AtomicU64, AtomicU64),
) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
                    for i in 0..iters {
                        black_box(block_on(f(black_box(i ^ ((t as u64) << 48)))));
                    }
                    let elapsed = start.elapsed();
                    cpu.0.fetch_add(thread_cpu_ns() - cpu_start, Ordering::Relaxed);
                    cpu.1.fetch_add(iters, Ordering::Relaxed);
                    elapsed
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).max().unwrap_or_default()
    })
}

fn scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling");
    for (n, threads) in THREADS.into_iter().enumerate() {
        group.bench_function(format!("workflow_10_nodes_{threads}"), |b| {
            b.iter_custom(|iters| concurrent(threads, iters, workflow_10_nodes, &CPU[0][n]))
        });
        group.bench_function(format!("plain_10_steps_{threads}"), |b| {
            b.iter_custom(|iters| concurrent(threads, iters, plain_10_steps, &CPU[1][n]))
        });
    }
    group.finish();
}

/// Criterion's estimate for `id` from this run, in nanoseconds: the slope when
/// it sampled linearly (the figure it prints), else the mean.
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
    // target/release/deps/scaling-<hash>
    std::env::current_exe().ok()?.ancestors().map(|dir| dir.join("criterion")).find(|dir| dir.is_dir())
}

fn summary(since: SystemTime) {
    let Some(dir) = criterion_dir() else { return };
    let ns = |id: String| estimate(&dir, since, &id);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("\n== scaling: ns per run per thread; throughput per thread / 1-thread figure ({cores} cores) ==");
    println!(
        "{:>7} {:>14} {:>9} {:>14} {:>9} {:>13}",
        "threads", "workflow ns", "ratio", "plain ns", "ratio", "wf / plain"
    );
    let wf1 = ns("scaling/workflow_10_nodes_1".into());
    let plain1 = ns("scaling/plain_10_steps_1".into());
    for threads in THREADS {
        let wf = ns(format!("scaling/workflow_10_nodes_{threads}"));
        let plain = ns(format!("scaling/plain_10_steps_{threads}"));
        let ratio = |one: Option<f64>, this: Option<f64>| Some(one? / this?);
        let show = |v: Option<f64>, width: usize, prec: usize| match v {
            Some(v) => format!("{v:>width$.prec$}"),
            None => format!("{:>width$}", "-"),
        };
        let wf_ratio = ratio(wf1, wf);
        let plain_ratio = ratio(plain1, plain);
        println!(
            "{threads:>7} {} {} {} {} {}",
            show(wf, 14, 1),
            show(wf_ratio, 9, 3),
            show(plain, 14, 1),
            show(plain_ratio, 9, 3),
            show(ratio(wf_ratio, plain_ratio), 13, 3),
        );
    }
}

/// The same table from CPU time per run (warm-up included).
fn cpu_summary() {
    let per_run = |v: usize, n: usize| {
        let (ns, runs) = (&CPU[v][n].0, &CPU[v][n].1);
        let runs = runs.load(Ordering::Relaxed);
        (runs > 0).then(|| ns.load(Ordering::Relaxed) as f64 / runs as f64)
    };
    println!("\n== scaling by CPU time: CPU ns per run; 1-thread figure / this one ==");
    println!(
        "{:>7} {:>14} {:>9} {:>14} {:>9} {:>13}",
        "threads", "workflow ns", "ratio", "plain ns", "ratio", "wf / plain"
    );
    for (n, threads) in THREADS.into_iter().enumerate() {
        let ratio = |one: Option<f64>, this: Option<f64>| Some(one? / this?);
        let show = |v: Option<f64>, width: usize, prec: usize| match v {
            Some(v) => format!("{v:>width$.prec$}"),
            None => format!("{:>width$}", "-"),
        };
        let (wf, plain) = (per_run(0, n), per_run(1, n));
        let (wf_ratio, plain_ratio) = (ratio(per_run(0, 0), wf), ratio(per_run(1, 0), plain));
        println!(
            "{threads:>7} {} {} {} {} {}",
            show(wf, 14, 1),
            show(wf_ratio, 9, 3),
            show(plain, 14, 1),
            show(plain_ratio, 9, 3),
            show(ratio(wf_ratio, plain_ratio), 13, 3),
        );
    }
}

fn env_ms(name: &str, default: u64) -> Duration {
    Duration::from_millis(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
}

fn main() {
    let since = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(env_ms("SCALING_WARMUP_MS", 500))
        .measurement_time(env_ms("SCALING_MEASURE_MS", 3000))
        .sample_size(30)
        .configure_from_args();

    let _guard = obs_runtime::builder()
        .install_subscriber(false)
        .without_http()
        .init()
        .expect("init with the Prometheus recorder and no subscriber");
    scaling(&mut c);

    c.final_summary();
    summary(since);
    cpu_summary();
}
