//! The metric families obs emits: one table ([`families()`]) declaring each
//! family's name, type, unit, help text and labels, read by `/metrics`, the
//! README checks and the generated operations artifacts.
//!
//! Inside the crate this module also keeps the handles each call site resolves
//! once, so that a call never hashes labels or allocates. With obs's own
//! Prometheus exporter, calls, durations and in-flight counts are kept in obs's
//! sharded `store` and rendered by obs; otherwise they go through the `metrics`
//! facade to whatever recorder the application installed. Errors and overflow
//! always go through the facade.

pub(crate) mod callback;
pub(crate) mod exemplar;
mod families;
pub(crate) mod poll;
pub(crate) mod process;
mod runtime;
pub(crate) mod store;

pub use callback::gauge_fn;
pub use families::{
    AUDIT_WRITE_ERRORS_TOTAL, CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRANSITIONS_TOTAL, DEFAULT_NAMESPACE,
    EXPORTER_DROPPED_SPANS_TOTAL, EXPORTER_EXPORTED_SPANS_TOTAL, EXPORTER_FAILED_SPANS_TOTAL,
    EXPORTER_TAIL_BUFFER_OVERFLOW_SPANS_TOTAL, FUNCTION_CALLS_TOTAL, FUNCTION_DURATION_SECONDS, FUNCTION_ERRORS_TOTAL,
    FUNCTION_IN_FLIGHT, FUNCTION_POLL_SECONDS, FUNCTION_SLOW_POLLS_TOTAL, Family, HEALTH_CHECK_DURATION_SECONDS,
    HEALTH_STATUS, HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION_SECONDS, LOG_DROPPED_TOTAL,
    LOG_EVENTS_TOTAL, METRIC_CALLBACK_PANICS_TOTAL, MetricType, MetricUnit, NODE_ATTEMPTS_TOTAL, NODE_DURATION_SECONDS,
    NODE_RETRIES_TOTAL, NODE_RUNS_TOTAL, OVERFLOW_TOTAL, PROCESS_CPU_SECONDS_TOTAL, PROCESS_MAX_FDS, PROCESS_OPEN_FDS,
    PROCESS_RESIDENT_MEMORY_BYTES, PROCESS_START_TIME_SECONDS, PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY_BYTES,
    QUEUE_CAPACITY, QUEUE_DEPTH, QUEUE_REJECTED_TOTAL, QUEUE_WAIT_SECONDS, SECURITY_EVENTS_TOTAL, TARGET_INFO,
    WORKFLOW_ACTIVE, WORKFLOW_BUDGET_EXCEEDED_TOTAL, WORKFLOW_DURATION_SECONDS, WORKFLOW_RUNS_TOTAL, families, find,
};
pub(crate) use runtime::watch_current as watch_current_runtime;
pub use runtime::watch_tokio_runtime;
#[cfg(feature = "prometheus")]
pub(crate) use runtime::{Samples as RuntimeSamples, read as read_runtime};

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::labels::{self, LabelSite, UNLABELLED};
use crate::slots::Slots;

/// How a call ended; the `status` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Returned normally (for `Result`, returned `Ok`).
    Ok,
    /// Returned `Err`.
    Error,
    /// Panicked; the panic keeps unwinding.
    Panic,
    /// A future dropped before it completed.
    Cancelled,
    /// A `#[node]` attempt ran past its `timeout` (the last attempt, for the node's status).
    Timeout,
    /// A workflow budget (`deadline`, `max_hops`, `max_tokens`) was exceeded.
    BudgetExceeded,
}

impl Status {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Panic => "panic",
            Status::Cancelled => "cancelled",
            Status::Timeout => "timeout",
            Status::BudgetExceeded => "budget_exceeded",
        }
    }

    /// The statuses a plain `#[observe]` function can end with.
    pub(crate) const FUNCTION: [Status; 4] = [Status::Ok, Status::Error, Status::Panic, Status::Cancelled];
    /// Every status, in discriminant order.
    pub(crate) const ALL: [Status; 6] =
        [Status::Ok, Status::Error, Status::Panic, Status::Cancelled, Status::Timeout, Status::BudgetExceeded];
}

/// The label value an over-limit label folds into.
pub use crate::labels::OVERFLOW;

struct State {
    namespace: String,
    max_series: usize,
    error_series: AtomicUsize,
}

static STATE: OnceLock<State> = OnceLock::new();

impl State {
    fn overflow_counter(&self) -> Counter {
        let folded_in = FUNCTION_ERRORS_TOTAL.name_in(&self.namespace);
        metrics::counter!(OVERFLOW_TOTAL.name_in(&self.namespace), "metric" => folded_in)
    }
}

/// Turns metric recording on: from now on call sites resolve their handles,
/// against obs's own store when `own_buckets` is given (obs renders those
/// families itself), else against the installed `metrics` recorder. Describes
/// every metric that goes through the facade (start-up then registers the
/// catalogued call sites at zero).
pub(crate) fn activate(namespace: &str, max_series: usize, label_values: usize, own_buckets: Option<&[f64]>) {
    // The store is in place before `STATE` is, so no call site racing `init`
    // resolves facade handles for the families obs renders itself.
    if let Some(bounds) = own_buckets {
        store::install(store::Families {
            calls: FUNCTION_CALLS_TOTAL.name_in(namespace),
            duration: FUNCTION_DURATION_SECONDS.name_in(namespace),
            in_flight: FUNCTION_IN_FLIGHT.name_in(namespace),
            bounds: bounds.to_vec(),
        });
    }
    STATE.get_or_init(|| State { namespace: namespace.to_owned(), max_series, error_series: AtomicUsize::new(0) });
    // String labels from arguments fold into `__overflow__` past their limit, counted against the
    // calls family of functions and the runs family of workflows and nodes.
    let overflow =
        |family: &Family| metrics::counter!(OVERFLOW_TOTAL.name_in(namespace), "metric" => family.name_in(namespace));
    labels::configure(labels::Limits {
        values: label_values,
        function_overflow: overflow(&FUNCTION_CALLS_TOTAL),
        workflow_overflow: overflow(&WORKFLOW_RUNS_TOTAL),
        node_overflow: overflow(&NODE_RUNS_TOTAL),
    });
    for family in families() {
        let own = store::renders(family) || poll::RENDERED.contains(family);
        // `target_info` is the resource, written by `/metrics` itself.
        let rendered = process::renders(family) || runtime::RENDERED.contains(family) || *family == &TARGET_INFO;
        if (own_buckets.is_none() || !own) && !rendered {
            family.describe();
        }
    }
}

/// The namespace metric names carry: the configured one once metrics are
/// active, [`DEFAULT_NAMESPACE`] before.
pub(crate) fn namespace() -> &'static str {
    STATE.get().map_or(DEFAULT_NAMESPACE, |state| state.namespace.as_str())
}

/// A call site's resolved metric handles.
pub(crate) struct Handles {
    /// The series without labels (a labelled call site's is never shown).
    own: Series,
    function: &'static str,
    module: &'static str,
    /// The error kinds this call site has seen; the last slot is kept for `__overflow__`.
    errors: Box<Slots<ErrorSeries, ERROR_KINDS>>,
    /// `labels(...)`: the call site's label table, and a meter per series of it,
    /// each resolved on first use (all at `init` when every value is known).
    labels: Option<&'static LabelSite>,
    labelled: OnceLock<Box<[OnceLock<Series>]>>,
}

/// Error kinds one call site keeps apart; past that they count as `__overflow__`.
const ERROR_KINDS: usize = 32;

/// Where calls, durations and in-flight counts go.
enum Meter {
    /// obs's own store (obs's Prometheus exporter is installed).
    Own(&'static store::FunctionSeries),
    /// The `metrics` facade, to the application's recorder.
    Facade { calls: [Counter; 4], duration: Histogram, in_flight: Gauge },
    /// A labelled call site's series without labels, which is never shown
    /// (a call's labels select one of its `labelled` meters).
    Unused,
}

/// One label combination's meter: what a call records into, selected once
/// when it starts ([`Handles::series`]) and kept by the call until it ends.
pub(crate) struct Series {
    meter: Meter,
    /// The label series' index (`UNLABELLED` for the call site's own).
    index: usize,
    values: &'static [(&'static str, &'static str)],
}

impl Meter {
    fn resolve(
        state: &State,
        function: &'static str,
        module: &'static str,
        labels: &'static [(&'static str, &'static str)],
    ) -> Meter {
        if let Some(series) = store::labelled_series(function, module, crate::kind::Kind::Function, labels) {
            return Meter::Own(series);
        }
        let ns = state.namespace.as_str();
        let base = |extra: Option<&'static str>| {
            let mut all = vec![metrics::Label::new("function", function), metrics::Label::new("module", module)];
            all.extend(labels.iter().map(|&(name, value)| metrics::Label::new(name, value)));
            all.extend(extra.map(|status| metrics::Label::new("status", status)));
            all
        };
        let calls = Status::FUNCTION
            .map(|status| metrics::counter!(FUNCTION_CALLS_TOTAL.name_in(ns), base(Some(status.as_str()))));
        Meter::Facade {
            calls,
            duration: metrics::histogram!(FUNCTION_DURATION_SECONDS.name_in(ns), base(None)),
            in_flight: metrics::gauge!(FUNCTION_IN_FLIGHT.name_in(ns), base(None)),
        }
    }
}

impl Handles {
    /// The handles of `function` in `module`, once metrics are active.
    pub(crate) fn resolve(
        function: &'static str,
        module: &'static str,
        labels: Option<&'static LabelSite>,
    ) -> Option<Handles> {
        let state = STATE.get()?;
        let meter = if labels.is_some() { Meter::Unused } else { Meter::resolve(state, function, module, &[]) };
        let own = Series { meter, index: UNLABELLED, values: &[] };
        Some(Handles { own, function, module, errors: Box::new(Slots::new()), labels, labelled: OnceLock::new() })
    }

    /// The series `labels` selects (the call site's own without labels): a
    /// call looks it up once, at its start, and ends on the same one.
    #[inline]
    pub(crate) fn series(&self, labels: usize) -> &Series {
        if labels == UNLABELLED {
            return &self.own;
        }
        self.labelled(labels).unwrap_or(&self.own)
    }

    #[inline]
    fn labelled(&self, index: usize) -> Option<&Series> {
        let table = match self.labelled.get() {
            Some(table) => table,
            None => self.labelled_table()?,
        };
        let slot = table.get(index)?;
        match slot.get() {
            Some(series) => Some(series),
            None => self.resolve_labelled(slot, index),
        }
    }

    #[cold]
    fn labelled_table(&self) -> Option<&[OnceLock<Series>]> {
        let len = self.labels?.table()?.len();
        Some(self.labelled.get_or_init(|| (0..len).map(|_| OnceLock::new()).collect()))
    }

    #[cold]
    fn resolve_labelled<'a>(&self, slot: &'a OnceLock<Series>, index: usize) -> Option<&'a Series> {
        let state = STATE.get()?;
        let table = self.labels?.table()?;
        Some(slot.get_or_init(|| {
            let values: &'static [(&'static str, &'static str)] = table.values(index).leak();
            Series { meter: Meter::resolve(state, self.function, self.module, values), index, values }
        }))
    }

    /// Registers every series of a labelled call site at zero when its value
    /// sets are all known (enum labels only); string labels register as they are seen.
    pub(crate) fn preregister(&self) {
        if let Some(table) = self.labels.and_then(LabelSite::table)
            && table.all_known()
        {
            for index in 0..table.len() {
                let _ = self.labelled(index);
            }
        }
    }

    /// Counts an error of `kind` in `series` (the one the call started on); kinds beyond the series limit fold
    /// into `__overflow__`, and every folded error is counted in `obs_overflow_total`.
    pub(crate) fn error(&self, kind: &'static str, series: &Series) {
        let Some(state) = STATE.get() else { return };
        let (labels, values) = (series.index, series.values);
        // Seen kinds are read without a lock; only adding a new one takes the list's lock.
        let added = self.errors.get_or_add(
            |series| series.kind == kind && series.labels == labels,
            |len| {
                // The last slot is kept for `__overflow__`, which later kinds then share.
                let fits =
                    len < ERROR_KINDS - 1 && state.error_series.fetch_add(1, Ordering::Relaxed) < state.max_series;
                let label = if fits { kind } else { OVERFLOW };
                let mut all = vec![
                    metrics::Label::new("function", self.function),
                    metrics::Label::new("module", self.module),
                    metrics::Label::new("error", label),
                ];
                all.extend(values.iter().map(|&(name, value)| metrics::Label::new(name, value)));
                let counter = metrics::counter!(FUNCTION_ERRORS_TOTAL.name_in(&state.namespace), all);
                let overflow = (!fits).then(|| state.overflow_counter());
                ErrorSeries { kind, labels, counter, overflow }
            },
        );
        // Full: the error is counted with the `__overflow__` series in the last slot.
        let found = added.or_else(|| self.errors.last());
        let Some(series) = found else { return };
        series.counter.increment(1);
        if let Some(overflow) = &series.overflow {
            overflow.increment(1);
        }
    }
}

impl Series {
    #[inline]
    pub(crate) fn start(&self) {
        match &self.meter {
            Meter::Own(series) => series.start(),
            Meter::Facade { in_flight, .. } => in_flight.increment(1.0),
            Meter::Unused => {}
        }
    }

    #[inline]
    pub(crate) fn end(&self, status: Status, elapsed: Duration, span: &tracing::Span) {
        match &self.meter {
            Meter::Own(series) => series.end_traced(status, elapsed, span),
            Meter::Facade { calls, duration, in_flight } => {
                in_flight.decrement(1.0);
                if let Some(calls) = calls.get(status as usize) {
                    calls.increment(1);
                }
                duration.record(elapsed.as_secs_f64());
            }
            Meter::Unused => {}
        }
    }
}

struct ErrorSeries {
    kind: &'static str,
    /// The index of the call's label series (`labels(...)`), or `UNLABELLED`.
    labels: usize,
    counter: Counter,
    /// `obs_overflow_total{metric="…errors_total"}`, for kinds folded into `__overflow__`.
    overflow: Option<Counter>,
}

/// Whether metrics have been activated by `init`.
pub(crate) fn active() -> bool {
    STATE.get().is_some()
}
