//! `#[workflow]` and `#[node]` as a user observes them: the metric text a
//! scrape returns, the JSON log lines, the span tree, and the live views.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use obs_runtime::log::MemoryWriter;
use obs_runtime::workflow::TimeoutError;
use obs_runtime::workflow::budget::{self, BudgetExceeded};
use obs_runtime::{ObsGuard, node, workflow};
use serde_json::Value;
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

// ---------- harness: one telemetry install per test binary ----------

/// One recorded span: its name, parent and the `attempt` / `run_id` fields.
#[derive(Debug, Clone, Default)]
struct SpanRecord {
    name: String,
    parent: Option<u64>,
    fields: HashMap<String, String>,
}

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<HashMap<u64, SpanRecord>>>);

struct FieldVisitor<'a>(&'a mut HashMap<String, String>);
impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}").trim_matches('"').to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> tracing_subscriber::Layer<S>
    for Spans
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx.span(id).and_then(|s| s.parent()).map(|p| p.id().into_u64());
        let mut record = SpanRecord { name: attrs.metadata().name().to_owned(), parent, fields: HashMap::new() };
        attrs.record(&mut FieldVisitor(&mut record.fields));
        self.0.lock().unwrap().insert(id.into_u64(), record);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(record) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut FieldVisitor(&mut record.fields));
        }
    }
}

struct Harness {
    guard: ObsGuard,
    logs: MemoryWriter,
    spans: Spans,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let logs = MemoryWriter::default();
        let spans = Spans::default();
        let guard = obs_runtime::builder().without_http().install_subscriber(false).init().expect("init");
        tracing_subscriber::registry()
            .with(obs_runtime::log::JsonLayer::new("workflow-tests", logs.clone()))
            .with(spans.clone())
            .init();
        Harness { guard, logs, spans }
    })
}

/// JSON log lines whose `span` or message mentions `needle`.
fn events(needle: &str) -> Vec<Value> {
    harness()
        .logs
        .text()
        .lines()
        .filter(|line| line.contains(needle))
        .map(|line| serde_json::from_str::<Value>(line).expect("every line is JSON"))
        // Slow-poll warnings depend on the machine (a first poll in a debug build on a busy one).
        .filter(|line| !line["event"].as_str().unwrap_or_default().ends_with(".slow_poll"))
        .collect()
}

fn event_names(lines: &[Value]) -> Vec<String> {
    lines.iter().filter_map(|l| l["event"].as_str().map(str::to_owned)).collect()
}

/// The value of the series `name{labels}` with exactly these labels.
fn metric(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = harness().guard.render_metrics().expect("prometheus");
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (label_text, value) = rest.rsplit_once("} ")?;
        let found: Vec<&str> = label_text.split(',').collect();
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        (found.len() == wanted.len() && wanted.iter().all(|w| found.contains(&w.as_str())))
            .then(|| value.parse().unwrap())
    })
}

fn spans_named(suffix: &str) -> Vec<(u64, SpanRecord)> {
    let spans = harness().spans.0.lock().unwrap();
    let mut found: Vec<(u64, SpanRecord)> =
        spans.iter().filter(|(_, s)| s.name.ends_with(suffix)).map(|(id, s)| (*id, s.clone())).collect();
    found.sort_by_key(|(_, s)| s.fields.get("attempt").cloned());
    found
}

// ---------- the job under test ----------

#[derive(Debug, PartialEq)]
enum JobError {
    Failed(&'static str),
    Timeout(TimeoutError),
    Budget(BudgetExceeded),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Failed(why) => write!(f, "failed: {why}"),
            JobError::Timeout(e) => e.fmt(f),
            JobError::Budget(e) => e.fmt(f),
        }
    }
}
impl std::error::Error for JobError {}
impl From<TimeoutError> for JobError {
    fn from(e: TimeoutError) -> Self {
        JobError::Timeout(e)
    }
}
impl From<BudgetExceeded> for JobError {
    fn from(e: BudgetExceeded) -> Self {
        JobError::Budget(e)
    }
}

#[node]
async fn fetch_ok(id: u64) -> Result<u64, JobError> {
    tracing::info!(id, "fetching");
    Ok(id + 1)
}

#[node]
async fn store_ok(value: u64) -> Result<(), JobError> {
    let _ = value;
    Ok(())
}

#[workflow]
async fn wf_success(id: u64) -> Result<(), JobError> {
    let value = fetch_ok(id).await?;
    store_ok(value).await
}

#[test]
fn workflow_and_node_futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    assert_send(wf_success(1));
    assert_send(flaky(1));
}

#[tokio::test]
async fn a_successful_run_is_one_trace_with_a_child_span_per_node() {
    harness();
    assert_eq!(wf_success(41).await, Ok(()));

    assert_eq!(metric("obs_workflow_runs_total", &[("workflow", "wf_success"), ("status", "ok")]), Some(1.0));
    assert_eq!(metric("obs_workflow_active", &[("workflow", "wf_success")]), Some(0.0));
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_success"), ("node", "fetch_ok"), ("status", "ok")]),
        Some(1.0)
    );
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_success"), ("node", "store_ok"), ("status", "ok")]),
        Some(1.0)
    );

    let lines = events("wf_success");
    let names = event_names(&lines);
    for expected in ["workflow.start", "node.start", "node.success", "workflow.success"] {
        assert!(names.contains(&expected.to_owned()), "{expected} missing from {names:?}");
    }
    // The run id is on every line of the run, including the user's own log line inside a node.
    let run_id = lines[0]["run_id"].as_str().expect("run_id on workflow.start").to_owned();
    assert_eq!(run_id.len(), 36);
    assert_eq!(&run_id[14..15], "7", "a UUID v7: {run_id}");
    let fetching = lines.iter().find(|l| l["message"] == "fetching").expect("user event inside the node");
    assert_eq!(fetching["run_id"], run_id.as_str());
    assert!(lines.iter().all(|l| l["run_id"] == run_id.as_str() && l["trace_id"] == lines[0]["trace_id"]));
    let end = lines.iter().find(|l| l["event"] == "workflow.success").unwrap();
    assert!(end["duration_ms"].as_f64().is_some());

    let (workflow_id, workflow_span) = spans_named("wf_success").pop().expect("workflow span");
    assert_eq!(workflow_span.fields.get("run_id"), Some(&run_id));
    for node in ["fetch_ok", "store_ok"] {
        let (_, span) = spans_named(node).pop().expect("node span");
        assert_eq!(span.parent, Some(workflow_id), "{node} is a child of the workflow span");
        assert_eq!(span.fields.get("attempt").map(String::as_str), Some("1"));
    }

    let shape = obs_runtime::workflow::workflows().into_iter().find(|w| w.name == "wf_success").unwrap();
    let edges: Vec<(&str, &str)> = shape.edges.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(edges, [("start", "fetch_ok"), ("fetch_ok", "store_ok")]);
    assert!(shape.to_mermaid().contains("n_fetch_ok -->|\"1 run\"| n_store_ok"));
}

#[node]
async fn parse_fails(text: &'static str) -> Result<u64, JobError> {
    text.parse().map_err(|_| JobError::Failed("not a number"))
}

#[workflow]
async fn wf_error() -> Result<u64, JobError> {
    parse_fails("many").await
}

#[tokio::test]
async fn an_error_ends_node_and_run_with_status_error() {
    harness();
    assert_eq!(wf_error().await, Err(JobError::Failed("not a number")));
    assert_eq!(metric("obs_workflow_runs_total", &[("workflow", "wf_error"), ("status", "error")]), Some(1.0));
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_error"), ("node", "parse_fails"), ("status", "error")]),
        Some(1.0)
    );
    let lines = events("wf_error");
    let node_error = lines.iter().find(|l| l["event"] == "node.error").expect("node.error");
    assert_eq!(node_error["error"]["message"], "failed: not a number");
    assert!(event_names(&lines).contains(&"workflow.error".to_owned()));
}

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

#[node(retries = 3, backoff = "1ms")]
async fn flaky(id: u64) -> Result<u64, JobError> {
    if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) < 2 { Err(JobError::Failed("flaky")) } else { Ok(id) }
}

#[workflow]
async fn wf_retry() -> Result<u64, JobError> {
    flaky(7).await
}

#[tokio::test]
async fn a_node_is_retried_until_it_succeeds_each_attempt_its_own_span() {
    harness();
    assert_eq!(wf_retry().await, Ok(7));
    assert_eq!(metric("obs_node_retries_total", &[("workflow", "wf_retry"), ("node", "flaky")]), Some(2.0));
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_retry"), ("node", "flaky"), ("status", "ok")]),
        Some(1.0)
    );
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_retry"), ("node", "flaky"), ("status", "error")]),
        Some(0.0)
    );

    let (workflow_id, _) = spans_named("wf_retry").pop().unwrap();
    let attempts = spans_named("::flaky");
    let numbers: Vec<&str> = attempts.iter().map(|(_, s)| s.fields["attempt"].as_str()).collect();
    assert_eq!(numbers, ["1", "2", "3"]);
    assert!(attempts.iter().all(|(_, s)| s.parent == Some(workflow_id)));

    let lines = events("wf_retry");
    let retries: Vec<&Value> = lines.iter().filter(|l| l["event"] == "node.retry").collect();
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(retries[1]["attempt"], 2);
    assert!(retries[0]["backoff_ms"].as_f64().is_some());
    let success = lines.iter().find(|l| l["event"] == "node.success").unwrap();
    assert_eq!(success["attempt"], 3);
}

fn is_transient(error: &JobError) -> bool {
    matches!(error, JobError::Failed("transient"))
}

#[node(retries = 2, backoff = "1ms")]
async fn always_fails() -> Result<(), JobError> {
    Err(JobError::Failed("transient"))
}

#[node(retries = 5, backoff = "1ms", retry_if = is_transient)]
async fn fails_permanently() -> Result<(), JobError> {
    Err(JobError::Failed("permanent"))
}

#[workflow]
async fn wf_exhausted() -> Result<(), JobError> {
    let _ = fails_permanently().await;
    always_fails().await
}

#[tokio::test]
async fn retries_stop_when_exhausted_or_when_retry_if_says_no() {
    harness();
    assert_eq!(wf_exhausted().await, Err(JobError::Failed("transient")));
    let labels = |node| [("workflow", "wf_exhausted"), ("node", node)];
    assert_eq!(metric("obs_node_retries_total", &labels("always_fails")), Some(2.0));
    assert_eq!(metric("obs_node_retries_total", &labels("fails_permanently")), Some(0.0));
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_exhausted"), ("node", "always_fails"), ("status", "error")]),
        Some(1.0)
    );
    assert_eq!(spans_named("::always_fails").len(), 3);
    assert_eq!(spans_named("::fails_permanently").len(), 1);
}

#[node(timeout = "20ms")]
async fn slow_enrich() -> Result<(), JobError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

#[workflow]
async fn wf_timeout() -> Result<(), JobError> {
    slow_enrich().await
}

#[tokio::test]
async fn an_attempt_over_its_timeout_fails_with_status_timeout() {
    harness();
    let result = wf_timeout().await;
    assert!(matches!(result, Err(JobError::Timeout(e)) if e.after() == Duration::from_millis(20)), "{result:?}");
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_timeout"), ("node", "slow_enrich"), ("status", "timeout")]),
        Some(1.0)
    );
    assert_eq!(metric("obs_workflow_runs_total", &[("workflow", "wf_timeout"), ("status", "error")]), Some(1.0));
    let lines = events("wf_timeout");
    let timeout = lines.iter().find(|l| l["event"] == "node.timeout").expect("node.timeout");
    // The kind is the user's error type's; the message is the converted timeout's.
    assert_eq!(timeout["error"]["message"], "node timed out after 20ms");
}

#[node]
async fn sleepy() -> Result<(), JobError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

#[workflow(deadline = "30ms")]
async fn wf_deadline() -> Result<(), JobError> {
    sleepy().await
}

#[tokio::test]
async fn a_run_past_its_deadline_fails_with_a_budget_error() {
    harness();
    let result = wf_deadline().await;
    assert!(matches!(result, Err(JobError::Budget(e)) if e.budget() == budget::Budget::Deadline), "{result:?}");
    assert_eq!(
        metric("obs_workflow_runs_total", &[("workflow", "wf_deadline"), ("status", "budget_exceeded")]),
        Some(1.0)
    );
    assert_eq!(
        metric("obs_workflow_budget_exceeded_total", &[("workflow", "wf_deadline"), ("budget", "deadline")]),
        Some(1.0)
    );
    assert_eq!(
        metric(
            "obs_node_runs_total",
            &[("workflow", "wf_deadline"), ("node", "sleepy"), ("status", "budget_exceeded")]
        ),
        Some(1.0)
    );
    assert_eq!(metric("obs_workflow_active", &[("workflow", "wf_deadline")]), Some(0.0));
    let lines = events("wf_deadline");
    let end = lines.iter().find(|l| l["event"] == "workflow.budget_exceeded").expect("workflow.budget_exceeded");
    assert_eq!(end["budget"], "deadline");
}

#[node]
async fn hop() -> Result<(), JobError> {
    Ok(())
}

static HOPS_RAN: AtomicU32 = AtomicU32::new(0);

#[workflow(max_hops = 2)]
async fn wf_hops() -> Result<(), JobError> {
    hop().await?;
    hop().await?;
    HOPS_RAN.store(2, Ordering::SeqCst);
    hop().await?;
    HOPS_RAN.store(3, Ordering::SeqCst);
    Ok(())
}

#[tokio::test]
async fn the_hop_after_max_hops_fails_before_running() {
    harness();
    let result = wf_hops().await;
    assert!(matches!(result, Err(JobError::Budget(e)) if e.budget() == budget::Budget::Hops), "{result:?}");
    assert_eq!(HOPS_RAN.load(Ordering::SeqCst), 2, "the body stops at the third hop");
    assert_eq!(metric("obs_node_runs_total", &[("workflow", "wf_hops"), ("node", "hop"), ("status", "ok")]), Some(2.0));
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_hops"), ("node", "hop"), ("status", "budget_exceeded")]),
        Some(1.0)
    );
    assert_eq!(metric("obs_workflow_budget_exceeded_total", &[("workflow", "wf_hops"), ("budget", "hops")]), Some(1.0));
    assert_eq!(metric("obs_workflow_runs_total", &[("workflow", "wf_hops"), ("status", "budget_exceeded")]), Some(1.0));
}

#[node]
async fn spend(tokens: u64) -> Result<Option<u64>, JobError> {
    budget::consume_tokens(tokens)?;
    Ok(budget::remaining().and_then(|r| r.tokens))
}

#[workflow(max_tokens = 10)]
async fn wf_tokens() -> Result<Option<u64>, JobError> {
    let left = spend(6).await?;
    assert_eq!(left, Some(4), "the remaining budget is readable inside the run");
    spend(6).await
}

#[tokio::test]
async fn drawing_more_tokens_than_max_tokens_fails_the_run() {
    harness();
    let result = wf_tokens().await;
    assert!(matches!(result, Err(JobError::Budget(e)) if e.budget() == budget::Budget::Tokens), "{result:?}");
    assert_eq!(
        metric("obs_workflow_budget_exceeded_total", &[("workflow", "wf_tokens"), ("budget", "tokens")]),
        Some(1.0)
    );
    assert_eq!(
        metric("obs_workflow_runs_total", &[("workflow", "wf_tokens"), ("status", "budget_exceeded")]),
        Some(1.0)
    );
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_tokens"), ("node", "spend"), ("status", "budget_exceeded")]),
        Some(1.0)
    );
    assert_eq!(budget::consume_tokens(1_000), Ok(()), "outside a run there is no budget");
}

#[node]
async fn hangs() -> Result<(), JobError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

#[workflow]
async fn wf_dropped() -> Result<(), JobError> {
    hangs().await
}

#[tokio::test]
async fn dropping_a_running_workflow_records_cancelled_and_zeroes_gauges() {
    harness();
    let run = tokio::spawn(wf_dropped());
    tokio::time::sleep(Duration::from_millis(30)).await;
    let active = obs_runtime::workflow::active_runs()
        .into_iter()
        .find(|r| r.workflow == "wf_dropped")
        .expect("listed while running");
    assert_eq!(active.running, ["hangs"]);
    run.abort();
    let _ = run.await;

    assert_eq!(metric("obs_workflow_runs_total", &[("workflow", "wf_dropped"), ("status", "cancelled")]), Some(1.0));
    assert_eq!(metric("obs_workflow_active", &[("workflow", "wf_dropped")]), Some(0.0));
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_dropped"), ("node", "hangs"), ("status", "cancelled")]),
        Some(1.0)
    );
    assert!(obs_runtime::workflow::active_runs().iter().all(|r| r.workflow != "wf_dropped"));
    let names = event_names(&events("wf_dropped"));
    assert!(
        names.contains(&"node.cancelled".to_owned()) && names.contains(&"workflow.cancelled".to_owned()),
        "{names:?}"
    );
}

#[node]
async fn explodes() -> Result<(), JobError> {
    panic!("boom")
}

#[workflow]
async fn wf_panics() -> Result<(), JobError> {
    explodes().await
}

#[tokio::test]
async fn a_panicking_node_records_panic_on_node_and_run() {
    harness();
    assert!(tokio::spawn(wf_panics()).await.is_err());
    assert_eq!(metric("obs_workflow_runs_total", &[("workflow", "wf_panics"), ("status", "panic")]), Some(1.0));
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "wf_panics"), ("node", "explodes"), ("status", "panic")]),
        Some(1.0)
    );
    assert_eq!(metric("obs_workflow_active", &[("workflow", "wf_panics")]), Some(0.0));
}

#[node]
async fn standalone() -> Result<(), JobError> {
    Ok(())
}

#[tokio::test]
async fn a_node_outside_any_workflow_is_labelled_none() {
    harness();
    assert_eq!(standalone().await, Ok(()));
    assert_eq!(
        metric("obs_node_runs_total", &[("workflow", "none"), ("node", "standalone"), ("status", "ok")]),
        Some(1.0)
    );
}
