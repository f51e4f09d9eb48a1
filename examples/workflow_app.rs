//! A document pipeline as an observable workflow: fetch → parse → enrich (flaky,
//! retried, with a timeout) → store, many runs at once, with a deadline, an
//! occasional timeout and an occasional cancellation.
//!
//! ```text
//! cargo run -p obs-examples --example workflow_app
//! curl -s 127.0.0.1:9464/metrics | grep -E 'obs_(workflow|node|queue)_'
//! curl -s 127.0.0.1:9464/obs/workflows
//! curl -s 127.0.0.1:9464/obs/workflows/active
//! curl -s 127.0.0.1:9464/obs/hotspots      # where the time went, the errors, the blocking polls
//! curl -s 127.0.0.1:9464/obs/workflows/process_document/graph.mmd
//! curl -si 127.0.0.1:9464/health        # 503 while the document store is down (10 s of every 30 s)
//! curl -s 127.0.0.1:9464/obs/rules.yml  # recording, SLO burn-rate, standard and anomaly rules
//! curl -s 127.0.0.1:9464/obs/alertmanager.yml
//! curl -s 127.0.0.1:9464/obs/dashboard.json
//! OBS_OPS_WRITE=ops cargo run -p obs-examples --example workflow_app   # writes ops/*, exits 0
//! ```
//! `WORKFLOW_APP_RUNS=N` stops after N runs (for CI); otherwise it runs until stopped.
//! The workflow and the store step carry objectives, so the generated rules
//! page when the pipeline burns its error budget (the document store's
//! outages do that on purpose).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use obs_runtime::health::{DiskSpaceCheck, MemoryCheck, ShowDetails, TcpCheck, WorkflowSuccessCheck};
use obs_runtime::ops::Objective;
use obs_runtime::workflow::TimeoutError;
use obs_runtime::workflow::budget::{self, BudgetExceeded};
use obs_runtime::{ErrorKind, HealthCheck, node, workflow};

#[derive(Debug, ErrorKind)]
enum PipelineError {
    NotFound,
    Malformed,
    EnrichmentUnavailable,
    StoreUnavailable,
    Timeout(TimeoutError),
    Budget(BudgetExceeded),
}

impl std::fmt::Display for PipelineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineError::NotFound => f.write_str("document not found"),
            PipelineError::Malformed => f.write_str("document is malformed"),
            PipelineError::EnrichmentUnavailable => f.write_str("enrichment service unavailable"),
            PipelineError::StoreUnavailable => f.write_str("document store unavailable"),
            PipelineError::Timeout(e) => e.fmt(f),
            PipelineError::Budget(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PipelineError {}

impl From<TimeoutError> for PipelineError {
    fn from(e: TimeoutError) -> Self {
        PipelineError::Timeout(e)
    }
}

impl From<BudgetExceeded> for PipelineError {
    fn from(e: BudgetExceeded) -> Self {
        PipelineError::Budget(e)
    }
}

/// A cheap pseudo-random number per (document, salt), so runs vary without a dependency.
fn roll(id: u64, salt: u64) -> u64 {
    let mut x = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 31;
    x % 100
}

#[node]
async fn fetch(id: u64) -> Result<String, PipelineError> {
    tokio::time::sleep(Duration::from_millis(5 + roll(id, 1) / 4)).await;
    if roll(id, 2) < 3 { Err(PipelineError::NotFound) } else { Ok(format!("doc-{id}: lorem ipsum dolor sit amet")) }
}

#[node(skip(raw))]
async fn parse(id: u64, raw: String) -> Result<Vec<String>, PipelineError> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if roll(id, 5) < 4 {
        return Err(PipelineError::Malformed);
    }
    Ok(raw.split_whitespace().map(str::to_owned).collect())
}

fn is_transient(error: &PipelineError) -> bool {
    matches!(error, PipelineError::EnrichmentUnavailable | PipelineError::Timeout(_))
}

/// Flaky: fails transiently about a third of the time, and now and then hangs
/// past its timeout. Both are retried.
#[node(retries = 3, backoff = "20ms", max_backoff = "200ms", retry_if = is_transient, timeout = "150ms", skip(words))]
async fn enrich(id: u64, words: Vec<String>) -> Result<usize, PipelineError> {
    // A new roll per attempt, so a retry can succeed.
    static ATTEMPTS: AtomicU64 = AtomicU64::new(0);
    let dice = roll(id, ATTEMPTS.fetch_add(1, Ordering::Relaxed));
    if dice < 4 {
        tokio::time::sleep(Duration::from_secs(1)).await; // runs into the timeout
    }
    if dice < 33 {
        return Err(PipelineError::EnrichmentUnavailable);
    }
    budget::consume_tokens(words.len() as u64)?;
    tokio::time::sleep(Duration::from_millis(10 + dice / 5)).await;
    Ok(words.len())
}

/// The objective of every step that talks to the document store.
const STORAGE: Objective = Objective::new().success(99.0).latency_ms(100);

#[node(objective = STORAGE)]
async fn store(id: u64, tokens: usize) -> Result<(), PipelineError> {
    // A real network dependency: the document store must accept the connection.
    let addr = STORE.get().copied().ok_or(PipelineError::StoreUnavailable)?;
    let _connection = tokio::net::TcpStream::connect(addr).await.map_err(|_| PipelineError::StoreUnavailable)?;
    let _ = (id, tokens);
    Ok(())
}

/// Where the document store listens.
static STORE: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();

/// A local document store that is up for 20 s, then down for 10 s, and so on,
/// so that `/health` goes 200 → 503 → 200 and `store` errors while it is down.
/// `WORKFLOW_APP_STORE=down` keeps it down from the start.
fn start_document_store() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the document store");
    let addr = listener.local_addr().expect("store address");
    let always_down = std::env::var("WORKFLOW_APP_STORE").is_ok_and(|v| v == "down");
    std::thread::spawn(move || {
        let mut listener = if always_down { None } else { Some(listener) };
        loop {
            let up = listener.is_some();
            std::thread::sleep(Duration::from_secs(if up { 20 } else { 10 }));
            if !always_down {
                listener = match listener.take() {
                    Some(_closing) => None,
                    None => std::net::TcpListener::bind(addr).ok(),
                };
            }
        }
    });
    addr
}

/// The dependencies behind `/health`, `/health/ready` and `/health/{component}`.
#[derive(HealthCheck)]
struct PipelineHealth {
    /// Critical: while the store is down, readiness is 503.
    #[health(name = "document_store", timeout = "500ms")]
    store: TcpCheck,
    #[health(non_critical, liveness)]
    memory: MemoryCheck,
    #[health(non_critical)]
    disk: DiskSpaceCheck,
    /// Degraded while fewer than 90 % of the pipeline's runs of the last 10 minutes succeed.
    #[health(non_critical)]
    pipeline: WorkflowSuccessCheck,
}

#[workflow(deadline = "2s", max_hops = 8, max_tokens = 64, objective(success = 95, latency = "1s", percentile = 99))]
async fn process_document(id: u64) -> Result<(), PipelineError> {
    let raw = fetch(id).await?;
    let words = parse(id, raw).await?;
    let tokens = enrich(id, words).await?;
    store(id, tokens).await
}

#[tokio::main]
async fn main() {
    let store = *STORE.get_or_init(start_document_store);
    let health = PipelineHealth {
        store: TcpCheck::new(store.to_string()),
        memory: MemoryCheck::new(),
        disk: DiskSpaceCheck::new("/"),
        pipeline: WorkflowSuccessCheck::new("process_document").min_ratio(0.9).window(Duration::from_secs(600)),
    };
    let guard = obs_runtime::builder()
        .service_name("workflow_app")
        .health(health)
        // A local example: show each check's error and details without a token.
        .health_details(ShowDetails::Always)
        .runbook_url("https://runbooks.example/workflow_app/{alert}")
        .init()
        .expect("obs init");
    if let Some(addr) = guard.http_addr() {
        eprintln!("workflow_app: JSON logs on stdout; look at");
        eprintln!("  http://{addr}/metrics                (obs_workflow_*, obs_node_*, obs_queue_*, process_*)");
        eprintln!("  http://{addr}/obs/workflows          (learned shape with run and error counts)");
        eprintln!("  http://{addr}/obs/workflows/active   (runs in progress, node by node)");
        eprintln!("  http://{addr}/obs/hotspots           (ranked by total time, p99, errors, slow polls)");
        eprintln!("  http://{addr}/obs/workflows/process_document/graph.mmd   (Mermaid flowchart)");
        eprintln!("  http://{addr}/health                 (200, then 503 while the document store is down)");
        eprintln!(
            "  http://{addr}/obs/rules.yml          (generated Prometheus rules; also /obs/alertmanager.yml, /obs/dashboard.json)"
        );
    }
    let runs: u64 = std::env::var("WORKFLOW_APP_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
    // The intake hands document ids to the runner through a measured queue
    // (obs_queue_depth{queue="documents"}, obs_queue_wait_seconds, ...).
    let (intake, mut documents) = obs_runtime::queue::channel::<u64>("documents", 32);
    tokio::spawn(async move {
        for id in 0..runs {
            if intake.send(id).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    });
    let mut batch = tokio::task::JoinSet::new();
    while let Some(id) = documents.recv().await {
        if id % 10 == 9 {
            // Cancellation: the caller gives up on this run after 30 ms.
            batch.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_millis(30), process_document(id)).await;
            });
        } else {
            batch.spawn(async move {
                let _ = process_document(id).await;
            });
        }
        // Keep about 20 runs in flight.
        if batch.len() >= 20 {
            let _ = batch.join_next().await;
        }
    }
    while batch.join_next().await.is_some() {}
    eprintln!("workflow_app: {runs} runs done");
    for shape in obs_runtime::workflow::workflows() {
        eprintln!("{}", shape.to_mermaid());
    }
}
