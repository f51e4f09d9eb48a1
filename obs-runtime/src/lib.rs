//! # obs: one attribute, three pillars
//!
//! Put [`#[observe]`](observe) on a function and call [`init`] once in `main`:
//! every call gets a `tracing` span, Prometheus metrics (calls by outcome,
//! errors by kind, a duration histogram, an in-flight gauge) and a JSON log
//! line carrying the trace id, all correlated. Every metric family obs can
//! emit, with its type, unit, help text and labels, is listed by
//! [`metrics::families()`].
//!
//! ```no_run
//! use obs_runtime::observe;
//!
//! #[derive(Debug)]
//! struct NotFound;
//! impl std::fmt::Display for NotFound {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("not found") }
//! }
//! impl std::error::Error for NotFound {}
//!
//! #[observe]
//! async fn fetch_user(id: u64) -> Result<String, NotFound> {
//!     if id == 0 { Err(NotFound) } else { Ok(format!("user {id}")) }
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let _guard = obs_runtime::init().expect("telemetry");
//!     let _ = fetch_user(7).await;
//!     // GET http://127.0.0.1:9464/metrics now shows obs_function_calls_total{function="fetch_user",...}
//! }
//! ```
//!
//! ## `#[observe]` arguments
//! | argument | effect |
//! |---|---|
//! | `name = "..."` | the `function` label and span name (default: the function's name, span `module::function`) |
//! | `level = "debug"` | the span's level and the success event's level (default: span `info`, success event `debug`) |
//! | `skip(a, b)`, `skip_all` | do not record these arguments (or any) on the span |
//! | `fields(key = expr, ...)` | extra span fields, evaluated at call time |
//! | `err`, `err(Debug)`, `err(Display)` | treat the return type as a `Result` and choose how errors are rendered |
//! | `ret`, `ret(Display)` | record the returned value on the end event |
//! | `metrics = false`, `log = false` | turn off metrics or the end-of-call log event |
//! | `poll_metrics = false` | turn off poll time and slow polls (`obs_function_poll_seconds`, `obs_function_slow_polls_total`) of an async function |
//! | `reveal(token)` | record a parameter that looks like a credential (otherwise `[redacted]`) |
//! | `crate = path` | the path of `obs_runtime` when it is re-exported by another crate |
//! | `objective(success = 99.9, latency = "250ms", percentile = 99)`, `objective = NAME` | a service level objective (a `const` [`ops::Objective`] for `NAME`), from which [`ops`] generates burn-rate alerts |
//!
//! Arguments are recorded on the span in their `Debug` form, as with
//! `tracing::instrument`; they never become metric labels.
//!
//! ## Workflows: `#[workflow]` and `#[node]`
//! Put `#[workflow]` on the `async fn` that runs a job and `#[node]` on its
//! steps. Each call of the workflow is a run with its own run id (UUID v7,
//! sortable) on its span and on every log line inside it; each node execution
//! is a child span (one per attempt, with its `attempt` number), found through
//! the run's context with nothing passed by hand. Metrics:
//! `obs_workflow_runs_total{workflow,status}`, `obs_workflow_duration_seconds`,
//! `obs_workflow_active`, `obs_workflow_budget_exceeded_total{workflow,budget}`,
//! `obs_node_runs_total{workflow,node,status}`, `obs_node_duration_seconds`,
//! `obs_node_retries_total`. Events: `workflow.start|success|error|cancelled|panic|budget_exceeded`,
//! `node.start|success|error|retry|timeout|cancelled|panic|budget_exceeded`.
//! [`workflow::workflows`] (and `GET /obs/workflows`, `/obs/workflows/{name}/graph.mmd`)
//! gives each workflow's shape learned from its runs; [`workflow::active_runs`] (and
//! `GET /obs/workflows/active`) the runs in progress.
//!
//! Both take the `#[observe]` arguments above, and only `async fn`. Durations
//! are strings such as `"250ms"`, `"2s"`, `"1.5m"` (units ns, us, ms, s, m, h).
//!
//! | `#[workflow(...)]` | effect |
//! |---|---|
//! | `deadline = "30s"` | the run fails with [`workflow::budget::BudgetExceeded`] when it takes longer (its running nodes are dropped) |
//! | `max_hops = N` | the N+1-th node execution of a run fails before running, and the run fails |
//! | `max_tokens = N` | [`workflow::budget::consume_tokens`] fails once the run's nodes have drawn N |
//!
//! With any budget the workflow must return `Result<_, E>` with `E: From<BudgetExceeded>`.
//!
//! | `#[node(...)]` | effect |
//! |---|---|
//! | `retries = N` | run again up to N times after an error, with clones of the arguments (each must be `Clone`) |
//! | `backoff = "100ms"`, `max_backoff = "10s"` | the delay before retry k is `backoff * 2^(k-1)`, capped, with equal jitter |
//! | `retry_if = path::to::predicate` | `fn(&E) -> bool`: retry only the errors it accepts |
//! | `timeout = "2s"` | an attempt running longer is dropped and fails with [`workflow::TimeoutError`] (needs `E: From<TimeoutError>`) |
//!
//! Deadlines, timeouts and backoff use tokio's timer inside a tokio runtime and
//! obs's own timer thread under any other executor; a node running in a task
//! spawned inside a workflow does not see the run (it is labelled
//! `workflow="none"`).

#[cfg(feature = "audit")]
pub mod audit;
mod call;
pub mod callsite;
pub mod circuit;
mod config;
mod env;
mod error;
pub mod export;
#[cfg(feature = "health")]
pub mod health;
#[cfg(feature = "http")]
mod http;
mod init_error;
mod kind;
pub mod labels;
pub mod log;
pub mod metrics;
pub mod mlflow;
pub mod ops;
pub mod propagation;
pub mod queue;
mod resource;
pub mod security;
mod slots;
#[doc(hidden)]
pub mod span_arg;
mod start;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "otlp")]
pub mod trace;
#[cfg(any(feature = "http", feature = "health", feature = "otlp", feature = "prometheus"))]
mod worker;
pub mod workflow;

#[doc(hidden)]
pub mod __private;

/// The README's code blocks, compiled (and run) as doc tests (with the
/// features they use, as the test command's `--all-features` build has them).
#[cfg(all(doctest, feature = "testing", feature = "health", feature = "http", feature = "postgres"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// `docs/health.md`'s code, compiled as a doc test.
#[cfg(all(doctest, feature = "health", feature = "postgres", feature = "redis"))]
#[doc = include_str!("../../docs/health.md")]
pub struct HealthDocDoctests;

pub use callsite::catalog;
pub use config::Builder;
pub use error::ErrorKind;
#[cfg(feature = "health")]
pub use health::HealthCheck;
pub use init_error::InitError;
pub use labels::LabelValue;
pub use obs_macros::{ErrorKind, LabelValue, node, observe, workflow};
pub use start::ObsGuard;

/// Installs telemetry with defaults: the Prometheus recorder, JSON logs on
/// stdout filtered by `RUST_LOG` (default `info`), and `GET /metrics` on
/// `127.0.0.1:9464` (`OBS_HTTP_ADDR` overrides). A second call returns
/// [`InitError::AlreadyInitialized`].
///
/// A failed `init` leaves nothing installed: bad settings, a taken address and
/// a `tracing` subscriber or `metrics` recorder someone else installed are all
/// found before anything global changes, and `init` may be called again (with
/// `install_subscriber(false)` or `prometheus(false)`, say). Only a failure
/// after that point (the system refusing a thread) leaves obs's recorder in
/// place, with what had started stopped again.
///
/// Instrumented functions called before `init` run normally; their spans reach
/// any subscriber already installed, and their metrics are skipped.
pub fn init() -> Result<ObsGuard, InitError> {
    builder().init()
}

/// A [`Builder`] to configure what [`init`] installs.
pub fn builder() -> Builder {
    Builder::default()
}
