//! Poll time against wall time: a function that blocks inside a poll is a slow
//! poll whose busy time is close to the blocking time, while its wall time also
//! holds the sleeps it awaited; one WARN line names it and the poll's duration;
//! `poll_metrics = false` opts a function out; a poll nested in another's is reported once. Read from the scrape text and
//! the JSON log lines, as a user sees them.

use std::time::Duration;

use obs_runtime::log::MemoryWriter;
use obs_runtime::{node, observe, workflow};

const BLOCK: Duration = Duration::from_millis(60);
const AWAITED: Duration = Duration::from_millis(200);
const THRESHOLD: Duration = Duration::from_millis(25);

/// Blocks its executor thread in its first poll, then awaits a timer (two polls at least).
#[observe]
async fn blocks_then_waits() {
    std::thread::sleep(BLOCK);
    tokio::time::sleep(AWAITED).await;
}

/// Ready on its first poll, which blocks.
#[observe]
async fn blocks_only() {
    std::thread::sleep(BLOCK);
}

/// Polls that stay short, however long the awaits.
#[observe]
async fn waits_only() {
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[observe(poll_metrics = false)]
async fn opted_out() {
    std::thread::sleep(BLOCK);
}

#[node]
async fn blocking_step() -> Result<(), std::io::Error> {
    std::thread::sleep(BLOCK);
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

#[workflow]
async fn blocking_flow() -> Result<(), std::io::Error> {
    blocking_step().await
}

/// The value of `name{function="…"…}` in the scrape.
fn sample(text: &str, name: &str, function: &str) -> Option<f64> {
    let prefix = format!("{name}{{function=\"{function}\",");
    text.lines().find(|l| l.starts_with(&prefix)).and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

fn get(text: &str, name: &str, function: &str) -> f64 {
    sample(text, name, function).unwrap_or_else(|| panic!("no {name} for {function} in:\n{text}"))
}

#[test]
fn blocking_inside_a_poll_is_a_slow_poll_and_busy_time_excludes_awaited_sleeps() {
    let logs = MemoryWriter::new();
    let guard = obs_runtime::builder()
        .service_name("poll-time")
        .log_writer(logs.clone())
        .without_http()
        .slow_poll_threshold(THRESHOLD)
        .init()
        .expect("init");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        blocks_then_waits().await;
        blocks_only().await;
        waits_only().await;
        opted_out().await;
        blocking_flow().await.unwrap();
    });
    let text = guard.render_metrics().expect("obs renders /metrics");
    let (block, awaited) = (BLOCK.as_secs_f64(), AWAITED.as_secs_f64());

    let busy = get(&text, "obs_function_poll_seconds_sum", "blocks_then_waits");
    let wall = get(&text, "obs_function_duration_seconds_sum", "blocks_then_waits");
    assert!((block..block + 0.02).contains(&busy), "busy {busy} s for a {block} s block");
    assert!(wall >= block + awaited, "wall {wall} s includes the {awaited} s awaited");
    assert_eq!(get(&text, "obs_function_poll_seconds_count", "blocks_then_waits"), 1.0, "one call");
    assert_eq!(get(&text, "obs_function_slow_polls_total", "blocks_then_waits"), 1.0);

    // A future ready on its first poll: that poll is the whole call.
    let busy = get(&text, "obs_function_poll_seconds_sum", "blocks_only");
    let wall = get(&text, "obs_function_duration_seconds_sum", "blocks_only");
    assert!(busy >= block && (wall - busy).abs() < 1e-6, "busy {busy} s, wall {wall} s");
    assert_eq!(get(&text, "obs_function_slow_polls_total", "blocks_only"), 1.0);

    let busy = get(&text, "obs_function_poll_seconds_sum", "waits_only");
    assert!(busy < 0.02, "busy {busy} s for polls that only set timers");
    assert!(get(&text, "obs_function_duration_seconds_sum", "waits_only") >= 0.06);
    assert_eq!(get(&text, "obs_function_slow_polls_total", "waits_only"), 0.0);

    assert!(sample(&text, "obs_function_poll_seconds_sum", "opted_out").is_none(), "{text}");
    assert!(sample(&text, "obs_function_slow_polls_total", "opted_out").is_none(), "{text}");
    assert_eq!(get(&text, "obs_function_calls_total", "opted_out"), 1.0, "still counted as a call");

    // Nodes and workflows: the workflow's polls contain its node's.
    for name in ["blocking_step", "blocking_flow"] {
        assert_eq!(get(&text, "obs_function_slow_polls_total", name), 1.0, "{name}");
        let busy = get(&text, "obs_function_poll_seconds_sum", name);
        assert!((block..block + 0.02).contains(&busy), "{name}: busy {busy} s");
    }
    assert!(text.contains("# TYPE obs_function_poll_seconds histogram\n"), "{text}");
    assert!(text.contains("# TYPE obs_function_slow_polls_total counter\n"), "{text}");

    drop(guard);
    let warnings: Vec<serde_json::Value> =
        logs.lines().into_iter().filter(|l| l["event"].as_str().is_some_and(|e| e.ends_with(".slow_poll"))).collect();
    let names: Vec<&str> = warnings.iter().filter_map(|l| l["function"].as_str()).collect();
    // The workflow's poll that held the node's is counted for both (above) but
    // reported once, by the node that blocked.
    assert_eq!(names, ["blocks_then_waits", "blocks_only", "blocking_step"], "{warnings:#?}");
    for line in &warnings {
        assert_eq!(line["level"], "WARN", "{line}");
        let ms = line["poll_ms"].as_f64().expect("poll_ms");
        assert!((60.0..80.0).contains(&ms), "{line}");
        assert!(line["message"].as_str().unwrap().contains(line["function"].as_str().unwrap()), "{line}");
    }
}
