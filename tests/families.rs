//! The metric-family table is the whole truth: an app that exercises every
//! kind of metric obs emits (functions, errors and their overflow, workflows,
//! nodes, budgets, health checks, `HttpLayer`, the OTLP exporter and its tail
//! buffer, poll time, a queue, a tokio runtime, the process) scrapes exactly the families of `obs_runtime::metrics::families()`,
//! each with the table's type, help text and labels; and the README lists
//! every one of them.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use obs_runtime::export::otlp::TraceSampler;
use obs_runtime::health::{Check, CheckResult};
use obs_runtime::metrics::{Family, families};
use obs_runtime::trace::HttpLayer;
use obs_runtime::{ErrorKind, HealthCheck, node, observe, workflow};
use support::{MemoryWriter, http_get};

#[derive(Debug)]
struct Coded(usize);

const KINDS: [&str; 3] = ["a", "b", "c"];

impl ErrorKind for Coded {
    fn kind(&self) -> &'static str {
        KINDS[self.0]
    }
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "code {}", self.0)
    }
}

impl std::error::Error for Coded {}

impl From<obs_runtime::workflow::budget::BudgetExceeded> for Coded {
    fn from(_: obs_runtime::workflow::budget::BudgetExceeded) -> Self {
        Coded(0)
    }
}

#[observe]
fn lookup(id: u64) -> u64 {
    id + 1
}

#[observe]
fn fails_with(code: usize) -> Result<(), Coded> {
    Err(Coded(code))
}

#[node(retries = 1, backoff = "1ms")]
async fn flaky(attempts: &std::sync::atomic::AtomicU32) -> Result<u64, Coded> {
    if attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 { Err(Coded(1)) } else { Ok(1) }
}

#[node]
async fn hop() -> Result<(), Coded> {
    Ok(())
}

#[workflow]
async fn pipeline() -> Result<u64, Coded> {
    let attempts = std::sync::atomic::AtomicU32::new(0);
    flaky(&attempts).await
}

#[workflow(max_hops = 1)]
async fn too_many_hops() -> Result<(), Coded> {
    hop().await?;
    hop().await
}

struct Up;

impl Check for Up {
    async fn check(&self) -> CheckResult {
        CheckResult::healthy()
    }
}

#[derive(HealthCheck)]
struct AppHealth {
    db: Up,
}

#[observe]
async fn stock() -> String {
    "7".to_owned()
}

/// What a scrape says of one family: its `# TYPE`, its `# HELP` and the label names on its samples.
#[derive(Debug, Default)]
struct Scraped {
    kind: String,
    help: String,
    labels: BTreeSet<String>,
}

fn scraped_families(text: &str) -> BTreeMap<String, Scraped> {
    let mut families = BTreeMap::<String, Scraped>::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            families.entry(name.to_owned()).or_default().kind = kind.to_owned();
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("# HELP name text");
            families.entry(name.to_owned()).or_default().help = help.to_owned();
        } else if !line.is_empty() && !line.starts_with('#') {
            let series = line.rsplit_once(' ').map_or(line, |(series, _)| series);
            let (metric, labels) = series.split_once('{').unwrap_or((series, ""));
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| metric.strip_suffix(suffix).filter(|f| families.contains_key(*f)))
                .unwrap_or(metric);
            let names = labels.split(',').filter_map(|pair| pair.split_once("=\"")).map(|(k, _)| k.to_owned());
            families.entry(family.to_owned()).or_default().labels.extend(names);
        }
    }
    families
}

#[test]
fn every_family_a_scrape_shows_is_in_the_table_with_its_type_help_and_labels() {
    // Nothing listens here: the exporter's families exist (at zero or counting failures) all the same.
    let dead: SocketAddr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("families")
        .log_writer(logs.clone())
        .max_series_per_metric(2)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .health(AppHealth { db: Up })
        .otlp_endpoint(format!("http://{dead}"))
        .otlp_batch_delay(Duration::from_millis(20))
        .otlp_timeout(Duration::from_millis(200))
        .otlp_logs(true)
        .trace_sampler(TraceSampler::ParentBasedRatio(0.0))
        .keep_error_traces(true)
        .init()
        .expect("init");

    assert_eq!(lookup(1), 2);
    // Its panic counter registers at zero (a panicking callback shows no family of its own).
    obs_runtime::metrics::gauge_fn("families_gauge", &[], || panic!("no value"));
    obs_runtime::circuit::record("families", obs_runtime::circuit::CircuitState::Closed);
    obs_runtime::circuit::record("families", obs_runtime::circuit::CircuitState::Open);
    obs_runtime::security::event(obs_runtime::security::SecurityEvent::authentication("families").success());
    // An open trail shows its error counter, at zero.
    let trail_dir = std::env::temp_dir().join(format!("obs-families-audit-{}", std::process::id()));
    std::fs::create_dir_all(&trail_dir).unwrap();
    let trail = obs_runtime::audit::AuditLog::open(trail_dir.join("audit.jsonl"), Default::default()).unwrap();
    trail.record("families", "read", "table", "success").unwrap();
    std::fs::remove_dir_all(&trail_dir).unwrap();
    let (tx, mut rx) = obs_runtime::queue::channel::<u8>("families", 1);
    tx.try_send(1).unwrap();
    assert!(tx.try_send(2).is_err(), "full");
    assert_eq!(rx.try_recv(), Ok(1));
    for code in 0..KINDS.len() {
        let _ = fails_with(code);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    obs_runtime::metrics::watch_tokio_runtime(runtime.handle());
    runtime.block_on(async {
        assert_eq!(pipeline().await.unwrap(), 1);
        assert!(too_many_hops().await.is_err());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/stock", get(stock)).layer(HttpLayer::new());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/stock").unwrap()).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "7"));
    });
    let http = guard.http_addr().expect("http server");
    let (status, _) = http_get(http, "/health").unwrap();
    assert_eq!(status, 200);

    let (_, text) = http_get(http, "/metrics").unwrap();
    let scraped = scraped_families(&text);
    for (name, family) in &scraped {
        let declared: &Family = obs_runtime::metrics::find("obs", name)
            .unwrap_or_else(|| panic!("{name} is on /metrics but not in the family table:\n{text}"));
        assert_eq!(family.kind, declared.metric_type().as_str(), "# TYPE of {name}");
        assert_eq!(family.help, declared.help(), "# HELP of {name}");
        let mut allowed: BTreeSet<String> = declared.labels().iter().map(|l| l.to_string()).collect();
        if family.kind == "histogram" {
            allowed.insert("le".to_owned());
        }
        if name == "target_info" {
            // Its labels are the resource's attributes, whatever they are.
            continue;
        }
        assert!(family.labels.is_subset(&allowed), "{name} has labels {:?}, the table says {allowed:?}", family.labels);
    }
    let missing: Vec<String> =
        families().iter().map(|f| f.default_name()).filter(|name| !scraped.contains_key(name)).collect();
    assert!(missing.is_empty(), "the app exercises every family, yet the scrape lacks {missing:?}:\n{text}");
    assert!(!logs.lines().is_empty(), "the app logged");
}

#[test]
fn the_readme_lists_every_family() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
    let words: BTreeSet<&str> =
        readme.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    let missing: Vec<String> =
        families().iter().map(|f| f.default_name()).filter(|name| !words.contains(name.as_str())).collect();
    assert!(missing.is_empty(), "README.md does not list {missing:?}");
}
