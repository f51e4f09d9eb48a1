//! What exemplars and OTLP metrics add to a metrics-only call, and what one
//! collection of 1,000 series costs.
//!
//! `init` runs once per process, so each configuration runs in a child
//! process (this binary again, with `OBS_BENCH_CASE` set); the parent runs
//! them one after the other and prints the differences, all in one run:
//! * `base`: `init` with the Prometheus recorder and no subscriber (the
//!   README's "metrics only");
//! * `exemplars`: the same, plus OTLP trace export (which turns exemplars on)
//!   and OTLP metrics every 200 ms to a collector that is not there, while a
//!   thread scrapes `/metrics` in OpenMetrics every 100 ms (each scrape opens
//!   a new exemplar interval, so the call path keeps checking its slots);
//! * `collection`: `/metrics` with 1,000 series of the `metrics` facade,
//!   rendered in the process (Prometheus text) and scraped over HTTP (OpenMetrics).
//!
//! The function returns `Result`, one call in 1024 an error.
//! `cargo bench -p obs-runtime --bench exemplars`

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use criterion::Criterion;
use obs_runtime::observe;

mod support;
use support::output_dir;

#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

#[inline(never)]
fn work(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

#[inline(never)]
fn plain(x: u64) -> Result<u64, Failed> {
    if x & 1023 == 0 { Err(Failed) } else { Ok(work(x)) }
}

#[observe]
fn observed(x: u64) -> Result<u64, Failed> {
    if x & 1023 == 0 { Err(Failed) } else { Ok(work(x)) }
}

const CASES: [&str; 2] = ["base", "exemplars"];

fn main() {
    match std::env::var("OBS_BENCH_CASE") {
        Ok(case) => child(&case),
        Err(_) => parent(),
    }
}

fn parent() {
    let dir = output_dir("exemplars");
    support::run_cases(&dir, CASES.into_iter().chain(["collection"]));
    let median = |group: &str, bench: &str| support::median_ns(&dir, group, bench);
    println!("\n== exemplars: metrics-only #[observe] minus a plain call, median ns per call ==");
    let mut overhead = Vec::new();
    for case in CASES {
        let cost = median(case, "observe") - median(case, "plain");
        println!("{case:>10}: +{cost:.1} ns");
        overhead.push(cost);
    }
    println!("exemplars on, OpenMetrics scraped, OTLP metrics on: {:+.1} ns against base", overhead[1] - overhead[0]);
    println!("\n== one collection of 1,000 series ==");
    for format in ["prometheus", "openmetrics"] {
        let ns = median("collection", format);
        println!("{format:>12}: {:.2} ms ({:.0} series per second)", ns / 1e6, 1000.0 / (ns / 1e9));
    }
}

fn child(case: &str) {
    let builder = obs_runtime::builder().install_subscriber(false).log_writer(std::io::sink);
    let builder = match case {
        "exemplars" => builder
            .http_addr("127.0.0.1:0".parse().unwrap())
            .otlp_endpoint("http://127.0.0.1:9")
            .otlp_metrics(true)
            .otlp_metric_interval(Duration::from_millis(200)),
        _ => builder.http_addr("127.0.0.1:0".parse().unwrap()),
    };
    let guard = builder.init().expect("init");
    let mut criterion = Criterion::default()
        .output_directory(&output_dir("exemplars"))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots();
    if case == "collection" {
        collection(&mut criterion, &guard);
        return;
    }
    if case == "exemplars" {
        let addr = guard.http_addr().expect("http");
        std::thread::spawn(move || {
            loop {
                scrape_openmetrics(addr);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    }
    let mut group = criterion.benchmark_group(case);
    let mut x = 0u64;
    group.bench_function("plain", |b| {
        b.iter(|| {
            x = x.wrapping_add(1);
            black_box(plain(black_box(x)).is_ok())
        })
    });
    group.bench_function("observe", |b| {
        b.iter(|| {
            x = x.wrapping_add(1);
            black_box(observed(black_box(x)).is_ok())
        })
    });
    group.finish();
    drop(guard);
}

fn scrape_openmetrics(addr: std::net::SocketAddr) {
    let Ok(mut stream) = TcpStream::connect(addr) else { return };
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

/// 1,000 facade series (700 counters, 100 gauges, 200 histograms, each with a
/// label), plus the function's own; `prometheus` renders in the process,
/// `openmetrics` is a whole scrape over loopback HTTP.
fn collection(criterion: &mut Criterion, guard: &obs_runtime::ObsGuard) {
    for i in 0..700u64 {
        metrics::counter!("bench_jobs_total", "job" => format!("job-{i}")).increment(i);
    }
    for i in 0..100u64 {
        metrics::gauge!("bench_depth", "queue" => format!("q-{i}")).set(i as f64);
    }
    for i in 0..200u64 {
        metrics::histogram!("bench_step_seconds", "step" => format!("s-{i}")).record(i as f64 / 1000.0);
    }
    for x in 0..500 {
        let _ = observed(x);
    }
    let mut group = criterion.benchmark_group("collection");
    group.bench_function("prometheus", |b| b.iter(|| black_box(guard.render_metrics().map(|t| t.len()))));
    let addr = guard.http_addr().expect("http");
    group.bench_function("openmetrics", |b| b.iter(|| scrape_openmetrics(addr)));
    group.finish();
}
