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
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            constant_time_eq(given.trim().as_bytes(), token.as_bytes())
        }
    }
}

/// Compares without an early exit, so timing does not reveal the token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
