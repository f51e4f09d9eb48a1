//! Health checks: liveness, readiness and component health, wired into telemetry.
//!
//! Derive [`HealthCheck`] on a struct whose fields implement [`Check`], register
//! it, and the runtime's HTTP server answers `GET /health`, `/health/live`,
//! `/health/ready` and `/health/{component}`:
//!
//! ```no_run
//! use obs_runtime::health::{DiskSpaceCheck, HealthCheck, TcpCheck};
//!
//! #[derive(HealthCheck)]
//! struct AppHealth {
//!     #[health(critical, timeout = "1s")]
//!     db: TcpCheck,
//!     #[health(non_critical, liveness)]
//!     disk: DiskSpaceCheck,
//! }
//!
//! # fn main() {
//! let _guard = obs_runtime::builder()
//!     .health(AppHealth { db: TcpCheck::new("127.0.0.1:5432"), disk: DiskSpaceCheck::new("/") })
//!     .init()
//!     .expect("telemetry");
//! # }
//! ```
//!
//! Checks run concurrently, each bounded by its timeout (default 5 s); a check
//! that times out or panics reports `unhealthy` with the reason. The report is
//! `unhealthy` when a critical check is unhealthy, `degraded` when any check is
//! not healthy, `healthy` otherwise; HTTP answers 503 only for `unhealthy`.
//! Results are cached (1 s by default) and concurrent probes share one
//! evaluation; a background thread also evaluates every 10 s (configurable, at least 100 ms) so
//! that metrics stay current when nothing probes. Every check is a `health.check` span, sets
//! `obs_health_status{check}` (1, 0.5, 0) and `obs_health_check_duration_seconds{check}`,
//! and a change of status logs one `health.changed` event.
//!
//! Checks run on obs's own runtime, each on a thread of its blocking pool, never
//! on the thread that serves the endpoints: a check that blocks its thread fails
//! at its timeout without holding up `/metrics`, `/health/live` or the other
//! checks (see `docs/health.md`).

mod checks;
#[cfg(feature = "http")]
pub(crate) mod endpoint;
mod eval;
mod isolate;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
mod refresh;
pub(crate) mod registry;
mod report;
mod workflow_success;

#[cfg(feature = "otlp")]
pub(crate) use eval::CHECK_SPAN;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use checks::{DiskSpaceCheck, FnCheck, HttpCheck, MemoryCheck, TcpCheck, from_fn};
pub use obs_macros::HealthCheck;
#[cfg(feature = "postgres")]
pub use postgres::PostgresCheck;
#[cfg(feature = "redis")]
pub use redis::RedisCheck;
pub use registry::{ShowDetails, register, report, set_live, set_ready};
pub use report::{ComponentReport, HealthReport};
pub use workflow_success::WorkflowSuccessCheck;

pub(crate) use refresh::start as start_refresh;
pub(crate) use registry::{Settings, configure, register_arc};

/// The default bound on one check's run time.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The health of a check, a group or a whole report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthStatus {
    /// Working as intended.
    Healthy,
    /// Working, with a problem worth attention (a non-critical check failing, a warning threshold passed).
    Degraded,
    /// Not working.
    Unhealthy,
}

impl HealthStatus {
    /// `healthy`, `degraded` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// The value of `obs_health_status`: 1, 0.5 or 0.
    pub fn gauge_value(self) -> f64 {
        match self {
            HealthStatus::Healthy => 1.0,
            HealthStatus::Degraded => 0.5,
            HealthStatus::Unhealthy => 0.0,
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one run of a [`Check`] found.
///
/// ```
/// use obs_runtime::health::{CheckResult, HealthStatus};
///
/// let result = CheckResult::degraded("replica lag 12 s").with_detail("lag_seconds", 12);
/// assert_eq!(result.status(), HealthStatus::Degraded);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    status: HealthStatus,
    error: Option<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

impl CheckResult {
    /// A passing check.
    pub fn healthy() -> Self {
        CheckResult { status: HealthStatus::Healthy, error: None, details: serde_json::Map::new() }
    }

    /// A check that works but wants attention; `reason` is shown as `error`.
    pub fn degraded(reason: impl Into<String>) -> Self {
        CheckResult { status: HealthStatus::Degraded, error: Some(reason.into()), details: serde_json::Map::new() }
    }

    /// A failing check; `reason` is shown as `error`.
    pub fn unhealthy(reason: impl Into<String>) -> Self {
        CheckResult { status: HealthStatus::Unhealthy, error: Some(reason.into()), details: serde_json::Map::new() }
    }

    /// Adds a check-specific detail (shown only to authorized readers, see [`ShowDetails`]).
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// The status found.
    pub fn status(&self) -> HealthStatus {
        self.status
    }

    /// Why the check is not healthy.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The check-specific details.
    pub fn details(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.details
    }
}

/// `Ok` is healthy, `Err` is unhealthy with the error's message.
impl<E: fmt::Display> From<Result<(), E>> for CheckResult {
    fn from(result: Result<(), E>) -> Self {
        match result {
            Ok(()) => CheckResult::healthy(),
            Err(err) => CheckResult::unhealthy(err.to_string()),
        }
    }
}

/// `true` is healthy, `false` unhealthy.
impl From<bool> for CheckResult {
    fn from(ok: bool) -> Self {
        if ok { CheckResult::healthy() } else { CheckResult::unhealthy("check returned false") }
    }
}

/// One dependency or condition to check. Implement it for your own checks; a
/// type that derives [`HealthCheck`] implements it too and nests as a group.
///
/// ```
/// use obs_runtime::health::{Check, CheckResult};
///
/// struct QueueDepth(std::sync::atomic::AtomicUsize);
///
/// impl Check for QueueDepth {
///     async fn check(&self) -> CheckResult {
///         let depth = self.0.load(std::sync::atomic::Ordering::Relaxed);
///         let result = if depth > 1000 { CheckResult::degraded("queue backing up") } else { CheckResult::healthy() };
///         result.with_detail("depth", depth)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a health check: it does not implement `obs_runtime::health::Check`",
    label = "this field is checked by #[derive(HealthCheck)]",
    note = "implement `obs_runtime::health::Check` for it, derive `HealthCheck` on it to nest it as a group, \
            or leave it out with `#[health(skip)]`"
)]
pub trait Check: Send + Sync {
    /// Runs the check once. It is bounded by the component's timeout and may be
    /// cancelled when that passes.
    fn check(&self) -> impl Future<Output = CheckResult> + Send;

    /// The group this check is, when it derives [`HealthCheck`]: its
    /// components are then reported one by one, nested.
    #[doc(hidden)]
    fn as_group(&self) -> Option<&dyn HealthCheck> {
        None
    }
}

/// A set of named components, usually implemented by `#[derive(HealthCheck)]`.
///
/// Field attributes of the derive: `name = "..."` (default: the field name),
/// `critical` (the default) or `non_critical` (failing makes the report
/// `degraded`, not `unhealthy`), `timeout = "1s"` (also `"500ms"`, `"2m"`),
/// `liveness` and/or `readiness` (which probe includes it; readiness by
/// default), `skip` (not a check).
pub trait HealthCheck: Send + Sync {
    /// The components, in order.
    fn components(&self) -> Vec<Component<'_>>;

    /// The version reported in `/health` when the builder does not set one.
    fn version(&self) -> Option<&'static str> {
        None
    }
}

/// Which probe a component belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every component (`/health`).
    All,
    /// Liveness components (`/health/live`): failing ones mean restart the process.
    Liveness,
    /// Readiness components (`/health/ready`): failing ones mean send no traffic.
    Readiness,
}

/// One named entry of a [`HealthCheck`]: a check and how it counts.
pub struct Component<'a> {
    pub(crate) name: &'static str,
    pub(crate) check: &'a dyn DynCheck,
    pub(crate) critical: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) liveness: bool,
    pub(crate) readiness: bool,
}

impl<'a> Component<'a> {
    /// A critical readiness component with the default timeout.
    pub fn new<C: Check>(name: &'static str, check: &'a C) -> Self {
        Component { name, check, critical: true, timeout: None, liveness: false, readiness: true }
    }

    /// Whether failing makes the report `unhealthy` (true) or only `degraded`.
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// Bounds the check's run time.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Which probes include this component.
    pub fn probes(mut self, liveness: bool, readiness: bool) -> Self {
        self.liveness = liveness;
        self.readiness = readiness;
        self
    }

    pub(crate) fn in_scope(&self, scope: Scope) -> bool {
        match scope {
            Scope::All => true,
            Scope::Liveness => self.liveness,
            Scope::Readiness => self.readiness,
        }
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Check`] made object safe, so groups can hold different check types.
pub(crate) trait DynCheck: Send + Sync {
    fn check_boxed(&self) -> BoxFuture<'_, CheckResult>;
    fn group(&self) -> Option<&dyn HealthCheck>;
}

impl<T: Check> DynCheck for T {
    fn check_boxed(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin(self.check())
    }
    fn group(&self) -> Option<&dyn HealthCheck> {
        self.as_group()
    }
}

/// Evaluates a group on its own, as the `check` of a type deriving [`HealthCheck`]
/// that is used outside a registered tree.
#[doc(hidden)]
pub async fn check_group(group: &dyn HealthCheck) -> CheckResult {
    let children = eval::evaluate(group, Scope::All, "", None).await;
    eval::group_result(&children)
}
