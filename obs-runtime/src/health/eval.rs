//! Running a tree of checks: concurrently, each bounded by its timeout and
//! shielded from the others' panics, recording spans, metrics and changes.
//! A check of the registered tree runs on a thread of its own (see
//! [`isolate`](super::isolate)); a group checked on its own runs inline.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::join_all;
use tracing::Instrument as _;

use super::isolate::{self, Location};
use super::report::ComponentReport;
use super::{BoxFuture, CheckResult, Component, DEFAULT_TIMEOUT, HealthCheck, HealthStatus, Scope};

/// Evaluates the components of `group` that belong to `scope`, all at once.
/// `prefix` is the dotted path of the group (empty at the top). With a
/// `location` (where `group` sits in the registered tree), each check runs on
/// the checks runtime's blocking pool; without one, on this task.
pub(crate) fn evaluate<'a>(
    group: &'a dyn HealthCheck,
    scope: Scope,
    prefix: &'a str,
    location: Option<Location>,
) -> BoxFuture<'a, Vec<ComponentReport>> {
    Box::pin(async move {
        let runs = group
            .components()
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.in_scope(scope))
            .map(|(index, c)| {
                let path = if prefix.is_empty() { c.name.to_owned() } else { format!("{prefix}.{}", c.name) };
                run(c, path, scope, location.as_ref().map(|l| l.child(index)))
            })
            .collect::<Vec<_>>();
        join_all(runs).await
    })
}

/// The span of one check's evaluation.
pub(crate) const CHECK_SPAN: &str = "health.check";

async fn run(component: Component<'_>, path: String, scope: Scope, location: Option<Location>) -> ComponentReport {
    let timeout = component.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let span = tracing::info_span!(target: "obs::health", CHECK_SPAN, check = %path, status = tracing::field::Empty);
    let started = Instant::now();
    let work = async {
        match component.check.group() {
            Some(group) => {
                let children = evaluate(group, scope, &path, location).await;
                (group_result(&children), children)
            }
            None => match (location, isolate::handle()) {
                (Some(location), Some(handle)) => {
                    (isolate::run(handle, location, &path, span.clone()).await, Vec::new())
                }
                _ => (component.check.check_boxed().await, Vec::new()),
            },
        }
    };
    let outcome = tokio::time::timeout(timeout, AssertUnwindSafe(work).catch_unwind()).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let (result, checks) = match outcome {
        Ok(Ok(done)) => done,
        Ok(Err(panic)) => (CheckResult::unhealthy(format!("check panicked: {}", panic_message(&*panic))), Vec::new()),
        Err(_) => (CheckResult::unhealthy(format!("timed out after {}", human(timeout))), Vec::new()),
    };
    span.record("status", result.status.as_str());
    // Inside the span, so a change event carries the check's trace and span ids.
    span.in_scope(|| record(&path, &result, elapsed));
    ComponentReport {
        name: component.name.to_owned(),
        path,
        status: result.status,
        critical: component.critical,
        response_time: elapsed,
        error: result.error,
        details: result.details,
        checks,
    }
}

/// Unhealthy if a critical component is unhealthy, degraded if any is not
/// healthy, healthy otherwise.
pub(crate) fn aggregate(components: &[ComponentReport]) -> HealthStatus {
    let mut status = HealthStatus::Healthy;
    for c in components {
        match c.status {
            HealthStatus::Healthy => {}
            HealthStatus::Unhealthy if c.critical => return HealthStatus::Unhealthy,
            _ => status = HealthStatus::Degraded,
        }
    }
    status
}

/// The result of a nested group: its aggregate, naming the components at fault.
pub(crate) fn group_result(children: &[ComponentReport]) -> CheckResult {
    let status = aggregate(children);
    if status == HealthStatus::Healthy {
        return CheckResult::healthy();
    }
    let failing: Vec<&str> =
        children.iter().filter(|c| c.status != HealthStatus::Healthy).map(|c| c.name.as_str()).collect();
    let reason = format!("not healthy: {}", failing.join(", "));
    match status {
        HealthStatus::Unhealthy => CheckResult::unhealthy(reason),
        _ => CheckResult::degraded(reason),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("?")
}

pub(crate) fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

/// The last status seen per check path, to log changes rather than probes.
fn last_seen() -> &'static Mutex<HashMap<String, HealthStatus>> {
    static LAST: OnceLock<Mutex<HashMap<String, HealthStatus>>> = OnceLock::new();
    LAST.get_or_init(Default::default)
}

fn record(path: &str, result: &CheckResult, elapsed: Duration) {
    if crate::metrics::active() {
        use crate::metrics::{HEALTH_CHECK_DURATION_SECONDS, HEALTH_STATUS};
        metrics::gauge!(HEALTH_STATUS.name(), "check" => path.to_owned()).set(result.status.gauge_value());
        metrics::histogram!(HEALTH_CHECK_DURATION_SECONDS.name(), "check" => path.to_owned())
            .record(elapsed.as_secs_f64());
    }
    let previous = {
        let mut last = last_seen().lock().unwrap_or_else(|e| e.into_inner());
        last.insert(path.to_owned(), result.status)
    };
    let new = result.status;
    let old = match previous {
        Some(old) if old == new => return,
        Some(old) => old.as_str(),
        // The first result is news only when it is bad.
        None if new == HealthStatus::Healthy => return,
        None => "unknown",
    };
    let error = result.error.as_deref().unwrap_or("");
    if new == HealthStatus::Healthy {
        tracing::info!(target: "obs::health", event = "health.changed", check = path, old, new = new.as_str(),
            "health of {path} changed from {old} to {new}");
    } else {
        tracing::warn!(target: "obs::health", event = "health.changed", check = path, old, new = new.as_str(),
            reason = error, "health of {path} changed from {old} to {new}: {error}");
    }
}
