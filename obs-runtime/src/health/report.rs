//! What an evaluation found, and its JSON form.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::HealthStatus;

/// The health of the application for one probe.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HealthReport {
    /// The aggregate status.
    pub status: HealthStatus,
    /// When the checks ran.
    pub timestamp: SystemTime,
    /// The application's version, when known.
    pub version: Option<String>,
    /// Every component evaluated, in declaration order.
    pub checks: Vec<ComponentReport>,
}

/// The result of one component: a check, or a nested group with its own `checks`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ComponentReport {
    /// The component's name within its group.
    pub name: String,
    /// Dotted path from the top (`infra.db`): the `check` label of its metrics.
    pub path: String,
    /// What the check found.
    pub status: HealthStatus,
    /// Whether failing makes its group unhealthy rather than degraded.
    pub critical: bool,
    /// How long the check took.
    pub response_time: Duration,
    /// Why it is not healthy.
    pub error: Option<String>,
    /// Check-specific details.
    pub details: Map<String, Value>,
    /// The components of a nested group.
    pub checks: Vec<ComponentReport>,
}

impl HealthReport {
    /// The component at a dotted path (`db`, `infra.db`).
    pub fn get(&self, path: &str) -> Option<&ComponentReport> {
        find(&self.checks, path)
    }

    /// Whether the HTTP answer is 200 (healthy, degraded) rather than 503.
    pub fn is_available(&self) -> bool {
        self.status != HealthStatus::Unhealthy
    }

    /// The JSON body of `/health`. Without `details`, every check shows its
    /// `status` only: no errors, timings or details that could reveal internals.
    pub fn to_json(&self, details: bool) -> Value {
        let mut body = Map::new();
        body.insert("status".into(), self.status.as_str().into());
        body.insert("timestamp".into(), rfc3339(self.timestamp).into());
        if let Some(version) = &self.version {
            body.insert("version".into(), version.clone().into());
        }
        body.insert("checks".into(), checks_json(&self.checks, details));
        Value::Object(body)
    }
}

impl ComponentReport {
    /// The JSON of this component, as it appears under `checks`.
    pub fn to_json(&self, details: bool) -> Value {
        let mut body = Map::new();
        body.insert("status".into(), self.status.as_str().into());
        if details {
            body.insert("critical".into(), self.critical.into());
            body.insert("response_time_ms".into(), json!((self.response_time.as_secs_f64() * 1e6).round() / 1e3));
            if let Some(error) = &self.error {
                body.insert("error".into(), error.clone().into());
            }
            if !self.details.is_empty() {
                body.insert("details".into(), Value::Object(self.details.clone()));
            }
        }
        if !self.checks.is_empty() {
            body.insert("checks".into(), checks_json(&self.checks, details));
        }
        Value::Object(body)
    }
}

fn checks_json(checks: &[ComponentReport], details: bool) -> Value {
    Value::Object(checks.iter().map(|c| (c.name.clone(), c.to_json(details))).collect())
}

fn find<'a>(checks: &'a [ComponentReport], path: &str) -> Option<&'a ComponentReport> {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let found = checks.iter().find(|c| c.name == head)?;
    match rest {
        Some(rest) => find(&found.checks, rest),
        None => Some(found),
    }
}

fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = String::with_capacity(32);
    crate::log::format::write_rfc3339(&mut out, since.as_secs(), since.subsec_micros());
    out
}
