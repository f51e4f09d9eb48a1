//! The tracking worker: reads the queue the application's calls fill, keeps
//! each workflow run's MLflow run id and what waits to be sent, and sends it
//! in batches. One thread, its own current-thread runtime; a server that is
//! down costs the application nothing but what the bounded queue drops.
//!
//! Every request is retried with backoff (100 ms doubling to 2 s) for at most
//! `retry_for`; once the server was found unavailable, requests are tried once
//! until one succeeds again, so a down server drains the queue quickly instead
//! of holding each item for the whole retry time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_http::Bytes;
use serde_json::{Value, json};

use super::client::{Client, Failure};
use super::limits::{self, fit};
use super::{Op, Start, now_ms};
use crate::workflow::RunId;

/// The most runs kept open at once: a run whose end was dropped (a full queue)
/// would otherwise be kept until shutdown; past this, new runs are not tracked.
const MAX_OPEN_RUNS: usize = 10_000;

/// The counters of tracking, `signal="mlflow"`.
pub(crate) struct Counters {
    pub exported: metrics::Counter,
    pub failed: metrics::Counter,
    /// Items the full queue dropped since the last line said so (the sink counts them too).
    pub dropped_unlogged: Arc<AtomicU64>,
}

/// What the worker needs besides the client.
pub(crate) struct Options {
    pub default_experiment: Option<String>,
    pub tags: Vec<(&'static str, String)>,
    pub retry_for: Duration,
    pub error_log_interval: Duration,
    /// How often what waits is sent when the queue is quiet.
    pub flush_every: Duration,
}

/// Set by the exporter's shutdown: the worker sends what is queued, ends the
/// runs still open as `KILLED` and returns by the deadline.
#[derive(Default)]
pub(crate) struct Stopping {
    asked: AtomicBool,
    deadline: Mutex<Option<Instant>>,
}

impl Stopping {
    pub(crate) fn ask(&self, deadline: Instant) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(deadline);
        self.asked.store(true, Ordering::Release);
    }

    fn asked(&self) -> bool {
        self.asked.load(Ordering::Acquire)
    }

    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One request, kept so that it can be sent again.
enum Request {
    Post(&'static str, Value),
    Get(String),
    /// The file's bytes, shared by each retry of the request rather than copied.
    Put(String, Bytes),
}

/// A workflow run the server knows, and what waits to be sent for it.
struct Tracked {
    id: String,
    artifact_uri: String,
    params: Vec<Value>,
    metrics: Vec<Value>,
    /// The value each param key was logged with (MLflow refuses to change one).
    logged: HashMap<String, String>,
}

pub(crate) struct Tracker {
    client: Client,
    runtime: tokio::runtime::Runtime,
    options: Options,
    counters: Counters,
    stopping: Arc<Stopping>,
    /// Experiment name → id; `None` for one that cannot be used (deleted), said once.
    experiments: HashMap<String, Option<String>>,
    runs: HashMap<RunId, Tracked>,
    /// The last request found the server unavailable.
    down: bool,
    errors: ErrorLog,
    /// When the full queue's drops were last said.
    drops_said: Option<Instant>,
}

impl Tracker {
    pub(crate) fn new(
        client: Client,
        runtime: tokio::runtime::Runtime,
        options: Options,
        counters: Counters,
        stopping: Arc<Stopping>,
    ) -> Tracker {
        let errors = ErrorLog {
            host: client.connection.host.clone(),
            interval: options.error_log_interval,
            last: None,
            suppressed: 0,
            failing: false,
        };
        Tracker {
            client,
            runtime,
            options,
            counters,
            stopping,
            experiments: HashMap::new(),
            runs: HashMap::new(),
            down: false,
            errors,
            drops_said: None,
        }
    }

    /// The worker's loop, until shutdown is asked and what was queued is sent.
    pub(crate) fn run(mut self, queue: Receiver<Op>) {
        let mut last_flush = Instant::now();
        loop {
            match queue.recv_timeout(self.options.flush_every.min(Duration::from_millis(100))) {
                Ok(op) => self.handle(op),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.stopping.asked() {
                break;
            }
            if last_flush.elapsed() >= self.options.flush_every {
                self.flush_all();
                self.report_drops();
                last_flush = Instant::now();
            }
        }
        // Shutting down: what is queued, then every run still open ends as KILLED.
        while let Ok(op) = queue.try_recv() {
            if self.past_deadline() {
                self.counters.failed.increment(op.items());
                continue;
            }
            self.handle(op);
        }
        let open: Vec<RunId> = self.runs.keys().copied().collect();
        for run in open {
            self.end(run, "KILLED", now_ms(), None);
        }
        self.report_drops();
    }

    fn past_deadline(&self) -> bool {
        self.stopping.deadline().is_some_and(|deadline| Instant::now() >= deadline)
    }

    fn handle(&mut self, op: Op) {
        match op {
            Op::Start(start) => self.start(*start),
            Op::Param { run, key, value } => match self.runs.get_mut(&run) {
                Some(tracked) => {
                    if let Some(refused) = add_param(tracked, key, value) {
                        self.counters.failed.increment(1);
                        self.errors.warn(&format!(
                            "param `{refused}` was already logged with another value; MLflow keeps the first"
                        ));
                    }
                    if tracked.params.len() >= limits::MAX_PARAMS_PER_BATCH {
                        self.flush(run);
                    }
                }
                None => self.counters.failed.increment(1),
            },
            Op::Metric { run, key, value, step, timestamp_ms } => match self.runs.get_mut(&run) {
                Some(tracked) => {
                    tracked.metrics.push(metric(key, value, step, timestamp_ms));
                    if tracked.metrics.len() >= limits::MAX_METRICS_PER_BATCH {
                        self.flush(run);
                    }
                }
                None => self.counters.failed.increment(1),
            },
            Op::Artifact { run, path } => {
                let under = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                self.upload(run, &path, &under);
            }
            Op::Model { run, path, name } => self.model(run, &path, &name),
            Op::End { run, status, end_ms, tokens } => self.end(run, status, end_ms, Some(tokens)),
        }
    }

    /// Sends `request`, retrying while the server is unavailable, for at most
    /// `retry_for` (and never past the shutdown deadline).
    fn call(&mut self, request: &Request) -> Result<Value, Failure> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            // One request is bounded by the client's timeout, and by the shutdown deadline.
            let stop = self.stopping.deadline();
            let give_up = stop.map_or(started + self.options.retry_for, |d| d.min(started + self.options.retry_for));
            let limit = stop.map_or(Duration::from_secs(86_400), |d| {
                d.saturating_duration_since(Instant::now()).max(Duration::from_millis(50))
            });
            let client = &self.client;
            let sent = self.runtime.block_on(async {
                let exchange = async {
                    match request {
                        Request::Post(path, body) => client.post(path, body).await,
                        Request::Get(path) => client.get(path).await,
                        Request::Put(path, bytes) => client.put_artifact(path, bytes.clone()).await,
                    }
                };
                tokio::time::timeout(limit, exchange)
                    .await
                    .unwrap_or_else(|_| Err(Failure::Unavailable(format!("{}: timed out", client.connection.host))))
            });
            match sent {
                Ok(value) => {
                    self.down = false;
                    self.errors.recovered();
                    return Ok(value);
                }
                Err(Failure::Unavailable(_)) if !self.down && Instant::now() + backoff < give_up => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Err(failure) => {
                    if matches!(failure, Failure::Unavailable(_)) {
                        self.down = true;
                    }
                    return Err(failure);
                }
            }
        }
    }

    /// `items` were not taken: counted, and said at most once per interval.
    fn failed(&mut self, items: u64, what: &str, failure: &Failure) {
        self.counters.failed.increment(items);
        self.errors.failed(items, what, failure);
    }

    /// The experiment's id: found by name, created when missing.
    fn experiment(&mut self, name: &str) -> Result<Option<String>, Failure> {
        if let Some(known) = self.experiments.get(name) {
            return Ok(known.clone());
        }
        let query = format!("experiments/get-by-name?experiment_name={}", encode_query(name));
        let found = match self.call(&Request::Get(query.clone())) {
            Ok(found) => found,
            Err(Failure::Refused { code, .. }) if code == "RESOURCE_DOES_NOT_EXIST" => {
                match self.call(&Request::Post("experiments/create", json!({ "name": name }))) {
                    Ok(created) => {
                        let id = created["experiment_id"].as_str().map(str::to_owned);
                        self.experiments.insert(name.to_owned(), id.clone());
                        return Ok(id);
                    }
                    // Created meanwhile by someone else.
                    Err(failure) if failure.code() == "RESOURCE_ALREADY_EXISTS" => self.call(&Request::Get(query))?,
                    Err(failure) => return Err(failure),
                }
            }
            Err(failure) => return Err(failure),
        };
        let experiment = &found["experiment"];
        let id = if experiment["lifecycle_stage"] == "deleted" {
            tracing::error!(
                target: "obs_runtime::mlflow",
                event = "mlflow.experiment_deleted",
                experiment = name,
                "MLflow experiment `{name}` is deleted: its workflow runs are not tracked (restore it, or name another experiment)"
            );
            None
        } else {
            experiment["experiment_id"].as_str().map(str::to_owned)
        };
        self.experiments.insert(name.to_owned(), id.clone());
        Ok(id)
    }

    fn start(&mut self, start: Start) {
        let items = 1 + start.params.len() as u64;
        if self.runs.len() >= MAX_OPEN_RUNS {
            let failure = Failure::Refused {
                status: 0,
                code: "TOO_MANY_OPEN_RUNS".into(),
                message: format!("{MAX_OPEN_RUNS} runs are open already (their ends were dropped?)"),
            };
            return self.failed(items, "creating a run", &failure);
        }
        let name = match (start.experiment, &self.options.default_experiment) {
            (Some(name), _) => name.to_owned(),
            (None, Some(default)) => default.clone(),
            (None, None) => start.workflow.to_owned(),
        };
        let experiment = match self.experiment(&name) {
            Ok(Some(id)) => id,
            Ok(None) => {
                self.counters.failed.increment(items);
                return;
            }
            Err(failure) => return self.failed(items, "creating a run", &failure),
        };
        let mut tags: Vec<Value> = vec![
            tag("obs.workflow", start.workflow.to_owned()),
            tag("obs.workflow_run_id", start.run.to_string()),
            tag("mlflow.source.name", start.workflow.to_owned()),
        ];
        if let Some(trace_id) = start.trace_id {
            tags.push(tag("obs.trace_id", format!("{trace_id:032x}")));
        }
        tags.extend(self.options.tags.iter().map(|(key, value)| tag(key, value.clone())));
        tags.truncate(limits::MAX_TAGS_PER_BATCH);
        let body = json!({
            "experiment_id": experiment,
            "run_name": start.workflow,
            "start_time": start.start_ms,
            "tags": tags,
        });
        let created = match self.call(&Request::Post("runs/create", body)) {
            Ok(created) => created,
            Err(failure) => return self.failed(items, "creating a run", &failure),
        };
        let info = &created["run"]["info"];
        let Some(id) = info["run_id"].as_str().map(str::to_owned) else {
            self.counters.failed.increment(items);
            return;
        };
        self.counters.exported.increment(1);
        let mut tracked = Tracked {
            id: id.clone(),
            artifact_uri: info["artifact_uri"].as_str().unwrap_or_default().to_owned(),
            params: Vec::new(),
            metrics: Vec::new(),
            logged: HashMap::new(),
        };
        for (key, value) in start.params {
            add_param(&mut tracked, key.to_owned(), value);
        }
        self.runs.insert(start.run, tracked);
        self.flush(start.run);
        if let Some(trace_id) = start.trace_id {
            // MLflow 3 links a trace to a run through an entity association (what its UI's
            // Traces tab of the run lists), which may be made before the trace arrives.
            let body = json!({ "trace_ids": [format!("tr-{trace_id:032x}")], "run_id": id });
            match self.call(&Request::Post("traces/link-to-run", body)) {
                Ok(_) => self.counters.exported.increment(1),
                Err(failure) => self.failed(1, "linking the run's trace", &failure),
            }
        }
    }

    fn flush_all(&mut self) {
        let runs: Vec<RunId> =
            self.runs.iter().filter(|(_, t)| !t.params.is_empty() || !t.metrics.is_empty()).map(|(r, _)| *r).collect();
        for run in runs {
            self.flush(run);
        }
    }

    /// Sends what waits for `run` in `runs/log-batch` requests within MLflow's limits.
    fn flush(&mut self, run: RunId) {
        loop {
            let Some(tracked) = self.runs.get_mut(&run) else { return };
            let Some((id, params, metrics)) = next_batch(tracked) else { return };
            let items = (params.len() + metrics.len()) as u64;
            let body = json!({ "run_id": id, "params": params, "metrics": metrics, "tags": [] });
            match self.call(&Request::Post("runs/log-batch", body)) {
                Ok(_) => self.counters.exported.increment(items),
                Err(failure) => self.failed(items, "logging params and metrics", &failure),
            }
        }
    }

    fn end(&mut self, run: RunId, status: &'static str, end_ms: i64, tokens: Option<u64>) {
        if let (Some(tokens), Some(tracked)) = (tokens, self.runs.get_mut(&run)) {
            tracked.metrics.push(metric("tokens_consumed".to_owned(), tokens as f64, 0, end_ms));
        }
        self.flush(run);
        let Some(tracked) = self.runs.remove(&run) else {
            self.counters.failed.increment(1);
            return;
        };
        let body = json!({ "run_id": tracked.id, "status": status, "end_time": end_ms });
        match self.call(&Request::Post("runs/update", body)) {
            Ok(_) => self.counters.exported.increment(1),
            Err(failure) => self.failed(1, "ending a run", &failure),
        }
    }

    /// Uploads the file or directory at `path` under `under` in the run's artifacts.
    /// `false` when not every file reached the server.
    fn upload(&mut self, run: RunId, path: &Path, under: &str) -> bool {
        let Some(tracked) = self.runs.get(&run) else {
            self.counters.failed.increment(1);
            return false;
        };
        let Some(root) = served_root(&tracked.artifact_uri) else {
            let failure = Failure::Refused {
                status: 0,
                code: "ARTIFACTS_NOT_SERVED".into(),
                message: "the run's artifact location is not served by the tracking server (start it with --serve-artifacts and no local --default-artifact-root)".into(),
            };
            self.failed(1, "uploading an artifact", &failure);
            return false;
        };
        let mut files = Vec::new();
        if let Err(error) = collect_files(path, PathBuf::from(under), &mut files) {
            let failure = Failure::Refused {
                status: 0,
                code: "UNREADABLE".into(),
                message: format!("{}: {error}", path.display()),
            };
            self.failed(1, "uploading an artifact", &failure);
            return false;
        }
        let mut all = true;
        for (file, relative) in files {
            let bytes = match std::fs::read(&file) {
                Ok(bytes) => bytes,
                Err(error) => {
                    let failure = Failure::Refused {
                        status: 0,
                        code: "UNREADABLE".into(),
                        message: format!("{}: {error}", file.display()),
                    };
                    self.failed(1, "uploading an artifact", &failure);
                    all = false;
                    continue;
                }
            };
            let relative = relative.to_string_lossy().replace('\\', "/");
            match self.call(&Request::Put(format!("{root}/{relative}"), Bytes::from(bytes))) {
                Ok(_) => self.counters.exported.increment(1),
                Err(failure) => {
                    self.failed(1, "uploading an artifact", &failure);
                    all = false;
                }
            }
        }
        all
    }

    /// The model's files as the artifact `model/`, then a new version of `name` in the registry.
    fn model(&mut self, run: RunId, path: &Path, name: &str) {
        if !self.upload(run, path, "model") {
            return;
        }
        let Some(tracked) = self.runs.get(&run) else { return };
        let source = format!("{}/model", tracked.artifact_uri.trim_end_matches('/'));
        let run_id = tracked.id.clone();
        match self.call(&Request::Post("registered-models/create", json!({ "name": name }))) {
            Ok(_) => {}
            Err(failure) if failure.code() == "RESOURCE_ALREADY_EXISTS" => {}
            Err(failure) => return self.failed(1, "registering a model", &failure),
        }
        let body = json!({ "name": name, "source": source, "run_id": run_id });
        match self.call(&Request::Post("model-versions/create", body)) {
            Ok(_) => self.counters.exported.increment(1),
            Err(failure) => self.failed(1, "registering a model version", &failure),
        }
    }

    /// Says how many items the full queue dropped, at most once per interval.
    fn report_drops(&mut self) {
        let dropped = self.counters.dropped_unlogged.load(Ordering::Acquire);
        let due = self.drops_said.is_none_or(|said| said.elapsed() >= self.options.error_log_interval);
        if dropped > 0 && due {
            self.counters.dropped_unlogged.fetch_sub(dropped, Ordering::AcqRel);
            self.drops_said = Some(Instant::now());
            tracing::warn!(
                target: "obs_runtime::mlflow",
                event = "exporter.dropped",
                signal = "mlflow",
                items = dropped,
                "MLflow tracking dropped {dropped} item(s): its queue was full (logged at most once per {:?})",
                self.options.error_log_interval
            );
        }
    }
}

/// Queues a param for `tracked`; the key when it was logged before with another value.
fn add_param(tracked: &mut Tracked, key: String, value: String) -> Option<String> {
    let key = fit(key, limits::MAX_KEY_LENGTH);
    let value = fit(value, limits::MAX_PARAM_VALUE_LENGTH);
    match tracked.logged.get(&key) {
        Some(first) if *first == value => None,
        Some(_) => Some(key),
        None => {
            tracked.logged.insert(key.clone(), value.clone());
            tracked.params.push(json!({ "key": key, "value": value }));
            None
        }
    }
}

fn metric(key: String, value: f64, step: i64, timestamp_ms: i64) -> Value {
    // Protobuf's JSON mapping spells the values JSON numbers cannot hold as strings.
    let value = match value {
        v if v.is_nan() => json!("NaN"),
        v if v == f64::INFINITY => json!("Infinity"),
        v if v == f64::NEG_INFINITY => json!("-Infinity"),
        v => json!(v),
    };
    json!({ "key": fit(key, limits::MAX_KEY_LENGTH), "value": value, "timestamp": timestamp_ms, "step": step })
}

fn tag(key: &str, value: String) -> Value {
    json!({ "key": fit(key.to_owned(), limits::MAX_KEY_LENGTH), "value": fit(value, limits::MAX_TAG_VALUE_LENGTH) })
}

/// The next `runs/log-batch` of `tracked`: at most 100 params and 1000 metrics,
/// 1000 entries and about 900 kB in all.
fn next_batch(tracked: &mut Tracked) -> Option<(String, Vec<Value>, Vec<Value>)> {
    if tracked.params.is_empty() && tracked.metrics.is_empty() {
        return None;
    }
    let mut bytes = 0;
    let size = |v: &Value| v.to_string().len() + 1;
    let mut params = 0;
    while params < tracked.params.len().min(limits::MAX_PARAMS_PER_BATCH) {
        let next = size(&tracked.params[params]);
        if params > 0 && bytes + next > limits::MAX_BATCH_BYTES {
            break;
        }
        bytes += next;
        params += 1;
    }
    let mut metrics = 0;
    let room = limits::MAX_METRICS_PER_BATCH.min(limits::MAX_ENTITIES_PER_BATCH - params);
    while metrics < tracked.metrics.len().min(room) {
        let next = size(&tracked.metrics[metrics]);
        if params + metrics > 0 && bytes + next > limits::MAX_BATCH_BYTES {
            break;
        }
        bytes += next;
        metrics += 1;
    }
    let params = tracked.params.drain(..params).collect();
    let metrics = tracked.metrics.drain(..metrics).collect();
    Some((tracked.id.clone(), params, metrics))
}

/// The path under `/api/2.0/mlflow-artifacts/artifacts/` of a run's artifact root,
/// when the tracking server serves it (`mlflow-artifacts:/1/<run>/artifacts`, with or
/// without an authority).
fn served_root(artifact_uri: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_authority) => &with_authority[with_authority.find('/')?..],
        None => rest,
    };
    Some(path.trim_matches('/').to_owned())
}

/// Every file under `path` (or `path` itself), each with its path under `under`.
fn collect_files(path: &Path, under: PathBuf, out: &mut Vec<(PathBuf, PathBuf)>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        out.push((path.to_owned(), under));
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        collect_files(&entry.path(), under.join(entry.file_name()), out)?;
    }
    Ok(())
}

fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Failures logged at most once per interval, saying how many were not.
struct ErrorLog {
    host: String,
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
    failing: bool,
}

impl ErrorLog {
    fn may_log(&self) -> bool {
        self.last.is_none_or(|last| last.elapsed() >= self.interval)
    }

    fn mark_logged(&mut self) {
        self.last = Some(Instant::now());
    }

    fn failed(&mut self, items: u64, what: &str, failure: &Failure) {
        self.failing = true;
        if !self.may_log() {
            self.suppressed += 1;
            return;
        }
        self.mark_logged();
        let suppressed = std::mem::take(&mut self.suppressed);
        tracing::warn!(
            target: "obs_runtime::mlflow",
            event = "exporter.error",
            signal = "mlflow",
            items,
            suppressed_errors = suppressed,
            endpoint = %self.host,
            error = %failure,
            "MLflow tracking failed {what} ({failure}); {items} item(s) dropped (logged at most once per {:?})",
            self.interval
        );
    }

    fn warn(&mut self, message: &str) {
        if self.may_log() {
            self.mark_logged();
            tracing::warn!(target: "obs_runtime::mlflow", event = "exporter.error", signal = "mlflow", "MLflow tracking: {message}");
        }
    }

    fn recovered(&mut self) {
        if std::mem::take(&mut self.failing) {
            tracing::info!(target: "obs_runtime::mlflow", event = "exporter.recovered", signal = "mlflow", endpoint = %self.host, "MLflow tracking works again");
        }
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked() -> Tracked {
        Tracked {
            id: "r".into(),
            artifact_uri: String::new(),
            params: Vec::new(),
            metrics: Vec::new(),
            logged: HashMap::new(),
        }
    }

    #[test]
    fn batches_stay_within_mlflow_limits() {
        let mut t = tracked();
        for i in 0..250 {
            add_param(&mut t, format!("p{i}"), "v".into());
        }
        for i in 0..2500 {
            t.metrics.push(metric("loss".into(), 0.5, i, 0));
        }
        let mut sizes = Vec::new();
        while let Some((_, params, metrics)) = next_batch(&mut t) {
            assert!(params.len() <= 100 && metrics.len() <= 1000 && params.len() + metrics.len() <= 1000);
            sizes.push((params.len(), metrics.len()));
        }
        assert_eq!(sizes.iter().map(|s| s.0).sum::<usize>(), 250);
        assert_eq!(sizes.iter().map(|s| s.1).sum::<usize>(), 2500);
        assert_eq!(sizes[0], (100, 900));
    }

    #[test]
    fn large_values_split_batches_by_size() {
        let mut t = tracked();
        for i in 0..100 {
            add_param(&mut t, format!("p{i}"), "x".repeat(10_000));
        }
        let (_, first, _) = next_batch(&mut t).unwrap();
        let bytes: usize = first.iter().map(|v| v.to_string().len()).sum();
        assert!(bytes <= limits::MAX_BATCH_BYTES && first.len() == 100, "{bytes} {}", first.len());
        // Each value was cut to 6000 characters, so 100 fit.
        assert!(first[0]["value"].as_str().unwrap().ends_with(limits::TRUNCATED));
    }

    #[test]
    fn a_param_keeps_its_first_value() {
        let mut t = tracked();
        assert_eq!(add_param(&mut t, "lr".into(), "0.1".into()), None);
        assert_eq!(add_param(&mut t, "lr".into(), "0.1".into()), None);
        assert_eq!(add_param(&mut t, "lr".into(), "0.2".into()), Some("lr".into()));
        assert_eq!(t.params.len(), 1);
    }

    #[test]
    fn served_artifact_roots() {
        assert_eq!(served_root("mlflow-artifacts:/1/abc/artifacts").as_deref(), Some("1/abc/artifacts"));
        assert_eq!(served_root("mlflow-artifacts://host:5000/1/abc/artifacts").as_deref(), Some("1/abc/artifacts"));
        assert_eq!(served_root("/tmp/mlruns/1/abc/artifacts"), None);
        assert_eq!(served_root("s3://bucket/1/abc/artifacts"), None);
    }

    #[test]
    fn non_finite_metric_values_are_protobuf_json_strings() {
        assert_eq!(metric("m".into(), f64::NAN, 0, 0)["value"], "NaN");
        assert_eq!(metric("m".into(), f64::NEG_INFINITY, 0, 0)["value"], "-Infinity");
        assert_eq!(metric("m".into(), 1.5, 0, 0)["value"], 1.5);
    }
}
