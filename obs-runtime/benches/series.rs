//! What the constant labels cost a scrape, and what the series cap of the
//! application's facade families costs a registration, as ratios within one run.
//!
//! `init` runs once per process, so each configuration runs in a child
//! process (this binary again, with `OBS_BENCH_CASE` set):
//! * `plain`: the Prometheus recorder, no constant label;
//! * `const`: the same with two constant labels.
//!
//! Both hold 1,000 facade series to render (700 counters, 100 gauges, 200
//! histograms) and a family `bench_users_total` filled up to its cap (1,000
//! label sets). In each: `render` (one `/metrics` rendering, in the
//! process), `kept` (a kept handle's increment: the hot path, which never
//! meets the recorder), `registered` (`counter!` of a label set the family
//! holds: one registry lookup), `own` (the same for an obs family, which the
//! cap never looks at), `folded` (a new label set past the cap: the
//! `__overflow__` series, counted).
//!
//! `cargo bench -p obs-runtime --bench series`

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;

mod support;
use support::output_dir;

const CASES: [&str; 2] = ["plain", "const"];

fn main() {
    match std::env::var("OBS_BENCH_CASE") {
        Ok(case) => child(&case),
        Err(_) => parent(),
    }
}

fn parent() {
    let dir = output_dir("series");
    support::run_cases(&dir, CASES);
    let median = |group: &str, bench: &str| support::median_ns(&dir, group, bench);
    println!("\n== series: medians, and ratios within this run ==");
    let (plain, with) = (median("plain", "render"), median("const", "render"));
    println!(
        "render 2,000 series: {:.2} ms plain, {:.2} ms with 2 constant labels: x{:.2}",
        plain / 1e6,
        with / 1e6,
        with / plain
    );
    for case in CASES {
        let (kept, registered, own, folded) =
            (median(case, "kept"), median(case, "registered"), median(case, "own"), median(case, "folded"));
        println!(
            "{case:>6}: kept {kept:.1} ns, registered {registered:.1} ns (x{:.2} an obs family's {own:.1} ns), \
             folded past the cap {folded:.1} ns (x{:.2} registered)",
            registered / own,
            folded / registered
        );
    }
}

fn child(case: &str) {
    let builder = obs_runtime::builder().install_subscriber(false).log_writer(std::io::sink).without_http();
    let builder = match case {
        "const" => builder.const_label("environment", "prod").const_label("region", "eu-west-1"),
        _ => builder,
    };
    let guard = builder.init().expect("init");
    for i in 0..700u64 {
        metrics::counter!("bench_jobs_total", "job" => format!("job-{i}")).increment(i);
    }
    for i in 0..100u64 {
        metrics::gauge!("bench_depth", "queue" => format!("q-{i}")).set(i as f64);
    }
    for i in 0..200u64 {
        metrics::histogram!("bench_step_seconds", "step" => format!("s-{i}")).record(i as f64 / 1000.0);
    }
    for i in 0..1000u64 {
        metrics::counter!("bench_users_total", "user" => format!("user-{i}")).increment(1);
    }
    let text = guard.render_metrics().expect("the recorder");
    assert!(
        text.contains("bench_users_total{") && !text.contains("__overflow__\"} 1\n"),
        "filled to the cap, not past"
    );

    let mut criterion = Criterion::default()
        .output_directory(&output_dir("series"))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots();
    let mut group = criterion.benchmark_group(case);
    group.bench_function("render", |b| b.iter(|| black_box(guard.render_metrics().map(|t| t.len()))));
    let kept = metrics::counter!("bench_users_total", "user" => "user-7");
    group.bench_function("kept", |b| b.iter(|| kept.increment(black_box(1))));
    group.bench_function("registered", |b| {
        b.iter(|| metrics::counter!("bench_users_total", "user" => "user-7").increment(black_box(1)))
    });
    // Literal name and labels, as `registered` has (the macro builds a static key
    // from literals only), so the lookup is all that differs.
    assert_eq!(obs_runtime::metrics::QUEUE_REJECTED_TOTAL.default_name(), "obs_queue_rejected_total");
    group.bench_function("own", |b| {
        b.iter(|| metrics::counter!("obs_queue_rejected_total", "queue" => "bench").increment(black_box(1)))
    });
    group.bench_function("folded", |b| {
        b.iter(|| metrics::counter!("bench_users_total", "user" => "user-late").increment(black_box(1)))
    });
    group.finish();
    let text = guard.render_metrics().expect("the recorder");
    assert!(text.contains("bench_users_total{") && text.contains("__overflow__"), "the late user was folded");
    drop(guard);
}
