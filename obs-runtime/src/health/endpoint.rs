//! `GET /health`, `/health/live`, `/health/ready` and `/health/{component}`.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::registry::settings;
use super::{HealthStatus, Scope, ShowDetails, report};

/// Adds the health routes to `router`.
pub(crate) fn routes(router: Router) -> Router {
    router
        .route("/health", get(|headers: HeaderMap| probe(Scope::All, headers)))
        .route("/health/live", get(|headers: HeaderMap| probe(Scope::Liveness, headers)))
        .route("/health/ready", get(|headers: HeaderMap| probe(Scope::Readiness, headers)))
        .route("/health/{component}", get(component))
}

async fn probe(scope: Scope, headers: HeaderMap) -> Response {
    let report = report(scope).await;
    json(report.status, report.to_json(authorized(&headers)))
}

async fn component(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let report = report(Scope::All).await;
    let Some(found) = report.get(&path) else {
        let body = serde_json::json!({ "error": format!("no health check named {path:?}") });
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    };
    json(found.status, found.to_json(authorized(&headers)))
}

fn json(status: HealthStatus, body: serde_json::Value) -> Response {
    let code = if status == HealthStatus::Unhealthy { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (code, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body.to_string())
        .into_response()
}

/// Whether this request may see the per-check breakdown.
fn authorized(headers: &HeaderMap) -> bool {
    let settings = settings();
    match settings.details {
        ShowDetails::Never => false,
        ShowDetails::Always => true,
        ShowDetails::WhenAuthorized => {
            let Some(token) = settings.token.filter(|t| !t.is_empty()) else { return false };
            let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_credentials);
            given.is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
        }
    }
}

/// The credentials of a `Bearer` authorization: the scheme is case-insensitive
/// and one or more spaces follow it (RFC 9110 §11.4, RFC 6750 §2.1).
pub(crate) fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credentials.trim_matches(' '))
}

/// Compares every byte of equal-length values without an early exit, so
/// timing does not reveal how much of a guess was right (only its length).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // `black_box` keeps the optimiser from turning the fold back into a comparison that stops early.
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_any_number_of_spaces_may_follow_it() {
        for value in ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "BeArEr    s3cret", "Bearer s3cret  "] {
            assert_eq!(bearer_credentials(value), Some("s3cret"), "{value:?}");
        }
        for value in ["Bearers3cret", "Basic s3cret", "s3cret", "Bearer"] {
            assert_ne!(bearer_credentials(value), Some("s3cret"), "{value:?}");
        }
    }

    #[test]
    fn tokens_match_only_when_every_byte_does() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT") && !constant_time_eq(b"x3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret") && !constant_time_eq(b"", b"s3cret"));
    }
}
