//! Every metric family obs can emit, declared once: name (without the
//! namespace), type, unit, help text and label names.
//!
//! `/metrics` (the `# HELP`/`# TYPE` lines, whether a family goes through the
//! `metrics` facade or obs's own store), every place that records a metric,
//! the README and the generated rules and dashboards read this table, so a
//! name is spelled in exactly one place. Record against [`Family::name`]; add a
//! new family here and to `FAMILIES`, and the tests check that the README
//! lists it.

use std::fmt;

use MetricType::{Counter, Gauge, Histogram};
use MetricUnit::{Bytes, Count, Seconds};

/// What kind of series a family holds: the `# TYPE` word in the Prometheus text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricType {
    /// Only goes up (resets on restart); names end in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in cumulative buckets, with `_bucket`, `_sum` and `_count` series.
    Histogram,
}

impl MetricType {
    /// The word `# TYPE` lines use: `counter`, `gauge` or `histogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit a family's values are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricUnit {
    /// A number of things (calls, runs, spans, requests).
    Count,
    /// Seconds (of wall time, of CPU time, or since the Unix epoch).
    Seconds,
    /// Bytes of memory.
    Bytes,
}

impl MetricUnit {
    /// The unit's name as the `metrics` crate and OpenTelemetry spell it: `count` or `seconds`.
    pub fn as_str(self) -> &'static str {
        self.to_metrics().as_str()
    }

    fn to_metrics(self) -> metrics::Unit {
        match self {
            MetricUnit::Count => metrics::Unit::Count,
            MetricUnit::Seconds => metrics::Unit::Seconds,
            MetricUnit::Bytes => metrics::Unit::Bytes,
        }
    }
}

/// One metric family obs can emit.
///
/// ```
/// use obs_runtime::metrics::{self, MetricType};
///
/// let calls = &metrics::FUNCTION_CALLS_TOTAL;
/// assert_eq!(calls.name_in("obs"), "obs_function_calls_total");
/// assert_eq!(calls.metric_type(), MetricType::Counter);
/// assert_eq!(calls.labels(), ["function", "module", "status"]);
/// assert!(metrics::families().iter().any(|f| f.suffix() == "workflow_runs_total"));
/// ```
#[derive(Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Family {
    suffix: &'static str,
    metric_type: MetricType,
    unit: Option<MetricUnit>,
    help: &'static str,
    labels: &'static [&'static str],
    /// Whether the name carries the namespace; the standard process families
    /// keep the names every Prometheus client gives them, so dashboards work.
    namespaced: bool,
}

impl Family {
    const fn new(
        suffix: &'static str,
        metric_type: MetricType,
        unit: Option<MetricUnit>,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Family {
        Family { suffix, metric_type, unit, help, labels, namespaced: true }
    }

    /// A family with a name fixed by convention, never prefixed by the namespace.
    const fn standard(name: &'static str, metric_type: MetricType, unit: MetricUnit, help: &'static str) -> Family {
        Family { suffix: name, metric_type, unit: Some(unit), help, labels: &[], namespaced: false }
    }

    /// The name without the namespace, e.g. `function_calls_total`.
    pub fn suffix(&self) -> &'static str {
        self.suffix
    }

    /// Counter, gauge or histogram.
    pub fn metric_type(&self) -> MetricType {
        self.metric_type
    }

    /// The unit of the values, when they have one.
    pub fn unit(&self) -> Option<MetricUnit> {
        self.unit
    }

    /// The `# HELP` text.
    pub fn help(&self) -> &'static str {
        self.help
    }

    /// The label names obs puts on every series of the family (histograms add `le`).
    pub fn labels(&self) -> &'static [&'static str] {
        self.labels
    }

    /// The full name under `namespace` (`obs` → `obs_function_calls_total`); the
    /// suffix alone when the namespace is empty, and always for the standard
    /// process families (`process_cpu_seconds_total`).
    pub fn name_in(&self, namespace: &str) -> String {
        if namespace.is_empty() || !self.namespaced {
            self.suffix.to_owned()
        } else {
            format!("{namespace}_{}", self.suffix)
        }
    }

    /// Whether the namespace prefixes the name (false for the standard process families).
    pub fn is_namespaced(&self) -> bool {
        self.namespaced
    }

    /// The full name under the namespace [`init`](crate::init) was configured
    /// with ([`DEFAULT_NAMESPACE`] before `init`).
    pub fn name(&self) -> String {
        self.name_in(super::namespace())
    }

    /// The full name under [`DEFAULT_NAMESPACE`], as the README spells it.
    pub fn default_name(&self) -> String {
        self.name_in(DEFAULT_NAMESPACE)
    }

    /// Gives the `metrics` recorder the family's help and unit (the `# HELP`
    /// and `# TYPE` lines), under the configured namespace.
    pub(crate) fn describe(&self) {
        let (name, help) = (self.name(), self.help);
        match (self.metric_type, self.unit.map(MetricUnit::to_metrics)) {
            (MetricType::Counter, Some(unit)) => metrics::describe_counter!(name, unit, help),
            (MetricType::Counter, None) => metrics::describe_counter!(name, help),
            (MetricType::Gauge, Some(unit)) => metrics::describe_gauge!(name, unit, help),
            (MetricType::Gauge, None) => metrics::describe_gauge!(name, help),
            (MetricType::Histogram, Some(unit)) => metrics::describe_histogram!(name, unit, help),
            (MetricType::Histogram, None) => metrics::describe_histogram!(name, help),
        }
    }
}

/// The namespace metric names carry unless [`Builder::namespace`](crate::Builder::namespace) says otherwise.
pub const DEFAULT_NAMESPACE: &str = "obs";

/// Calls of `#[observe]` functions by outcome: `ok`, `error`, `panic`, `cancelled`.
pub const FUNCTION_CALLS_TOTAL: Family = Family::new(
    "function_calls_total",
    Counter,
    Some(Count),
    "Calls of instrumented functions, by outcome status.",
    &["function", "module", "status"],
);
/// Wall time of `#[observe]` function calls, from first poll to completion.
pub const FUNCTION_DURATION_SECONDS: Family = Family::new(
    "function_duration_seconds",
    Histogram,
    Some(Seconds),
    "Wall time of instrumented function calls.",
    &["function", "module"],
);
/// Errors returned by `#[observe]` functions, by bounded error kind.
pub const FUNCTION_ERRORS_TOTAL: Family = Family::new(
    "function_errors_total",
    Counter,
    Some(Count),
    "Errors returned by instrumented functions, by error kind.",
    &["function", "module", "error"],
);
/// `#[observe]` calls currently running.
pub const FUNCTION_IN_FLIGHT: Family = Family::new(
    "function_in_flight",
    Gauge,
    Some(Count),
    "Calls of instrumented functions currently running.",
    &["function", "module"],
);
/// Busy time of async instrumented calls (`#[observe]`, `#[workflow]`, `#[node]`): their summed poll durations.
pub const FUNCTION_POLL_SECONDS: Family = Family::new(
    "function_poll_seconds",
    Histogram,
    Some(Seconds),
    "Busy time of async instrumented calls: the summed duration of their polls, per call.",
    &["function", "module"],
);
/// Polls of async instrumented functions that took longer than the slow-poll threshold (default 10 ms).
pub const FUNCTION_SLOW_POLLS_TOTAL: Family = Family::new(
    "function_slow_polls_total",
    Counter,
    Some(Count),
    "Polls of async instrumented functions longer than the slow-poll threshold (blocking work in async code).",
    &["function", "module"],
);
/// Label values folded into [`OVERFLOW`](crate::metrics::OVERFLOW), by the family (full name) they were folded in.
pub const OVERFLOW_TOTAL: Family = Family::new(
    "overflow_total",
    Counter,
    Some(Count),
    "Label values folded into __overflow__ because a metric reached its series limit.",
    &["metric"],
);
/// `#[workflow]` runs by outcome (adds `budget_exceeded`).
pub const WORKFLOW_RUNS_TOTAL: Family = Family::new(
    "workflow_runs_total",
    Counter,
    Some(Count),
    "Workflow runs, by outcome status.",
    &["workflow", "status"],
);
/// Wall time of `#[workflow]` runs.
pub const WORKFLOW_DURATION_SECONDS: Family =
    Family::new("workflow_duration_seconds", Histogram, Some(Seconds), "Wall time of workflow runs.", &["workflow"]);
/// `#[workflow]` runs currently running.
pub const WORKFLOW_ACTIVE: Family =
    Family::new("workflow_active", Gauge, Some(Count), "Workflow runs currently running.", &["workflow"]);
/// Workflow runs that exceeded a budget: `deadline`, `hops` or `tokens`.
pub const WORKFLOW_BUDGET_EXCEEDED_TOTAL: Family = Family::new(
    "workflow_budget_exceeded_total",
    Counter,
    Some(Count),
    "Workflow runs that exceeded a budget, by budget.",
    &["workflow", "budget"],
);
/// `#[node]` executions (all attempts of one call) by outcome (adds `timeout`, `budget_exceeded`).
pub const NODE_RUNS_TOTAL: Family = Family::new(
    "node_runs_total",
    Counter,
    Some(Count),
    "Node executions (all attempts of one call), by outcome status.",
    &["workflow", "node", "status"],
);
/// Wall time of `#[node]` executions, retries included.
pub const NODE_DURATION_SECONDS: Family = Family::new(
    "node_duration_seconds",
    Histogram,
    Some(Seconds),
    "Wall time of node executions, retries included.",
    &["workflow", "node"],
);
/// `#[node]` attempts that failed and were retried.
pub const NODE_RETRIES_TOTAL: Family = Family::new(
    "node_retries_total",
    Counter,
    Some(Count),
    "Node attempts that failed and were retried.",
    &["workflow", "node"],
);
/// Every `#[node]` attempt by how it ended: a timed-out attempt that was retried counts as `timeout` here,
/// while the node's run (`node_runs_total`) may still end `ok`.
pub const NODE_ATTEMPTS_TOTAL: Family = Family::new(
    "node_attempts_total",
    Counter,
    Some(Count),
    "Node attempts, retried ones included, by how each ended.",
    &["workflow", "node", "outcome"],
);
/// Health of each check: 1 healthy, 0.5 degraded, 0 unhealthy.
pub const HEALTH_STATUS: Family = Family::new(
    "health_status",
    Gauge,
    None,
    "Health of each check: 1 healthy, 0.5 degraded, 0 unhealthy.",
    &["check"],
);
/// Run time of each health check.
pub const HEALTH_CHECK_DURATION_SECONDS: Family = Family::new(
    "health_check_duration_seconds",
    Histogram,
    Some(Seconds),
    "Run time of each health check.",
    &["check"],
);
/// Requests served through `trace::HttpLayer`, by method, route template and status code
/// (`cancelled` for a request whose response future was dropped: the client went away).
pub const HTTP_SERVER_REQUEST_DURATION_SECONDS: Family = Family::new(
    "http_server_request_duration_seconds",
    Histogram,
    Some(Seconds),
    "Duration of HTTP server requests, by method, route template and status code (cancelled: the client went away first).",
    &["http_request_method", "http_route", "http_response_status_code"],
);
/// Requests in progress in `trace::HttpLayer`.
pub const HTTP_SERVER_ACTIVE_REQUESTS: Family = Family::new(
    "http_server_active_requests",
    Gauge,
    Some(Count),
    "HTTP server requests in progress.",
    &["http_request_method", "http_route"],
);
/// Spans (log records for `signal="logs"`) dropped because the OTLP export queue was full.
pub const EXPORTER_DROPPED_SPANS_TOTAL: Family = Family::new(
    "exporter_dropped_spans_total",
    Counter,
    Some(Count),
    "Spans (log records for signal=\"logs\", metric data points for signal=\"metrics\", tracking items for signal=\"mlflow\") dropped before export because the export queue was full (by count or by weight).",
    &["signal"],
);
/// Spans or log records the OTLP backend accepted.
pub const EXPORTER_EXPORTED_SPANS_TOTAL: Family = Family::new(
    "exporter_exported_spans_total",
    Counter,
    Some(Count),
    "Spans, log records, metric data points or MLflow tracking items the backend accepted.",
    &["signal"],
);
/// Spans or log records lost because their OTLP export failed.
pub const EXPORTER_FAILED_SPANS_TOTAL: Family = Family::new(
    "exporter_failed_spans_total",
    Counter,
    Some(Count),
    "Spans, log records, metric data points or MLflow tracking items lost because their export failed (backend down, slow or refusing).",
    &["signal"],
);
/// Unsampled spans not held for error/latency-based keeping because the tail buffer was full.
pub const EXPORTER_TAIL_BUFFER_OVERFLOW_SPANS_TOTAL: Family = Family::new(
    "exporter_tail_buffer_overflow_spans_total",
    Counter,
    Some(Count),
    "Unsampled spans not held for error/latency-based keeping because the buffer was full.",
    &["signal"],
);
/// JSON (or pretty) log lines dropped because the buffer before stdout was full (a stalled log consumer).
pub const LOG_DROPPED_TOTAL: Family = Family::new(
    "log_dropped_total",
    Counter,
    Some(Count),
    "Log lines dropped because the buffer before stdout was full (the log consumer stalled).",
    &[],
);
/// Callback gauges (`metrics::gauge_fn`) whose callback panicked during a scrape.
pub const METRIC_CALLBACK_PANICS_TOTAL: Family = Family::new(
    "metric_callback_panics_total",
    Counter,
    Some(Count),
    "Callback gauge reads that panicked (the sample was left out of that scrape).",
    &["metric"],
);
/// Log events by level, counted whether or not their line is written.
pub const LOG_EVENTS_TOTAL: Family = Family::new(
    "log_events_total",
    Counter,
    Some(Count),
    "Log events the filter let through, by level (whatever the log format, written or dropped).",
    &["level"],
);
/// The state of each circuit breaker the application reports through `obs_runtime::circuit`.
pub const CIRCUIT_BREAKER_STATE: Family = Family::new(
    "circuit_breaker_state",
    Gauge,
    None,
    "State of each circuit breaker: 0 closed, 1 open, 2 half-open.",
    &["circuit"],
);
/// Changes of state of each circuit breaker.
pub const CIRCUIT_BREAKER_TRANSITIONS_TOTAL: Family = Family::new(
    "circuit_breaker_transitions_total",
    Counter,
    Some(Count),
    "Changes of state of each circuit breaker, from one state to another.",
    &["circuit", "from", "to"],
);
/// Security events reported through `obs_runtime::security`.
pub const SECURITY_EVENTS_TOTAL: Family = Family::new(
    "security_events_total",
    Counter,
    Some(Count),
    "Security events (authentication, authorization, rate limiting, suspicious input) by outcome.",
    &["category", "outcome"],
);
/// Audit records that could not be written (`obs_runtime::audit`: a full disk, say).
pub const AUDIT_WRITE_ERRORS_TOTAL: Family = Family::new(
    "audit_write_errors_total",
    Counter,
    Some(Count),
    "Audit records that could not be written (the caller got the error).",
    &[],
);

/// Items in an `obs_runtime::queue` channel now.
pub const QUEUE_DEPTH: Family =
    Family::new("queue_depth", Gauge, Some(Count), "Items waiting in the queue.", &["queue"]);
/// The most items an `obs_runtime::queue` channel holds.
pub const QUEUE_CAPACITY: Family =
    Family::new("queue_capacity", Gauge, Some(Count), "The most items the queue holds.", &["queue"]);
/// How long items waited in an `obs_runtime::queue` channel, from send to receive.
pub const QUEUE_WAIT_SECONDS: Family = Family::new(
    "queue_wait_seconds",
    Histogram,
    Some(Seconds),
    "Time items spent in the queue, from send to receive.",
    &["queue"],
);
/// `try_send` calls an `obs_runtime::queue` channel refused because it was full.
pub const QUEUE_REJECTED_TOTAL: Family = Family::new(
    "queue_rejected_total",
    Counter,
    Some(Count),
    "Items refused by try_send because the queue was full.",
    &["queue"],
);
/// Worker threads of the watched tokio runtime.
pub const TOKIO_WORKERS: Family =
    Family::new("tokio_workers", Gauge, Some(Count), "Worker threads of the tokio runtime.", &[]);
/// Tasks alive (spawned, not yet finished) in the watched tokio runtime.
pub const TOKIO_ALIVE_TASKS: Family =
    Family::new("tokio_alive_tasks", Gauge, Some(Count), "Tasks alive in the tokio runtime.", &[]);
/// Tasks waiting in the watched tokio runtime's global (injection) queue.
pub const TOKIO_GLOBAL_QUEUE_DEPTH: Family = Family::new(
    "tokio_global_queue_depth",
    Gauge,
    Some(Count),
    "Tasks waiting in the tokio runtime's global queue.",
    &[],
);
/// Time each worker of the watched tokio runtime spent busy; its rate is the worker's busy ratio.
pub const TOKIO_WORKER_BUSY_SECONDS_TOTAL: Family = Family::new(
    "tokio_worker_busy_seconds_total",
    Counter,
    Some(Seconds),
    "Time each tokio worker spent busy (its rate is the busy ratio).",
    &["worker"],
);
/// Times each worker of the watched tokio runtime parked (went idle).
pub const TOKIO_WORKER_PARK_TOTAL: Family = Family::new(
    "tokio_worker_park_total",
    Counter,
    Some(Count),
    "Times each tokio worker parked for lack of work.",
    &["worker"],
);
/// CPU time (user and system) the process has used, read at scrape time.
pub const PROCESS_CPU_SECONDS_TOTAL: Family =
    Family::standard("process_cpu_seconds_total", Counter, Seconds, "Total user and system CPU time spent in seconds.");
/// Resident set size of the process.
pub const PROCESS_RESIDENT_MEMORY_BYTES: Family =
    Family::standard("process_resident_memory_bytes", Gauge, Bytes, "Resident memory size in bytes.");
/// Virtual memory size of the process.
pub const PROCESS_VIRTUAL_MEMORY_BYTES: Family =
    Family::standard("process_virtual_memory_bytes", Gauge, Bytes, "Virtual memory size in bytes.");
/// File descriptors the process has open.
pub const PROCESS_OPEN_FDS: Family =
    Family::standard("process_open_fds", Gauge, Count, "Number of open file descriptors.");
/// The soft limit on open file descriptors (0: unlimited).
pub const PROCESS_MAX_FDS: Family =
    Family::standard("process_max_fds", Gauge, Count, "Maximum number of open file descriptors.");
/// OS threads of the process.
pub const PROCESS_THREADS: Family =
    Family::standard("process_threads", Gauge, Count, "Number of OS threads in the process.");
/// When the process started, in seconds since the Unix epoch.
pub const PROCESS_START_TIME_SECONDS: Family = Family::standard(
    "process_start_time_seconds",
    Gauge,
    Seconds,
    "Start time of the process since unix epoch in seconds.",
);

/// The resource (`service.name`, `service.instance.id`, ...) as one sample of
/// value 1, its attributes as labels (OpenTelemetry's `target` info metric:
/// an info family in OpenMetrics, a gauge in the Prometheus text format).
pub const TARGET_INFO: Family = Family {
    suffix: "target_info",
    metric_type: Gauge,
    unit: None,
    help: "Target metadata",
    labels: &[],
    namespaced: false,
};

/// Every family in the table, in the order the README lists them; [`families`] hands it out.
pub(crate) static FAMILIES: [&Family; 47] = [
    &FUNCTION_CALLS_TOTAL,
    &FUNCTION_DURATION_SECONDS,
    &FUNCTION_ERRORS_TOTAL,
    &FUNCTION_IN_FLIGHT,
    &FUNCTION_POLL_SECONDS,
    &FUNCTION_SLOW_POLLS_TOTAL,
    &OVERFLOW_TOTAL,
    &WORKFLOW_RUNS_TOTAL,
    &WORKFLOW_DURATION_SECONDS,
    &WORKFLOW_ACTIVE,
    &WORKFLOW_BUDGET_EXCEEDED_TOTAL,
    &NODE_RUNS_TOTAL,
    &NODE_DURATION_SECONDS,
    &NODE_RETRIES_TOTAL,
    &HEALTH_STATUS,
    &HEALTH_CHECK_DURATION_SECONDS,
    &HTTP_SERVER_REQUEST_DURATION_SECONDS,
    &HTTP_SERVER_ACTIVE_REQUESTS,
    &EXPORTER_DROPPED_SPANS_TOTAL,
    &EXPORTER_EXPORTED_SPANS_TOTAL,
    &EXPORTER_FAILED_SPANS_TOTAL,
    &EXPORTER_TAIL_BUFFER_OVERFLOW_SPANS_TOTAL,
    &LOG_DROPPED_TOTAL,
    &LOG_EVENTS_TOTAL,
    &CIRCUIT_BREAKER_STATE,
    &CIRCUIT_BREAKER_TRANSITIONS_TOTAL,
    &SECURITY_EVENTS_TOTAL,
    &AUDIT_WRITE_ERRORS_TOTAL,
    &QUEUE_DEPTH,
    &QUEUE_CAPACITY,
    &QUEUE_WAIT_SECONDS,
    &QUEUE_REJECTED_TOTAL,
    &TOKIO_WORKERS,
    &TOKIO_ALIVE_TASKS,
    &TOKIO_GLOBAL_QUEUE_DEPTH,
    &TOKIO_WORKER_BUSY_SECONDS_TOTAL,
    &TOKIO_WORKER_PARK_TOTAL,
    &PROCESS_CPU_SECONDS_TOTAL,
    &PROCESS_RESIDENT_MEMORY_BYTES,
    &PROCESS_VIRTUAL_MEMORY_BYTES,
    &PROCESS_OPEN_FDS,
    &PROCESS_MAX_FDS,
    &PROCESS_THREADS,
    &PROCESS_START_TIME_SECONDS,
    &METRIC_CALLBACK_PANICS_TOTAL,
    &NODE_ATTEMPTS_TOTAL,
    &TARGET_INFO,
];

/// Every metric family obs can emit.
pub fn families() -> &'static [&'static Family] {
    &FAMILIES
}

/// The family whose full name under `namespace` is `name`, if obs emits it.
pub fn find(namespace: &str, name: &str) -> Option<&'static Family> {
    FAMILIES.iter().copied().find(|family| family.name_in(namespace) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_follow_the_prometheus_conventions() {
        let mut seen = std::collections::HashSet::new();
        for family in families() {
            assert!(seen.insert(family.suffix()), "{} is declared twice", family.suffix());
            let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
            assert!(family.suffix().chars().all(valid), "{}", family.suffix());
            match family.metric_type() {
                MetricType::Counter => assert!(family.suffix().ends_with("_total"), "{}", family.suffix()),
                MetricType::Histogram => {
                    assert!(family.suffix().ends_with("_seconds"), "{}", family.suffix());
                    assert_eq!(family.unit(), Some(MetricUnit::Seconds));
                    assert!(!family.labels().contains(&"le"));
                }
                MetricType::Gauge => assert!(!family.suffix().ends_with("_total"), "{}", family.suffix()),
            }
            assert!(!family.help().is_empty() && !family.help().contains('\n'));
        }
    }

    #[test]
    fn names_are_prefixed_by_the_namespace() {
        assert_eq!(NODE_RETRIES_TOTAL.name_in("shop"), "shop_node_retries_total");
        assert_eq!(NODE_RETRIES_TOTAL.name_in(""), "node_retries_total");
        assert_eq!(HEALTH_STATUS.default_name(), "obs_health_status");
        assert_eq!(find("obs", "obs_workflow_active"), Some(&WORKFLOW_ACTIVE));
        assert_eq!(find("obs", "obs_workflow"), None);
        assert_eq!(PROCESS_OPEN_FDS.name_in("shop"), "process_open_fds");
        assert_eq!(find("obs", "process_cpu_seconds_total"), Some(&PROCESS_CPU_SECONDS_TOTAL));
    }
}
