//! The workflow views the HTTP server serves: the learned shape as JSON and
//! as a Mermaid graph, and the runs in progress. Its own binary: it needs its own `init`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use obs_runtime::{node, workflow};

#[derive(Debug)]
struct Failed;
impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}
impl std::error::Error for Failed {}

#[node]
async fn fetch(id: u64) -> Result<u64, Failed> {
    Ok(id)
}

#[node]
async fn store(id: u64) -> Result<(), Failed> {
    if id == 2 { Err(Failed) } else { Ok(()) }
}

#[workflow]
async fn ingest(id: u64) -> Result<(), Failed> {
    let id = fetch(id).await?;
    store(id).await
}

/// A GET over a plain connection: the status code, the content type and the body.
fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let content_type = head.lines().find_map(|l| l.strip_prefix("content-type: ")).unwrap_or_default().to_owned();
    (status, content_type, body.to_owned())
}

impl From<obs_runtime::workflow::TimeoutError> for Failed {
    fn from(_: obs_runtime::workflow::TimeoutError) -> Self {
        Failed
    }
}

impl From<obs_runtime::workflow::budget::BudgetExceeded> for Failed {
    fn from(_: obs_runtime::workflow::budget::BudgetExceeded) -> Self {
        Failed
    }
}

/// Times out on its first attempt, then succeeds.
#[node(retries = 1, backoff = "1ms", timeout = "20ms")]
async fn slow_once(tries: &std::sync::atomic::AtomicU32) -> Result<(), Failed> {
    if tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    Ok(())
}

#[workflow(max_hops = 1)]
async fn settle(hops: u32) -> Result<(), Failed> {
    let tries = std::sync::atomic::AtomicU32::new(0);
    for _ in 0..hops {
        slow_once(&tries).await?;
    }
    Ok(())
}

#[workflow]
async fn parked(gate: std::sync::Arc<tokio::sync::Semaphore>) -> Result<(), Failed> {
    let _permit = gate.acquire().await;
    Ok(())
}

#[test]
fn the_server_shows_each_workflows_shape_and_404s_for_unknown_ones() {
    let guard = obs_runtime::builder()
        .http_addr("127.0.0.1:0".parse().unwrap())
        .install_subscriber(false)
        .init()
        .expect("init");
    let addr = guard.http_addr().expect("the server runs");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for id in 1..=3 {
        let _ = runtime.block_on(ingest(id));
    }

    let (status, content_type, body) = get(addr, "/obs/workflows");
    assert_eq!((status, content_type.as_str()), (200, "application/json"), "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let shape = json["workflows"].as_array().unwrap().iter().find(|w| w["name"] == "ingest").expect("ingest");
    assert_eq!(shape["runs"], 3, "{shape}");
    assert_eq!(shape["errors"], 1, "{shape}");
    assert_eq!(shape["graph"], "/obs/workflows/ingest/graph.mmd");
    let edge = shape["edges"].as_array().unwrap().iter().find(|e| e["from"] == "fetch").expect("fetch → store");
    assert_eq!((&edge["to"], &edge["runs"], &edge["errors"]), (&"store".into(), &3.into(), &1.into()), "{edge}");

    let (status, content_type, body) = get(addr, "/obs/workflows/active");
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["active"], serde_json::json!([]));

    let (status, content_type, body) = get(addr, "/obs/workflows/ingest/graph.mmd");
    assert_eq!((status, content_type.as_str()), (200, "text/vnd.mermaid; charset=utf-8"));
    assert!(body.starts_with("flowchart"), "{body}");
    assert!(body.contains("start([\"ingest (3 runs, 1 error)\"])"), "{body}");
    assert!(body.contains("n_fetch -->|\"3 runs, 1 error\"| n_store"), "{body}");

    // A timed-out attempt that was retried: in the graph, and on /metrics by outcome, not only in
    // the logs; a budget stop is counted apart from errors.
    runtime.block_on(settle(1)).unwrap();
    assert!(runtime.block_on(settle(2)).is_err());
    let (_, _, body) = get(addr, "/obs/workflows/settle/graph.mmd");
    assert!(body.contains("start([\"settle (2 runs, 1 budget stop)\"])"), "{body}");
    // Each run's first attempt timed out and was retried; the second run's second hop was stopped.
    assert!(body.contains("start -->|\"2 runs, 2 retries\"| n_slow_once"), "{body}");
    assert!(body.contains("n_slow_once -->|\"1 run, 1 budget stop\"| n_slow_once"), "{body}");
    let (_, _, metrics) = get(addr, "/metrics");
    let attempts = |outcome: &str| {
        let series = format!("obs_node_attempts_total{{workflow=\"settle\",node=\"slow_once\",outcome=\"{outcome}\"}}");
        metrics.lines().find_map(|l| l.strip_prefix(series.as_str())).map(|v| v.trim().to_owned())
    };
    assert_eq!(attempts("timeout").as_deref(), Some("2"), "{metrics}");
    assert_eq!(attempts("ok").as_deref(), Some("2"), "{metrics}");
    assert_eq!(attempts("budget_exceeded").as_deref(), Some("1"), "{metrics}");

    // Three runs in progress, two to a page: the first page links to the second.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let running = std::thread::spawn({
        let gate = gate.clone();
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let runs: Vec<_> = (0..3).map(|_| tokio::spawn(parked(gate.clone()))).collect();
                for run in runs {
                    run.await.unwrap().unwrap();
                }
            })
        }
    });
    let page = |path: &str| -> serde_json::Value {
        let (status, _, body) = get(addr, path);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while page("/obs/workflows/active")["total"] != 3 {
        assert!(std::time::Instant::now() < deadline, "runs did not start");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let first = page("/obs/workflows/active?limit=2");
    assert_eq!(first["active"].as_array().unwrap().len(), 2, "{first}");
    let next = first["next"].as_str().expect("a next page").to_owned();
    let second = page(&next);
    assert_eq!(second["active"].as_array().unwrap().len(), 1, "{second}");
    assert!(second["next"].is_null(), "{second}");
    let ids: Vec<_> = first["active"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["active"].as_array().unwrap())
        .map(|r| r["run_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first, each once: {ids:?}");
    let (status, _, _) = get(addr, "/obs/workflows/active?after=not-a-run-id");
    assert_eq!(status, 400);
    gate.add_permits(3);
    running.join().unwrap();

    let (status, _, body) = get(addr, "/obs/workflows/nope/graph.mmd");
    assert_eq!((status, body.as_str()), (404, "no workflow named \"nope\"\n"));
    let (status, _, body) = get(addr, "/nothing/here");
    assert_eq!((status, body.as_str()), (404, "not found\n"));
}
