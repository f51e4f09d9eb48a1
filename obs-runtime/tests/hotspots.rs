//! `GET /obs/hotspots` over real HTTP: a deliberately slow function ranks
//! first by total time and by p99, a failing node first by error ratio, and a
//! function that blocks its executor first by slow polls.

mod support;

use std::time::Duration;

use obs_runtime::{node, observe, workflow};
use support::{json, request};

#[observe]
async fn deliberately_slow() {
    tokio::time::sleep(Duration::from_millis(120)).await;
}

#[observe]
async fn quick(x: u64) -> u64 {
    x + 1
}

#[observe]
async fn blocks_once() {
    std::thread::sleep(Duration::from_millis(40));
}

#[node]
async fn always_fails() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("down"))
}

#[workflow]
async fn failing_flow() -> Result<(), std::io::Error> {
    always_fails().await
}

fn names(answer: &serde_json::Value, ranking: &str) -> Vec<String> {
    let entries = answer[ranking].as_array().unwrap_or_else(|| panic!("no {ranking} in {answer}"));
    entries.iter().map(|e| e["function"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_deliberately_slow_function_ranks_first() {
    let guard = obs_runtime::builder()
        .log_writer(std::io::sink)
        .slow_poll_threshold(Duration::from_millis(20))
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let http = guard.http_addr().expect("http server");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for _ in 0..3 {
            deliberately_slow().await;
        }
        for x in 0..200 {
            quick(x).await;
        }
        blocks_once().await;
        for _ in 0..2 {
            let _ = failing_flow().await;
        }
    });

    let (status, body) = request(http, "GET", "/obs/hotspots", &[], "");
    assert_eq!(status, 200, "{body}");
    let answer = json(&body);
    assert!(answer["window_seconds"].as_f64().unwrap() > 0.3, "{answer}");

    assert_eq!(names(&answer, "by_total_time")[0], "deliberately_slow", "{answer:#}");
    assert_eq!(names(&answer, "by_p99")[0], "deliberately_slow", "{answer:#}");
    let slow = &answer["by_total_time"][0];
    assert_eq!(slow["calls"], 3);
    assert_eq!(slow["kind"], "function");
    let total = slow["total_seconds"].as_f64().unwrap();
    assert!((0.36..0.6).contains(&total), "{slow}");
    // 120 ms calls fall in the (0.1, 0.25] bucket of the default bounds.
    let p99 = slow["p99_seconds"].as_f64().unwrap();
    assert!(p99 > 0.1 && p99 <= 0.25, "{slow}");
    assert_eq!(slow["error_ratio"], 0.0);

    let errors = &answer["by_error_ratio"];
    let failing: Vec<String> = names(&answer, "by_error_ratio");
    assert_eq!(failing.len(), 2, "only the node and its workflow failed: {errors:#}");
    assert!(failing.contains(&"always_fails".to_owned()) && failing.contains(&"failing_flow".to_owned()), "{errors:#}");
    for entry in errors.as_array().unwrap() {
        assert_eq!(entry["error_ratio"], 1.0, "{entry}");
        assert_eq!(entry["calls"], 2, "{entry}");
    }
    let node = errors.as_array().unwrap().iter().find(|e| e["function"] == "always_fails").unwrap();
    assert_eq!(node["kind"], "node");

    assert_eq!(names(&answer, "by_slow_polls"), ["blocks_once"], "{answer:#}");
    assert_eq!(answer["by_slow_polls"][0]["slow_polls"], 1);

    // quick ran 200 times: in the rankings by time, never first.
    assert!(names(&answer, "by_total_time").contains(&"quick".to_owned()));

    // Node and workflow series feed the hotspots only: /metrics keeps their own families.
    let (_, metrics) = request(http, "GET", "/metrics", &[], "");
    assert!(!metrics.contains(r#"obs_function_calls_total{function="always_fails""#), "{metrics}");
    assert!(metrics.contains(r#"obs_node_runs_total{"#), "{metrics}");
}
