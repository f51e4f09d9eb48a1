//! What a workflow or node adds to a measured call, as the call path's
//! [`Hook`]: the run it belongs to, its attempt, the statuses only workflows
//! and nodes have (`timeout`, `budget_exceeded`), their events and metrics.

use std::sync::Arc;
use std::time::Duration;

use tracing::Span;
use tracing_core::field::Value;

use super::active;
use super::context::Ctx;
use super::graph::{self, EdgeKind};
use super::metrics::{FlowMeter, NO_WORKFLOW};
use super::run::Run;
use super::site::FlowSite;
use crate::call::{Call, End, Extra, Hook, Outcome, emit, record_outcome};
use crate::callsite::{Site, hint_missing_init};
use crate::error::ErrorMessage;
use crate::metrics::Status;

/// The workflow-specific part of a measured call.
pub(crate) struct FlowCall {
    pub site: &'static FlowSite,
    pub run: Option<Arc<Run>>,
    pub meter: Option<FlowMeter>,
    pub role: Role,
    pub attempt: u32,
    pub timed_out: bool,
    /// When the current attempt began, since the run started (tracked runs only:
    /// each attempt's duration is an MLflow metric point).
    attempt_began: Duration,
}

pub(crate) enum Role {
    Workflow,
    Node { from: &'static str, kind: EdgeKind },
}

impl FlowCall {
    pub(crate) fn workflow(site: &'static FlowSite, run: Arc<Run>) -> FlowCall {
        let meter = run.handles.map(FlowMeter::Workflow);
        FlowCall {
            site,
            run: Some(run),
            meter,
            role: Role::Workflow,
            attempt: 0,
            timed_out: false,
            attempt_began: Duration::ZERO,
        }
    }

    /// A node call under the current run (if any), placed in the run's progress,
    /// counted in the series its `labels(...)` selected.
    pub(crate) fn node(site: &'static FlowSite, ctx: Option<Ctx>, labels: usize) -> FlowCall {
        let node = site.name();
        let (run, from, kind) = match ctx {
            Some(ctx) => {
                let (from, kind) = match ctx.node {
                    Some(parent) => (parent, EdgeKind::Inside),
                    None => (ctx.run.progress().last_top.unwrap_or("start"), EdgeKind::Then),
                };
                ctx.run.progress().running.push(node);
                (Some(ctx.run), from, kind)
            }
            None => (None, "start", EdgeKind::Then),
        };
        let workflow = run.as_ref().map_or(NO_WORKFLOW, |run| run.name());
        let meter = if site.site.records_metrics() { site.handles.node(site.site, workflow, labels) } else { None };
        FlowCall {
            site,
            run,
            meter: meter.map(FlowMeter::Node),
            role: Role::Node { from, kind },
            attempt: 1,
            timed_out: false,
            attempt_began: Duration::ZERO,
        }
    }

    /// Starts the call; `announce` logs its `*.start` event in `span`.
    pub(crate) fn start(mut self, span: &Span, announce: bool) -> Call<FlowCall> {
        self.attempt_began();
        match self.meter {
            Some(meter) => meter.start(),
            None => hint_missing_init(self.site.site),
        }
        let call = Call::with_hook(self.site.site, self);
        if announce {
            call.hook().announce(span);
        }
        call
    }

    pub(crate) fn is_node(&self) -> bool {
        matches!(self.role, Role::Node { .. })
    }

    /// Records the attempt number on the (entered) span and logs `*.start`.
    pub(crate) fn announce(&self, span: &Span) {
        let attempt = self.is_node().then_some(self.attempt);
        if !span.is_disabled() {
            span.record("node", self.site.name());
            if let Some(attempt) = attempt {
                span.record("attempt", attempt);
            }
        }
        let event = if self.is_node() { "node.start" } else { "workflow.start" };
        emit(self.site.site, &self.site.start, "started", event, Extra { attempt, ..Extra::default() });
    }

    /// Makes the run an MLflow run (a tracked workflow's first poll, inside its span).
    pub(crate) fn track(&self, span: &Span, tracking: crate::mlflow::Tracking) {
        if let Some(run) = &self.run {
            run.set_tracked();
            crate::mlflow::run_started(run.id, run.name(), run.started_at, span, tracking);
        }
    }

    /// A node attempt begins (the first, or a retry).
    pub(crate) fn attempt_began(&mut self) {
        if let Some(run) = self.run.as_ref().filter(|run| run.tracked() && self.is_node()) {
            self.attempt_began = run.elapsed();
        }
    }

    /// A tracked node attempt ended: its duration, the attempt as step.
    fn attempt_ended(&self) {
        if let Some(run) = self.run.as_ref().filter(|run| run.tracked()) {
            let seconds = run.elapsed().saturating_sub(self.attempt_began).as_secs_f64();
            crate::mlflow::node_ended(run.id, self.site.name(), self.attempt, seconds);
        }
    }

    /// One attempt of a node failed (or timed out) and will be retried.
    pub(crate) fn retried(&self) {
        let outcome = if self.timed_out { Status::Timeout } else { Status::Error };
        if let Some(FlowMeter::Node(handles)) = self.meter {
            handles.retried(outcome);
        }
        if let (Role::Node { from, kind }, Some(run)) = (&self.role, &self.run) {
            graph::record_retry(&self.site.shape, run.name(), from, self.site.name(), *kind);
        }
        #[cfg(feature = "testing")]
        if crate::testing::capturing() {
            crate::testing::ended(self.site.site, outcome, None, self.workflow(), None, true);
        }
        self.attempt_ended();
    }
}

impl Hook for FlowCall {
    fn status(&self, ended: Status) -> Status {
        let exceeded = self.run.as_ref().and_then(|run| run.exceeded()).is_some();
        let aborted = self.run.as_ref().is_some_and(|run| run.aborted());
        match ended {
            Status::Error if self.timed_out => Status::Timeout,
            Status::Error if exceeded => Status::BudgetExceeded,
            Status::Cancelled if aborted && self.is_node() => Status::BudgetExceeded,
            other => other,
        }
    }

    fn end(&self, status: Status, elapsed: Duration) {
        if let Some(meter) = self.meter {
            meter.end(status, elapsed.as_secs_f64());
        }
        match (&self.role, &self.run) {
            (Role::Workflow, Some(run)) => {
                active::finish(run);
                graph::record_run(&self.site.shape, run.name(), status);
                if run.tracked() {
                    crate::mlflow::run_ended(run.id, status, run.tokens_used());
                }
            }
            (Role::Node { from, kind }, Some(run)) => {
                let node = self.site.name();
                {
                    let mut progress = run.progress();
                    progress.complete(node);
                    if *kind == EdgeKind::Then {
                        progress.last_top = Some(node);
                    }
                }
                graph::record_node(&self.site.shape, run.name(), from, node, *kind, status);
                self.attempt_ended();
            }
            _ => {}
        }
    }

    fn event_site(&self, status: Status) -> Option<&'static Site> {
        match status {
            Status::Timeout => Some(&self.site.timeout),
            Status::BudgetExceeded => Some(&self.site.budget),
            _ => None,
        }
    }

    fn event_name(&self, status: Status) -> &'static str {
        let node = self.is_node();
        let word = |workflow, node_word| if node { node_word } else { workflow };
        match status {
            Status::Ok => word("workflow.success", "node.success"),
            Status::Error => word("workflow.error", "node.error"),
            Status::Panic => word("workflow.panic", "node.panic"),
            Status::Cancelled => word("workflow.cancelled", "node.cancelled"),
            Status::Timeout => word("workflow.timeout", "node.timeout"),
            Status::BudgetExceeded => word("workflow.budget_exceeded", "node.budget_exceeded"),
        }
    }

    fn attempt(&self) -> Option<u32> {
        self.is_node().then_some(self.attempt)
    }

    fn workflow(&self) -> Option<&'static str> {
        match (&self.role, &self.run) {
            (Role::Workflow, _) => Some(self.site.name()),
            (Role::Node { .. }, Some(run)) => Some(run.name()),
            (Role::Node { .. }, None) => None,
        }
    }

    fn budget(&self, status: Status) -> Option<&'static str> {
        if status != Status::BudgetExceeded {
            return None;
        }
        self.run.as_ref().and_then(|run| run.exceeded()).map(|budget| budget.as_str())
    }
}

/// Handed to the generated classifier when a workflow run or a node attempt
/// returns: it ends the call, or, for an attempt that will be retried, logs
/// `node.retry` instead.
#[doc(hidden)]
pub struct FlowCompletion<'a> {
    target: Target,
    span: &'a Span,
}

enum Target {
    End(Call<FlowCall>),
    Retry { site: &'static FlowSite, attempt: u32, backoff: Duration },
}

impl<'a> FlowCompletion<'a> {
    pub(crate) fn end(call: Call<FlowCall>, span: &'a Span) -> Self {
        FlowCompletion { target: Target::End(call), span }
    }

    pub(crate) fn retry(site: &'static FlowSite, attempt: u32, backoff: Duration, span: &'a Span) -> Self {
        FlowCompletion { target: Target::Retry { site, attempt, backoff }, span }
    }
}

impl Outcome for FlowCompletion<'_> {
    fn finish(self, end: End<'_>) {
        match self.target {
            Target::End(call) => call.end(self.span, end),
            Target::Retry { site, attempt, backoff } => {
                // Only errors are retried.
                let End::Error(kind, message) = end else { return };
                // `error.message` recorded once: an exporter reading the first value
                // must not find an empty one.
                if !self.span.is_disabled() {
                    record_outcome(self.span, Status::Error, &end);
                }
                let display = tracing::field::display(&message);
                let error: Option<&dyn Value> = match &message {
                    ErrorMessage::Error(e) => Some(e as &dyn Value),
                    ErrorMessage::None => None,
                    _ => Some(&display),
                };
                let extra = Extra {
                    kind: Some(&kind),
                    error,
                    attempt: Some(attempt),
                    backoff_ms: Some(backoff.as_micros() as f64 / 1000.0),
                    ..Extra::default()
                };
                emit(site.site, &site.retry, "failed, retrying", "node.retry", extra);
            }
        }
    }
}
