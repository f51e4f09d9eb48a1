//! Workflow runs tracked in a real MLflow 3 tracking server, read back through
//! its REST API: each `#[workflow(mlflow(...))]` run is an MLflow run in its
//! experiment (created when missing; a deleted one is one error line), with its
//! params (Display, Debug, redacted, truncated), metric histories with their
//! steps (the application's, one `node.<name>.duration_s` per node attempt,
//! `tokens_consumed`, more points than one batch holds), the obs tags, its
//! artifacts and a registered model version, its status (`FINISHED`, `FAILED`,
//! `KILLED` when cancelled or still open at shutdown) and its trace, exported
//! over OTLP to the same server, linked to it.
//!
//! A second case stops the server in the middle of a run: the workflow still
//! succeeds without slowing down, what could not be sent is counted on
//! `/metrics` and logged once, and dropping the guard stays within its limit.
//!
//! Each case runs in a process of its own (`init` runs once per process).
//! Needs `mlflow` (scripts/install-test-deps.sh installs it into a venv).

mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use obs_runtime::workflow::budget::{self, BudgetExceeded};
use obs_runtime::{ErrorKind, mlflow, node, workflow};
use serde_json::{Value, json};
use support::mlflow::Mlflow;
use support::{MemoryWriter, free_port, http_get, run_child, sample};

#[test]
fn tracked_runs_reach_mlflow() {
    run_child("tracked");
}

#[test]
fn a_tracking_server_going_down_costs_the_workflow_nothing() {
    run_child("server_down");
}

#[test]
fn credentials_go_in_the_authorization_header_only() {
    run_child("credentials");
}

#[test]
fn child() {
    let Ok(case) = std::env::var("OBS_TEST_CHILD") else { return };
    match case.as_str() {
        "tracked" => tracked(),
        "server_down" => server_down(),
        "credentials" => credentials(),
        other => panic!("unknown case {other}"),
    }
    println!("case {case} passed");
}

// ---- the workflows ----

#[derive(Debug, ErrorKind)]
enum TrainError {
    Diverged,
    Flaky,
    Budget(BudgetExceeded),
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::Diverged => f.write_str("the loss diverged"),
            TrainError::Flaky => f.write_str("evaluation backend hiccup"),
            TrainError::Budget(e) => e.fmt(f),
        }
    }
}
impl std::error::Error for TrainError {}

impl From<BudgetExceeded> for TrainError {
    fn from(e: BudgetExceeded) -> Self {
        TrainError::Budget(e)
    }
}

#[derive(Debug)]
struct Config {
    layers: u32,
    api_key: &'static str,
}

#[node]
async fn epoch(n: u32, learning_rate: f64) -> Result<f64, TrainError> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    let loss = 1.0 / (1.0 + learning_rate * f64::from(n + 1));
    mlflow::log_metric("loss", loss, i64::from(n));
    budget::consume_tokens(10)?;
    Ok(loss)
}

/// How many more calls of `evaluate` fail before it succeeds.
static EVALUATE_FAILURES_LEFT: AtomicU32 = AtomicU32::new(1);

#[node(retries = 2, backoff = "5ms")]
async fn evaluate(loss: f64) -> Result<f64, TrainError> {
    if EVALUATE_FAILURES_LEFT.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok() {
        return Err(TrainError::Flaky);
    }
    Ok(1.0 - loss)
}

const LONG_NOTE_CHARS: usize = 7000;
const BATCH_POINTS: i64 = 1500;

#[workflow(max_tokens = 1000, mlflow(experiment = "churn-model", params(learning_rate, epochs, config: debug, api_token)))]
async fn train(
    learning_rate: f64,
    epochs: u32,
    config: Config,
    api_token: String,
    files: PathBuf,
) -> Result<f64, TrainError> {
    let _ = (config.layers, config.api_key, &api_token);
    mlflow::log_param("optimizer", "sgd");
    mlflow::log_param("notes", "n".repeat(LONG_NOTE_CHARS));
    let mut loss = f64::MAX;
    for n in 0..epochs {
        loss = epoch(n, learning_rate).await?;
    }
    // More points than one `runs/log-batch` may hold.
    for i in 0..BATCH_POINTS {
        mlflow::log_metric("batch_loss", 1.0 / (i + 1) as f64, i);
    }
    let accuracy = evaluate(loss).await?;
    mlflow::log_metric("accuracy", accuracy, 0);
    mlflow::log_artifact(files.join("metrics.json"));
    mlflow::log_artifact(files.join("plots"));
    mlflow::log_model(files.join("model"), "churn-classifier");
    Ok(accuracy)
}

#[workflow(mlflow(experiment = "churn-model"))]
async fn diverge() -> Result<(), TrainError> {
    mlflow::log_metric("loss", f64::INFINITY, 0);
    Err(TrainError::Diverged)
}

#[workflow(mlflow(experiment = "churn-model"))]
async fn stuck() {
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[workflow(mlflow(experiment = "retired"))]
async fn retired_job() {}

/// No experiment named: the builder's default.
#[workflow(mlflow)]
async fn nightly() {}

// ---- reading MLflow back ----

fn experiment_id(mlflow: &Mlflow, name: &str) -> String {
    let found = mlflow.get(&format!("/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}"));
    found["experiment"]["experiment_id"].as_str().expect("experiment id").to_owned()
}

/// The runs of `workflow` in the experiment, newest first.
fn runs_of(mlflow: &Mlflow, experiment: &str, workflow: &str) -> Vec<Value> {
    let body = json!({
        "experiment_ids": [experiment],
        "filter": format!("tags.`obs.workflow` = '{workflow}'"),
        "run_view_type": "ALL",
    });
    let found = mlflow.post("/api/2.0/mlflow/runs/search", &body);
    found["runs"].as_array().cloned().unwrap_or_default()
}

/// Waits until the one run of `workflow` has ended; returns `runs/get` of it.
fn ended_run(mlflow: &Mlflow, experiment: &str, workflow: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let runs = runs_of(mlflow, experiment, workflow);
        if let [run] = runs.as_slice()
            && run["info"]["status"] != "RUNNING"
        {
            let id = run["info"]["run_id"].as_str().unwrap();
            return mlflow.get(&format!("/api/2.0/mlflow/runs/get?run_id={id}"))["run"].clone();
        }
        assert!(Instant::now() < deadline, "the run of {workflow} never ended: {runs:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn entry<'a>(run: &'a Value, kind: &str, key: &str) -> Option<&'a str> {
    run["data"][kind].as_array()?.iter().find(|e| e["key"] == key)?["value"].as_str()
}

/// `(step, value)` of every point of the metric, in step order.
fn history(mlflow: &Mlflow, run_id: &str, key: &str) -> Vec<(i64, f64)> {
    let got =
        mlflow.get(&format!("/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={key}&max_results=25000"));
    let mut points: Vec<(i64, f64)> = got["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let step = m["step"].as_str().map_or_else(|| m["step"].as_i64().unwrap_or(0), |s| s.parse().unwrap());
            let value = m["value"].as_f64().unwrap_or(f64::NAN);
            assert!(
                m["timestamp"].as_str().map_or_else(|| m["timestamp"].as_i64().unwrap(), |t| t.parse().unwrap()) > 0
            );
            (step, value)
        })
        .collect();
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points
}

fn artifact_paths(mlflow: &Mlflow, run_id: &str, path: &str) -> Vec<(String, bool)> {
    let listed = mlflow.get(&format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path={path}"));
    listed["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| (f["path"].as_str().unwrap().to_owned(), f["is_dir"].as_bool().unwrap_or(false)))
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn millis(value: &Value) -> i64 {
    value.as_str().map_or_else(|| value.as_i64().expect("a time"), |t| t.parse().unwrap())
}

/// The model, a file and a directory the training run logs.
fn training_files(dir: &Path) {
    std::fs::create_dir_all(dir.join("plots")).unwrap();
    std::fs::create_dir_all(dir.join("model/weights")).unwrap();
    std::fs::write(dir.join("metrics.json"), r#"{"accuracy": 0.9}"#).unwrap();
    std::fs::write(dir.join("plots/loss.csv"), "epoch,loss\n0,0.95\n").unwrap();
    std::fs::write(dir.join("model/MLmodel"), "flavors: {}\n").unwrap();
    std::fs::write(dir.join("model/weights/layer0.bin"), [1u8, 2, 3, 4]).unwrap();
}

// ---- case: tracked ----

fn tracked() {
    let mlflow = Mlflow::start("tracking");
    let traces = mlflow.create_experiment("obs-traces");
    let retired = mlflow.create_experiment("retired");
    mlflow.post("/api/2.0/mlflow/experiments/delete", &json!({ "experiment_id": retired }));
    // The experiment the training run goes to exists already (reused); `nightly-default` does not (created).
    let churn = mlflow.create_experiment("churn-model");
    let files = std::env::temp_dir().join(format!("obs-mlflow-files-{}", std::process::id()));
    training_files(&files);

    let logs = MemoryWriter::default();
    let http = free_port();
    let guard = obs_runtime::builder()
        .service_name("trainer")
        .service_version("1.2.3")
        .log_writer(logs.clone())
        .http_addr(format!("127.0.0.1:{http}").parse().unwrap())
        .otlp_endpoint(format!("http://{}", mlflow.addr))
        .otlp_header("x-mlflow-experiment-id", traces.clone())
        .otlp_batch_delay(Duration::from_millis(100))
        .mlflow_tracking_uri(format!("http://{}", mlflow.addr))
        .mlflow_experiment("nightly-default")
        .init()
        .expect("init");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let before = now_ms();
    let config = Config { layers: 2, api_key: "sk-live-123" };
    let accuracy = runtime.block_on(train(0.5, 3, config, "tok-secret-456".into(), files.clone()));
    let after = now_ms();
    assert!(accuracy.is_ok(), "{accuracy:?}");
    assert!(runtime.block_on(diverge()).is_err());
    let cancelled = runtime.block_on(async { tokio::time::timeout(Duration::from_millis(100), stuck()).await });
    assert!(cancelled.is_err(), "stuck() is cancelled by the timeout");
    runtime.block_on(retired_job());
    runtime.block_on(retired_job());
    runtime.block_on(nightly());

    // ---- the training run ----
    let run = ended_run(&mlflow, &churn, "train");
    let info = &run["info"];
    let run_id = info["run_id"].as_str().unwrap().to_owned();
    assert_eq!(info["status"], "FINISHED", "{run:#}");
    let (start, end) = (millis(&info["start_time"]), millis(&info["end_time"]));
    assert!(before <= start && start <= end && end <= after + 1000, "{before} <= {start} <= {end} <= {after}");

    assert_eq!(entry(&run, "params", "learning_rate"), Some("0.5"));
    assert_eq!(entry(&run, "params", "epochs"), Some("3"));
    assert_eq!(entry(&run, "params", "optimizer"), Some("sgd"));
    let config = entry(&run, "params", "config").expect("config param");
    assert!(config.starts_with("Config { layers: 2"), "{config}");
    assert!(!config.contains("sk-live"), "a credential-like field inside a Debug param is redacted: {config}");
    assert_eq!(entry(&run, "params", "api_token"), Some("[redacted]"));
    let notes = entry(&run, "params", "notes").expect("notes param");
    assert_eq!(notes.chars().count(), 6000, "cut to MLflow's 6000 characters");
    assert!(notes.ends_with("...[truncated]"), "and marked");
    let text = format!("{run}");
    assert!(!text.contains("tok-secret") && !text.contains("sk-live"));

    // Tags: the ids a reader finds in the logs and the trace.
    let start_line = logs.lines().into_iter().find(|l| l["event"] == "workflow.start" && l["workflow"] == "train");
    let start_line = start_line.expect("workflow.start line of train");
    assert_eq!(entry(&run, "tags", "obs.workflow_run_id"), start_line["run_id"].as_str());
    let trace_id = start_line["trace_id"].as_str().expect("trace id");
    assert_eq!(entry(&run, "tags", "obs.trace_id"), Some(trace_id));
    assert_eq!(entry(&run, "tags", "obs.workflow"), Some("train"));
    assert_eq!(entry(&run, "tags", "service.name"), Some("trainer"));
    assert_eq!(entry(&run, "tags", "service.version"), Some("1.2.3"));
    assert!(entry(&run, "tags", "host.name").is_some_and(|h| !h.is_empty()));
    assert_eq!(entry(&run, "tags", "mlflow.runName"), Some("train"));

    // Metric histories with their steps.
    let loss = history(&mlflow, &run_id, "loss");
    assert_eq!(loss.iter().map(|p| p.0).collect::<Vec<_>>(), [0, 1, 2], "{loss:?}");
    assert!(loss[0].1 > loss[1].1 && loss[1].1 > loss[2].1, "{loss:?}");
    let batch = history(&mlflow, &run_id, "batch_loss");
    assert_eq!(batch.len(), BATCH_POINTS as usize);
    assert!(batch.iter().enumerate().all(|(i, p)| p.0 == i as i64));
    let epochs = history(&mlflow, &run_id, "node.epoch.duration_s");
    assert_eq!(epochs.len(), 3, "one point per epoch node: {epochs:?}");
    assert!(epochs.iter().all(|&(step, secs)| step == 1 && (0.002..5.0).contains(&secs)), "{epochs:?}");
    let evaluate = history(&mlflow, &run_id, "node.evaluate.duration_s");
    assert_eq!(evaluate.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2], "the attempt is the step: {evaluate:?}");
    assert_eq!(history(&mlflow, &run_id, "tokens_consumed"), [(0, 30.0)]);
    assert_eq!(history(&mlflow, &run_id, "accuracy").len(), 1);

    // Artifacts: a file, a directory, the model.
    let root = artifact_paths(&mlflow, &run_id, "");
    for expected in [("metrics.json", false), ("plots", true), ("model", true)] {
        assert!(root.contains(&(expected.0.to_owned(), expected.1)), "{expected:?} in {root:?}");
    }
    assert_eq!(artifact_paths(&mlflow, &run_id, "plots"), [("plots/loss.csv".to_owned(), false)]);
    let model = artifact_paths(&mlflow, &run_id, "model");
    assert_eq!(model, [("model/MLmodel".to_owned(), false), ("model/weights".to_owned(), true)]);
    let (status, csv) = http_get(mlflow.addr, &format!("/get-artifact?path=plots/loss.csv&run_uuid={run_id}")).unwrap();
    assert_eq!((status, csv.as_str()), (200, "epoch,loss\n0,0.95\n"));

    // The model registry: a registered model with a version from this run.
    let registered = mlflow.get("/api/2.0/mlflow/registered-models/get?name=churn-classifier");
    assert_eq!(registered["registered_model"]["name"], "churn-classifier");
    let versions = mlflow.get("/api/2.0/mlflow/model-versions/search?filter=name%3D%27churn-classifier%27");
    let versions = versions["model_versions"].as_array().cloned().unwrap_or_default();
    assert_eq!(versions.len(), 1, "{versions:#?}");
    assert_eq!(versions[0]["version"], "1");
    assert_eq!(versions[0]["run_id"], run_id.as_str());
    assert!(versions[0]["source"].as_str().unwrap().ends_with(&format!("{run_id}/artifacts/model")), "{versions:#?}");

    // The trace of the run, exported over OTLP, is linked to the run.
    let deadline = Instant::now() + Duration::from_secs(120);
    let filter = format!("run_id%20%3D%20%27{run_id}%27");
    loop {
        let listed = mlflow.get(&format!("/api/2.0/mlflow/traces?experiment_ids={traces}&filter={filter}"));
        let ids: Vec<&str> = listed["traces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["request_id"].as_str().or(t["trace_id"].as_str()))
            .collect();
        if ids.contains(&format!("tr-{trace_id}").as_str()) {
            assert_eq!(ids.len(), 1, "only the run's own trace: {ids:?}");
            break;
        }
        assert!(Instant::now() < deadline, "trace tr-{trace_id} never listed for run {run_id}: {listed:#}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // ---- the other runs ----
    let failed = ended_run(&mlflow, &churn, "diverge");
    assert_eq!(failed["info"]["status"], "FAILED");
    let diverge_id = failed["info"]["run_id"].as_str().unwrap();
    let infinite = mlflow.get(&format!("/api/2.0/mlflow/metrics/get-history?run_id={diverge_id}&metric_key=loss"));
    // Sent as protobuf JSON's "Infinity"; the store keeps the largest double.
    assert!(infinite["metrics"][0]["value"].as_f64().is_some_and(|v| v >= f64::MAX), "{infinite}");
    assert_eq!(ended_run(&mlflow, &churn, "stuck")["info"]["status"], "KILLED");
    let nightly_experiment = experiment_id(&mlflow, "nightly-default");
    assert_eq!(ended_run(&mlflow, &nightly_experiment, "nightly")["info"]["status"], "FINISHED");
    assert!(runs_of(&mlflow, &retired, "retired_job").is_empty());
    let deleted: Vec<Value> = logs.lines().into_iter().filter(|l| l["event"] == "mlflow.experiment_deleted").collect();
    assert_eq!(deleted.len(), 1, "said once for two runs: {deleted:#?}");
    assert_eq!(deleted[0]["level"], "ERROR");
    assert!(deleted[0]["message"].as_str().unwrap().contains("`retired`"), "{:#}", deleted[0]);

    let (_, scrape) = http_get(format!("127.0.0.1:{http}").parse().unwrap(), "/metrics").unwrap();
    let exported = sample(&scrape, "obs_exporter_exported_spans_total", &[("signal", "mlflow")]);
    assert!(exported.is_some_and(|n| n > 1500.0), "{exported:?}");
    assert_eq!(sample(&scrape, "obs_exporter_dropped_spans_total", &[("signal", "mlflow")]).unwrap_or(0.0), 0.0);

    // ---- a run still open at shutdown ends KILLED ----
    let open = runtime.spawn(stuck());
    let deadline = Instant::now() + Duration::from_secs(120);
    while runs_of(&mlflow, &churn, "stuck").len() < 2 {
        assert!(Instant::now() < deadline, "the second stuck run never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let stopping = Instant::now();
    drop(guard);
    assert!(stopping.elapsed() < Duration::from_secs(6), "shutdown took {:?}", stopping.elapsed());
    let runs = runs_of(&mlflow, &churn, "stuck");
    assert!(runs.iter().all(|r| r["info"]["status"] == "KILLED"), "{runs:#?}");
    assert!(runs.iter().all(|r| r["info"]["end_time"].is_string() || r["info"]["end_time"].is_i64()));
    open.abort();
    drop(runtime);
    let _ = std::fs::remove_dir_all(&files);
}

// ---- case: the server goes down mid-run ----

static SERVER: Mutex<Option<Mlflow>> = Mutex::new(None);
static LOGS: std::sync::OnceLock<MemoryWriter> = std::sync::OnceLock::new();

#[node]
async fn warm_up(n: u32) -> u32 {
    mlflow::log_metric("warm_up", f64::from(n), i64::from(n));
    n + 1
}

#[node]
async fn step(n: u32) -> u32 {
    mlflow::log_metric("step", f64::from(n), i64::from(n));
    n + 1
}

#[workflow(mlflow(experiment = "outage", params(points)))]
async fn outage(points: i64) -> Duration {
    let mut n = 0;
    for _ in 0..3 {
        n = warm_up(n).await;
    }
    // The run exists on the server; then the server goes away.
    let mlflow = SERVER.lock().unwrap().take().expect("server");
    let deadline = Instant::now() + Duration::from_secs(120);
    let created =
        |mlflow: &Mlflow| match http_get(mlflow.addr, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=outage")
        {
            Ok((200, _)) => !runs_of(mlflow, &experiment_id(mlflow, "outage"), "outage").is_empty(),
            _ => false,
        };
    while !created(&mlflow) {
        assert!(Instant::now() < deadline, "the outage run never reached the server: {}", LOGS.get().unwrap().text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(mlflow);
    let started = Instant::now();
    for i in 0..points {
        mlflow::log_metric("after_outage", i as f64, i);
    }
    for _ in 0..5 {
        n = step(n).await;
    }
    let _ = n;
    started.elapsed()
}

fn server_down() {
    *SERVER.lock().unwrap() = Some(Mlflow::start("down"));
    let addr = SERVER.lock().unwrap().as_ref().unwrap().addr;
    let logs = LOGS.get_or_init(MemoryWriter::default).clone();
    let http: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let guard = obs_runtime::builder()
        .service_name("trainer")
        .log_writer(logs.clone())
        .http_addr(http)
        .mlflow_tracking_uri(format!("http://{addr}"))
        .mlflow_retry_for(Duration::from_secs(1))
        .mlflow_timeout(Duration::from_secs(60))
        .mlflow_queue_size(16)
        .mlflow_shutdown_timeout(Duration::from_secs(2))
        .init()
        .expect("init");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let after_outage = runtime.block_on(outage(2000));
    // 2000 metric points and five nodes with the server gone: nothing waits for it.
    assert!(after_outage < Duration::from_millis(500), "the workflow slowed down: {after_outage:?}");

    // Every item logged after the outage is counted, once: 2000 points, five nodes (a
    // metric and a duration each), the run's end. The warm-up's items may still have been
    // queued (a loaded CI run counted 7 of them); counting twice would add thousands.
    let (after, at_most) = (2000.0 + 10.0 + 1.0, 2000.0 + 10.0 + 1.0 + 16.0);
    let deadline = Instant::now() + Duration::from_secs(120);
    let (dropped, failed) = loop {
        let (_, scrape) = http_get(http, "/metrics").unwrap();
        let dropped = sample(&scrape, "obs_exporter_dropped_spans_total", &[("signal", "mlflow")]).unwrap_or(0.0);
        let failed = sample(&scrape, "obs_exporter_failed_spans_total", &[("signal", "mlflow")]).unwrap_or(0.0);
        if dropped > 0.0 && failed > 0.0 && dropped + failed >= after {
            break (dropped, failed);
        }
        assert!(Instant::now() < deadline, "not everything counted ({dropped} dropped, {failed} failed):\n{scrape}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(dropped + failed <= at_most, "counted once each: {dropped} + {failed}");

    let stopping = Instant::now();
    drop(guard);
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?} (limit 2 s)");
    drop(runtime);

    let lines = logs.lines();
    let errors: Vec<&Value> =
        lines.iter().filter(|l| l["event"] == "exporter.error" && l["signal"] == "mlflow").collect();
    assert_eq!(errors.len(), 1, "one line per interval: {errors:#?}");
    assert!(errors[0]["error"]["message"].as_str().unwrap().contains(&addr.to_string()), "{:#}", errors[0]);
    let drops: Vec<&Value> =
        lines.iter().filter(|l| l["event"] == "exporter.dropped" && l["signal"] == "mlflow").collect();
    assert_eq!(drops.len(), 1, "the full queue's drops, said once: {drops:#?}");
    let outage_end = lines.iter().find(|l| l["event"] == "workflow.success" && l["workflow"] == "outage");
    assert!(outage_end.is_some(), "the workflow succeeded");
}

// ---- case: credentials ----

#[workflow(mlflow(experiment = "secured"))]
async fn secured_job() {
    mlflow::log_metric("m", 1.0, 0);
}

/// A stand-in for a tracking server behind an authenticating proxy: records each
/// request's head, answers what obs needs to create a run, and fails `log-batch` with 500.
fn recording_server() -> (std::net::SocketAddr, std::sync::Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = std::sync::Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut head = String::new();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    let failing = head.starts_with("POST /api/2.0/mlflow/runs/log-batch");
                    seen.lock().unwrap().push(head);
                    let answer = r#"{"experiment":{"experiment_id":"1","lifecycle_stage":"active"},"run":{"info":{"run_id":"r1","artifact_uri":"mlflow-artifacts:/1/r1/artifacts"}}}"#;
                    let (status, text) = if failing { ("500 Internal Server Error", "{}") } else { ("200 OK", answer) };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    if writer.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, heads)
}

fn credentials() {
    let (addr, heads) = recording_server();
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("trainer")
        .log_writer(logs.clone())
        .without_http()
        .mlflow_tracking_uri(format!("http://trainer:s3cr%40t@{addr}"))
        .mlflow_retry_for(Duration::from_millis(200))
        .init()
        .expect("init");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(secured_job());
    drop(guard);

    let heads = heads.lock().unwrap().clone();
    assert!(heads.iter().any(|h| h.starts_with("POST /api/2.0/mlflow/runs/create")), "{heads:#?}");
    assert!(heads.iter().any(|h| h.starts_with("POST /api/2.0/mlflow/runs/update")), "{heads:#?}");
    // Basic base64("trainer:s3cr@t"), on every request; the URL carries no userinfo.
    let basic = "authorization: Basic dHJhaW5lcjpzM2NyQHQ=";
    assert!(heads.iter().all(|h| h.to_ascii_lowercase().contains(&basic.to_ascii_lowercase())), "{heads:#?}");
    assert!(heads.iter().all(|h| !h.contains("s3cr")), "{heads:#?}");
    let text = logs.text();
    let failure = logs.lines().into_iter().find(|l| l["event"] == "exporter.error" && l["signal"] == "mlflow");
    assert!(failure.is_some_and(|l| l["error"]["message"].as_str().unwrap().contains("HTTP 500")), "{text}");
    assert!(!text.contains("s3cr") && !text.contains("dHJhaW5lcjpzM2NyQHQ"), "a credential in the logs: {text}");
}
