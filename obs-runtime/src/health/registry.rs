//! The registered health tree, its settings, the result cache shared by
//! concurrent probes, and the flags the application sets itself.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt as _;
use futures_util::future::Shared;

use super::report::{ComponentReport, HealthReport};
use super::{BoxFuture, HealthCheck, HealthStatus, Scope, eval, isolate};

/// Who sees the per-check breakdown (errors, response times, details) of the
/// health endpoints. Status codes and statuses are always shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShowDetails {
    /// Nobody.
    Never,
    /// Requests carrying `Authorization: Bearer <token>` with the configured
    /// token (`Builder::health_token` or `OBS_HEALTH_TOKEN`). Without a token
    /// configured, nobody: the default.
    #[default]
    WhenAuthorized,
    /// Everybody: for endpoints that are not reachable from outside.
    Always,
}

/// Health settings, from the builder. `Debug` does not show the token.
#[derive(Clone)]
pub(crate) struct Settings {
    pub cache_ttl: Duration,
    pub details: ShowDetails,
    pub token: Option<String>,
    pub version: Option<String>,
    pub refresh: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("cache_ttl", &self.cache_ttl)
            .field("details", &self.details)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("version", &self.version)
            .field("refresh", &self.refresh)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cache_ttl: Duration::from_secs(1),
            details: ShowDetails::default(),
            token: None,
            version: None,
            refresh: Duration::from_secs(10),
        }
    }
}

type Evaluation = Shared<BoxFuture<'static, Arc<HealthReport>>>;

#[derive(Clone, Default)]
enum Slot {
    #[default]
    Empty,
    Running(Evaluation),
    Done(Arc<HealthReport>, Instant),
}

#[derive(Default)]
struct Registry {
    group: Option<Arc<dyn HealthCheck>>,
    generation: u64,
    slots: [Slot; 3],
}

static REGISTRY: Mutex<Registry> =
    Mutex::new(Registry { group: None, generation: 0, slots: [Slot::Empty, Slot::Empty, Slot::Empty] });
static SETTINGS: RwLock<Option<Settings>> = RwLock::new(None);
static READY: AtomicBool = AtomicBool::new(true);
static LIVE: AtomicBool = AtomicBool::new(true);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The dotted paths (the `check` label of `obs_health_status`) of the
/// registered checks whose failure makes the report unhealthy: critical
/// components under critical groups only.
#[cfg_attr(not(feature = "ops"), allow(dead_code))]
pub(crate) fn critical_paths() -> Vec<String> {
    let group = registry().group.clone();
    group.map(|group| critical_paths_of(group.as_ref())).unwrap_or_default()
}

/// [`critical_paths`] of `group`, registered or not.
#[cfg_attr(not(feature = "ops"), allow(dead_code))]
pub(crate) fn critical_paths_of(group: &dyn HealthCheck) -> Vec<String> {
    fn collect(group: &dyn HealthCheck, prefix: &str, out: &mut Vec<String>) {
        for component in group.components().into_iter().filter(|c| c.critical) {
            let path =
                if prefix.is_empty() { component.name.to_owned() } else { format!("{prefix}.{}", component.name) };
            if let Some(inner) = component.check.group() {
                collect(inner, &path, out);
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    collect(group, "", &mut out);
    out
}

pub(crate) fn settings() -> Settings {
    SETTINGS.read().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default()
}

pub(crate) fn configure(settings: Settings) {
    *SETTINGS.write().unwrap_or_else(|e| e.into_inner()) = Some(settings);
}

/// Makes `group` the application's health: what `/health` and its probes
/// evaluate. Replaces any group registered before (the builder's
/// `.health(...)` calls this at `init`).
///
/// ```
/// use obs_runtime::health::{HealthCheck, TcpCheck};
///
/// #[derive(HealthCheck)]
/// struct AppHealth {
///     db: TcpCheck,
/// }
///
/// obs_runtime::health::register(AppHealth { db: TcpCheck::new("127.0.0.1:5432") });
/// ```
pub fn register<H: HealthCheck + 'static>(group: H) {
    let mut registry = registry();
    registry.group = Some(Arc::new(group));
    registry.generation += 1;
    registry.slots = Default::default();
}

pub(crate) fn register_arc(group: Arc<dyn HealthCheck>) {
    let mut registry = registry();
    registry.group = Some(group);
    registry.generation += 1;
    registry.slots = Default::default();
}

/// Tells the readiness probe whether to take traffic: `set_ready(false)` while
/// starting up or draining makes `/health/ready` (and `/health`) answer 503
/// with a `ready` check, whatever the other checks say. Ready by default.
pub fn set_ready(ready: bool) {
    READY.store(ready, Ordering::SeqCst);
}

/// Tells the liveness probe that the process is broken beyond repair:
/// `set_live(false)` makes `/health/live` (and `/health`) answer 503, so an
/// orchestrator restarts the process. Live by default.
pub fn set_live(live: bool) {
    LIVE.store(live, Ordering::SeqCst);
}

/// Evaluates the registered checks of `scope`, or returns the cached result
/// when it is younger than the cache time. Concurrent callers share one
/// evaluation. Any executor may drive it (tokio or not): the checks run on
/// obs's own runtime, and this only awaits their report. It never panics: an
/// evaluation that fails as a whole reports `unhealthy`, is not cached, and
/// the next call evaluates again.
///
/// ```no_run
/// # async fn demo() {
/// let report = obs_runtime::health::report(obs_runtime::health::Scope::Readiness).await;
/// println!("{}", report.to_json(true));
/// # }
/// ```
pub async fn report(scope: Scope) -> HealthReport {
    let evaluated = cached(scope).await;
    let mut report = HealthReport::clone(&evaluated);
    if scope != Scope::Liveness && !READY.load(Ordering::SeqCst) {
        report.checks.push(flag("ready", "the application is not ready (set_ready(false))"));
    }
    if scope != Scope::Readiness && !LIVE.load(Ordering::SeqCst) {
        report.checks.push(flag("live", "the application reported itself broken (set_live(false))"));
    }
    report.status = eval::aggregate(&report.checks);
    report
}

/// A critical, unhealthy entry the registry adds itself.
fn flag(name: &str, reason: &str) -> ComponentReport {
    ComponentReport {
        name: name.to_owned(),
        path: name.to_owned(),
        status: HealthStatus::Unhealthy,
        critical: true,
        response_time: Duration::ZERO,
        error: Some(reason.to_owned()),
        details: Default::default(),
        checks: Vec::new(),
    }
}

async fn cached(scope: Scope) -> Arc<HealthReport> {
    let index = scope as usize;
    let ttl = settings().cache_ttl;
    let evaluation = {
        let mut registry = registry();
        match &registry.slots[index] {
            Slot::Done(report, at) if at.elapsed() < ttl => return report.clone(),
            Slot::Running(evaluation) => evaluation.clone(),
            _ => {
                let generation = registry.generation;
                let evaluation = evaluate(registry.group.clone(), scope, generation).boxed().shared();
                registry.slots[index] = Slot::Running(evaluation.clone());
                evaluation
            }
        }
    };
    evaluation.await
}

/// One evaluation, shared by the probes that wait for it. It never panics (a
/// panicking `Shared` would poison every later probe): a panic anywhere in it
/// becomes an `unhealthy` report that empties the slot, so the next probe
/// evaluates again.
async fn evaluate(group: Option<Arc<dyn HealthCheck>>, scope: Scope, generation: u64) -> Arc<HealthReport> {
    let timestamp = SystemTime::now();
    let outcome = match isolate::handle() {
        Some(handle) => handle.spawn(evaluate_checks(group, scope)).await.ok(),
        // No thread for the checks runtime: on the caller's task, still shielded.
        None => AssertUnwindSafe(evaluate_checks(group, scope)).catch_unwind().await.ok(),
    };
    let mut registry = registry();
    let current = registry.generation == generation;
    match outcome {
        Some((checks, version)) => {
            let report = Arc::new(HealthReport { status: eval::aggregate(&checks), timestamp, version, checks });
            if current {
                registry.slots[scope as usize] = Slot::Done(report.clone(), Instant::now());
            }
            report
        }
        None => {
            if current {
                registry.slots[scope as usize] = Slot::Empty;
            }
            drop(registry);
            // The panic's own message may carry anything; the hook has printed it already.
            tracing::warn!(target: "obs::health", event = "health.failed", scope = ?scope,
                "the health evaluation panicked; the next probe evaluates again");
            let checks = vec![flag("health", "the health evaluation panicked; the next probe evaluates again")];
            Arc::new(HealthReport { status: HealthStatus::Unhealthy, timestamp, version: settings().version, checks })
        }
    }
}

/// The checks of `scope` and the version to report: all of what runs the application's code.
async fn evaluate_checks(group: Option<Arc<dyn HealthCheck>>, scope: Scope) -> (Vec<ComponentReport>, Option<String>) {
    let checks = match &group {
        Some(group) => {
            let location = isolate::Location { root: group.clone(), at: Vec::new() };
            eval::evaluate(&**group, scope, "", Some(location)).await
        }
        None => Vec::new(),
    };
    let version = settings().version.or_else(|| group.as_ref().and_then(|g| g.version()).map(str::to_owned));
    (checks, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_of_the_settings_never_shows_the_token() {
        let settings = Settings { token: Some("canary-7f3a9".into()), ..Settings::default() };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("canary-7f3a9") && shown.contains("<redacted>"), "{shown}");
    }
}
