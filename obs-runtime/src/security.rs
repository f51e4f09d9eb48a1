//! Security events with a fixed schema: logged like other events (so they
//! carry the trace of the request they happened in and reach OTLP log
//! export), and counted in `obs_security_events_total{category,outcome}`, so
//! that an alert can fire on a burst of failed logins.
//!
//! ```
//! use obs_runtime::security::{self, SecurityEvent};
//!
//! security::event(SecurityEvent::authentication("user-42").failure("bad password").source("203.0.113.9"));
//! security::event(SecurityEvent::authorization("user-42").resource("invoice/17").success());
//! security::event(SecurityEvent::rate_limit("203.0.113.9").failure("120 requests in 10 s"));
//! ```
//!
//! The fields follow the OpenTelemetry and Elastic Common Schema names:
//! `event.category` (`authentication`, `authorization`, `rate_limit`,
//! `suspicious_input`), `event.outcome` (`success`, `failure`, `unknown`),
//! `user.id` (the user, or the client a rate limit or suspicious input is
//! about), `source.address`, `event.reason`, `resource`; the line's `event` is
//! `security.<category>`. Failures are
//! logged at WARN, the rest at INFO, under the target `obs_runtime::security`.
//! The reason and the resource go through the same URL redaction as error
//! messages (userinfo and query values removed); do not put a password or a
//! token in them otherwise.

use crate::log::redact::RedactUrls;
use crate::metrics::SECURITY_EVENTS_TOTAL;

/// What kind of security event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A login or a credential check.
    Authentication,
    /// A permission check on a resource.
    Authorization,
    /// A client slowed down or refused for its request rate.
    RateLimit,
    /// Input that looks like an attack (injection, traversal, oversized).
    SuspiciousInput,
}

impl Category {
    /// The `event` field of its log line.
    fn event_name(self) -> &'static str {
        match self {
            Category::Authentication => "security.authentication",
            Category::Authorization => "security.authorization",
            Category::RateLimit => "security.rate_limit",
            Category::SuspiciousInput => "security.suspicious_input",
        }
    }

    /// The `event.category` and label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Authentication => "authentication",
            Category::Authorization => "authorization",
            Category::RateLimit => "rate_limit",
            Category::SuspiciousInput => "suspicious_input",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Unknown,
}

impl Outcome {
    /// The `event.outcome` and label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One security event, built up and then passed to [`event`].
#[derive(Debug, Clone)]
#[must_use = "a security event is only recorded when passed to security::event"]
pub struct SecurityEvent {
    category: Category,
    outcome: Outcome,
    subject: String,
    reason: Option<String>,
    source: Option<String>,
    resource: Option<String>,
}

impl SecurityEvent {
    fn new(category: Category, subject: impl Into<String>) -> SecurityEvent {
        SecurityEvent {
            category,
            outcome: Outcome::Unknown,
            subject: subject.into(),
            reason: None,
            source: None,
            resource: None,
        }
    }

    /// A login or credential check of `user_id`.
    pub fn authentication(user_id: impl Into<String>) -> SecurityEvent {
        SecurityEvent::new(Category::Authentication, user_id)
    }

    /// A permission check of `user_id` (name the resource with [`resource`](Self::resource)).
    pub fn authorization(user_id: impl Into<String>) -> SecurityEvent {
        SecurityEvent::new(Category::Authorization, user_id)
    }

    /// A rate limit applied to `client` (a user id, an API key's name, an address).
    pub fn rate_limit(client: impl Into<String>) -> SecurityEvent {
        SecurityEvent::new(Category::RateLimit, client)
    }

    /// Suspicious input from `client`.
    pub fn suspicious_input(client: impl Into<String>) -> SecurityEvent {
        SecurityEvent::new(Category::SuspiciousInput, client)
    }

    /// It succeeded.
    pub fn success(mut self) -> SecurityEvent {
        self.outcome = Outcome::Success;
        self
    }

    /// It failed, and why (`event.reason`).
    pub fn failure(mut self, reason: impl Into<String>) -> SecurityEvent {
        self.outcome = Outcome::Failure;
        self.reason = Some(reason.into());
        self
    }

    /// Where the request came from (`source.address`).
    pub fn source(mut self, address: impl Into<String>) -> SecurityEvent {
        self.source = Some(address.into());
        self
    }

    /// What was asked for (`resource`).
    pub fn resource(mut self, resource: impl Into<String>) -> SecurityEvent {
        self.resource = Some(resource.into());
        self
    }

    pub fn category(&self) -> Category {
        self.category
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
}

/// Logs and counts a security event.
pub fn event(event: SecurityEvent) {
    let category = event.category.as_str();
    let outcome = event.outcome.as_str();
    metrics::counter!(SECURITY_EVENTS_TOTAL.name(), "category" => category, "outcome" => outcome).increment(1);
    let reason = event.reason.as_deref().map(RedactUrls);
    let source = event.source.as_deref();
    let resource = event.resource.as_deref().map(RedactUrls);
    macro_rules! log {
        ($level:ident) => {
            tracing::$level!(
                target: "obs_runtime::security",
                event = event.category.event_name(),
                event.category = category,
                event.outcome = outcome,
                user.id = event.subject.as_str(),
                source.address = source,
                resource = resource.as_ref().map(tracing::field::display),
                event.reason = reason.as_ref().map(tracing::field::display),
                "{category} {outcome}"
            )
        };
    }
    match event.outcome {
        Outcome::Failure => log!(warn),
        _ => log!(info),
    }
}
