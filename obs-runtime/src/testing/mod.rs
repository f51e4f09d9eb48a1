//! Test helpers: run a closure or a future with obs's telemetry captured for
//! that scope only, then assert on what a user would see: calls by outcome,
//! errors by kind, spans, log lines and metric values.
//!
//! No global [`init`](crate::init) is needed, and tests running in parallel
//! threads do not see each other's telemetry: a capture installs a scoped
//! `tracing` subscriber (obs's own JSON log layer writing into a buffer, plus a
//! layer keeping the spans) and a per-thread tally of the calls that ended, for
//! the closure's run or for each poll of the future.
//!
//! ```
//! use obs_runtime::{observe, testing};
//!
//! #[derive(Debug, obs_runtime::ErrorKind)]
//! enum PayError { Declined }
//! impl std::fmt::Display for PayError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("card declined") }
//! }
//! impl std::error::Error for PayError {}
//!
//! #[observe]
//! fn checkout(total: u32) -> Result<u32, PayError> {
//!     if total > 100 { Err(PayError::Declined) } else { Ok(total) }
//! }
//!
//! let t = testing::capture(|| {
//!     let _ = checkout(20);
//!     let _ = checkout(500);
//! });
//! assert_eq!(t.calls("checkout").ok(), 1);
//! assert_eq!(t.errors("checkout", "declined"), 1);
//! assert_eq!(t.metric("obs_function_calls_total", &[("function", "checkout"), ("status", "error")]), 1);
//! assert_eq!(t.span("checkout").fields["total"], 20);
//! let failed = &t.events("function.error")[0];
//! assert_eq!(failed["error"]["message"], "card declined");
//! ```
//!
//! A failed assertion shows what was recorded instead: the counts are
//! [`Count`]s, whose `Debug` form lists every call the capture saw
//! (`0 (recorded: checkout: ok×1, error(declined)×1)`).
//!
//! Futures are captured with [`capture_async`], in any executor:
//!
//! ```
//! # use obs_runtime::{node, testing, workflow};
//! #[node]
//! async fn charge(amount: u32) -> Result<u32, std::io::Error> { Ok(amount) }
//!
//! #[workflow]
//! async fn order(amount: u32) -> Result<u32, std::io::Error> { charge(amount).await }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let t = testing::capture_async(order(12)).await;
//! assert_eq!(*t.output.as_ref().unwrap(), 12);
//! assert_eq!(t.workflow_runs("order").ok(), 1);
//! assert_eq!(t.node_attempts("charge"), ["ok"]);
//! assert_eq!(t.metric("obs_node_runs_total", &[("workflow", "order"), ("node", "charge")]), 1);
//! let node = t.span("charge");
//! assert!(t.spans()[node.parent.unwrap()].is("order"));
//! # }
//! ```
//!
//! What a capture sees: everything that happens on the thread running the
//! closure, or inside the future's polls. A task spawned from inside (a
//! `tokio::spawn`) runs outside those polls: capture it on its own, or await
//! its work inside the captured future.

mod hook;
mod spans;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project::pin_project;
use serde_json::Value;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use hook::{Ended, Tally};
pub(crate) use hook::{capturing, ended};
use spans::SpanLog;
pub use spans::SpanRecord;

use crate::kind::Kind;
use crate::log::{JsonLayer, MemoryWriter};
use crate::metrics::{
    FUNCTION_CALLS_TOTAL, FUNCTION_ERRORS_TOTAL, NODE_ATTEMPTS_TOTAL, NODE_RETRIES_TOTAL, NODE_RUNS_TOTAL, Status,
    WORKFLOW_BUDGET_EXCEEDED_TOTAL, WORKFLOW_RUNS_TOTAL,
};

/// The `service` field of captured log lines.
pub const SERVICE: &str = "test";

/// Runs `f` with telemetry captured, and returns its output with what was recorded.
pub fn capture<T>(f: impl FnOnce() -> T) -> Captured<T> {
    let scope = Scope::new();
    let output = {
        let _tally = hook::enter(&scope.tally);
        tracing::dispatcher::with_default(&scope.dispatch, f)
    };
    scope.finish(output)
}

/// Runs `future` with telemetry captured during each of its polls; resolves to
/// its output with what was recorded.
pub fn capture_async<F: Future>(future: F) -> CaptureFuture<F> {
    CaptureFuture { inner: future, scope: Some(Scope::new()) }
}

/// The future [`capture_async`] returns.
#[pin_project]
pub struct CaptureFuture<F> {
    #[pin]
    inner: F,
    scope: Option<Scope>,
}

impl<F: Future> Future for CaptureFuture<F> {
    type Output = Captured<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(scope) = this.scope.as_ref() else { panic!("`CaptureFuture` polled after it completed") };
        let poll = {
            let _tally = hook::enter(&scope.tally);
            let _dispatch = tracing::dispatcher::set_default(&scope.dispatch);
            this.inner.poll(cx)
        };
        match (poll, this.scope.take()) {
            (Poll::Ready(output), Some(scope)) => Poll::Ready(scope.finish(output)),
            (_, scope) => {
                *this.scope = scope;
                Poll::Pending
            }
        }
    }
}

/// The capture's subscriber and tally.
struct Scope {
    tally: Arc<Tally>,
    dispatch: Dispatch,
    logs: MemoryWriter,
    spans: SpanLog,
}

impl Scope {
    fn new() -> Scope {
        let logs = MemoryWriter::new();
        let spans = SpanLog::default();
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new(SERVICE, logs.clone())).with(spans.clone());
        Scope { tally: Arc::default(), dispatch: Dispatch::new(subscriber), logs, spans }
    }

    fn finish<T>(self, output: T) -> Captured<T> {
        let spans = std::mem::take(&mut *self.spans.0.lock().unwrap_or_else(|e| e.into_inner()));
        Captured { output, ended: self.tally.take(), logs: self.logs, spans }
    }
}

/// What a capture recorded, and the output of what ran.
pub struct Captured<T> {
    /// What the closure returned (the future's output).
    pub output: T,
    ended: Vec<Ended>,
    logs: MemoryWriter,
    spans: Vec<SpanRecord>,
}

impl<T> Captured<T> {
    /// The calls of the instrumented function (or workflow, or node) `name` (its `function` label).
    pub fn calls(&self, name: &str) -> Calls<'_> {
        self.select(name, |_| true)
    }

    /// The runs of workflow `name`.
    pub fn workflow_runs(&self, name: &str) -> Calls<'_> {
        self.select(name, |e| e.kind == Kind::Workflow)
    }

    /// How many calls of `name` failed with the error kind `kind` (the `error` label).
    pub fn errors(&self, name: &str, kind: &str) -> Count {
        let calls = self.select(name, |e| e.error_kind == Some(kind));
        self.count(calls.records.len())
    }

    /// The outcome of every attempt of node `node`, in order: `["timeout", "error", "ok"]`
    /// for a node that timed out, failed, then succeeded.
    pub fn node_attempts(&self, node: &str) -> Vec<&'static str> {
        self.ended.iter().filter(|e| e.kind == Kind::Node && e.name == node).map(attempt_outcome).collect()
    }

    /// Every span opened inside the capture, in the order they were opened.
    pub fn spans(&self) -> &[SpanRecord] {
        &self.spans
    }

    /// The first span named `name` (whole, or its last `::` segment).
    ///
    /// # Panics
    /// When there is none, listing the spans that were opened.
    pub fn span(&self, name: &str) -> &SpanRecord {
        self.spans.iter().find(|s| s.is(name)).unwrap_or_else(|| {
            let names: Vec<_> = self.spans.iter().map(|s| s.name).collect();
            panic!("no span `{name}` was opened; spans recorded: {names:?}")
        })
    }

    /// Every log line written inside the capture, each the JSON object obs writes.
    pub fn logs(&self) -> Vec<Value> {
        self.logs.text().lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }

    /// The log lines whose `event` field is `event` (`function.error`, `node.retry`, ...).
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.logs().into_iter().filter(|line| line["event"] == event).collect()
    }

    /// The value the capture's calls add to the metric series `name` (with the
    /// default `obs` namespace) whose labels include `labels`, summed over the
    /// rest: what `/metrics` would have grown by. Covers the families a call
    /// counts: function calls and errors, workflow runs and budget stops, node
    /// runs, attempts and retries.
    ///
    /// # Panics
    /// For another family, naming the ones it covers.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Count {
        let families = [
            FUNCTION_CALLS_TOTAL.default_name(),
            FUNCTION_ERRORS_TOTAL.default_name(),
            WORKFLOW_RUNS_TOTAL.default_name(),
            WORKFLOW_BUDGET_EXCEEDED_TOTAL.default_name(),
            NODE_RUNS_TOTAL.default_name(),
            NODE_ATTEMPTS_TOTAL.default_name(),
            NODE_RETRIES_TOTAL.default_name(),
        ];
        if !families.iter().any(|f| f == name) {
            panic!("a capture counts the families {families:?}, not `{name}`");
        }
        let series: Vec<Vec<(&str, &str)>> =
            self.ended.iter().flat_map(series).filter(|(family, _)| family == name).map(|(_, l)| l).collect();
        let value = series.iter().filter(|l| labels.iter().all(|want| l.contains(want))).count();
        let mut recorded = String::new();
        for labels in &series {
            let text: Vec<_> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            recorded.push_str(&format!("\n  {name}{{{}}}", text.join(",")));
        }
        Count { value, recorded: if recorded.is_empty() { format!("no {name} series") } else { recorded } }
    }

    fn select(&self, name: &str, also: impl Fn(&Ended) -> bool) -> Calls<'_> {
        let records = self.ended.iter().filter(|e| e.name == name && !e.retried && also(e)).collect();
        Calls { records, recorded: self.summary() }
    }

    fn count(&self, value: usize) -> Count {
        Count { value, recorded: self.summary() }
    }

    /// `checkout: ok×1, error(declined)×2; charge: timeout×1`, what a failed assertion shows.
    fn summary(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for e in &self.ended {
            if !names.contains(&e.name) {
                names.push(e.name);
            }
        }
        if names.is_empty() {
            return "no instrumented call ended inside the capture".to_owned();
        }
        let parts: Vec<String> = names
            .iter()
            .map(|name| {
                let mut outcomes: Vec<(String, usize)> = Vec::new();
                for e in self.ended.iter().filter(|e| e.name == *name) {
                    let outcome = match (e.retried, e.error_kind) {
                        (true, _) => format!("retried {}", attempt_outcome(e)),
                        (false, Some(kind)) => format!("{}({kind})", e.status.as_str()),
                        (false, None) => e.status.as_str().to_owned(),
                    };
                    match outcomes.iter_mut().find(|(o, _)| *o == outcome) {
                        Some((_, n)) => *n += 1,
                        None => outcomes.push((outcome, 1)),
                    }
                }
                let outcomes: Vec<_> = outcomes.iter().map(|(o, n)| format!("{o}×{n}")).collect();
                format!("{name}: {}", outcomes.join(", "))
            })
            .collect();
        parts.join("; ")
    }
}

impl<T> fmt::Debug for Captured<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Captured")
            .field("calls", &self.summary())
            .field("spans", &self.spans.iter().map(|s| s.name).collect::<Vec<_>>())
            .field("log_lines", &self.logs.text().lines().count())
            .finish()
    }
}

/// The outcome word of one node attempt.
fn attempt_outcome(e: &Ended) -> &'static str {
    e.status.as_str()
}

/// The metric series one ended call adds 1 to, as `/metrics` would name them.
fn series(e: &Ended) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let mut out = Vec::new();
    if !e.metrics {
        return out;
    }
    let status = e.status.as_str();
    let workflow = e.workflow.unwrap_or(crate::workflow::metrics::NO_WORKFLOW);
    match e.kind {
        Kind::Function => {
            let labels = vec![("function", e.name), ("module", e.module)];
            let mut calls = labels.clone();
            calls.push(("status", status));
            out.push((FUNCTION_CALLS_TOTAL.default_name(), calls));
            if let (Status::Error, Some(kind)) = (e.status, e.error_kind) {
                let mut errors = labels;
                errors.push(("error", kind));
                out.push((FUNCTION_ERRORS_TOTAL.default_name(), errors));
            }
        }
        Kind::Workflow => {
            out.push((WORKFLOW_RUNS_TOTAL.default_name(), vec![("workflow", e.name), ("status", status)]));
            if let Some(budget) = e.budget {
                out.push((
                    WORKFLOW_BUDGET_EXCEEDED_TOTAL.default_name(),
                    vec![("workflow", e.name), ("budget", budget)],
                ));
            }
        }
        Kind::Node => {
            let labels = vec![("workflow", workflow), ("node", e.name)];
            let mut attempts = labels.clone();
            attempts.push(("outcome", status));
            out.push((NODE_ATTEMPTS_TOTAL.default_name(), attempts));
            if e.retried {
                out.push((NODE_RETRIES_TOTAL.default_name(), labels));
            } else {
                let mut runs = labels;
                runs.push(("status", status));
                out.push((NODE_RUNS_TOTAL.default_name(), runs));
            }
        }
    }
    out
}

/// The calls of one instrumented function inside a capture.
pub struct Calls<'a> {
    records: Vec<&'a Ended>,
    recorded: String,
}

impl Calls<'_> {
    /// Every call, whatever its outcome.
    pub fn total(&self) -> Count {
        self.with(|_| true)
    }

    /// The calls that returned normally (`Ok` for a `Result`).
    pub fn ok(&self) -> Count {
        self.status("ok")
    }

    /// The calls that returned an error (`status="error"`).
    pub fn failed(&self) -> Count {
        self.status("error")
    }

    /// The calls that ended with status `status` (`ok`, `error`, `panic`,
    /// `cancelled`, `timeout`, `budget_exceeded`).
    pub fn status(&self, status: &str) -> Count {
        self.with(|e| e.status.as_str() == status)
    }

    /// The error kinds of the failed calls, in order.
    pub fn error_kinds(&self) -> Vec<&'static str> {
        self.records.iter().filter_map(|e| e.error_kind).collect()
    }

    fn with(&self, keep: impl Fn(&Ended) -> bool) -> Count {
        let value = self.records.iter().filter(|e| keep(e)).count();
        Count { value, recorded: self.recorded.clone() }
    }
}

/// A number a capture counted, compared with a `usize` in `assert_eq!`; its
/// `Debug` form also says what the capture recorded, so that a failed
/// assertion shows it.
#[derive(Clone)]
pub struct Count {
    value: usize,
    recorded: String,
}

impl Count {
    /// The number.
    pub fn get(&self) -> usize {
        self.value
    }
}

impl PartialEq<usize> for Count {
    fn eq(&self, other: &usize) -> bool {
        self.value == *other
    }
}

impl PartialOrd<usize> for Count {
    fn partial_cmp(&self, other: &usize) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(other)
    }
}

impl fmt::Debug for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (recorded: {})", self.value, self.recorded)
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}
