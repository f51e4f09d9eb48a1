//! Tokio runtime metrics: absent while obs knows of no runtime (`init` called
//! outside one), then, for a watched runtime, its worker count, the tasks
//! alive as they come and go, its global queue and each worker's busy time.

use std::time::{Duration, Instant};

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.rsplit_once(' ').is_some_and(|(s, _)| s == series))
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

fn get(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[test]
fn runtime_metrics_appear_for_a_watched_runtime_only() {
    let guard = obs_runtime::builder().log_writer(std::io::sink).without_http().init().expect("init outside a runtime");
    let scrape = || guard.render_metrics().expect("obs renders /metrics");
    assert!(!scrape().contains("obs_tokio_"), "no runtime, no runtime metrics:\n{}", scrape());

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    obs_runtime::metrics::watch_tokio_runtime(runtime.handle());
    let text = scrape();
    assert_eq!(get(&text, "obs_tokio_workers"), 2.0);
    // What the runtime runs by itself, if anything.
    let idle = get(&text, "obs_tokio_alive_tasks");
    assert!(idle <= 1.0, "{text}");
    assert!(sample(&text, "obs_tokio_global_queue_depth").is_some(), "{text}");
    assert!(text.contains("# TYPE obs_tokio_worker_busy_seconds_total counter\n"), "{text}");

    // Five tasks wait on a gate: alive until it opens.
    let (open, gate) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let mut gate = gate.clone();
            runtime.spawn(async move {
                let _ = gate.wait_for(|open| *open).await;
            })
        })
        .collect();
    assert_eq!(get(&scrape(), "obs_tokio_alive_tasks"), idle + 5.0);
    // One task keeps a worker busy for 300 ms.
    runtime.block_on(async {
        tokio::spawn(async {
            let until = Instant::now() + Duration::from_millis(300);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        })
        .await
        .unwrap();
    });
    open.send(true).unwrap();
    runtime.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    // A finished task leaves the runtime's count just after its handle resolves.
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = scrape();
        if get(&text, "obs_tokio_alive_tasks") == idle || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(get(&text, "obs_tokio_alive_tasks"), idle, "{text}");
    let busy = get(&text, r#"obs_tokio_worker_busy_seconds_total{worker="0"}"#)
        + get(&text, r#"obs_tokio_worker_busy_seconds_total{worker="1"}"#);
    assert!(busy >= 0.25, "the workers were busy for {busy} s of a 300 ms spin");
    assert!(sample(&text, r#"obs_tokio_worker_park_total{worker="1"}"#).is_some(), "{text}");
}
