//! `GET` and `PUT /obs/log-level`: the log filter in force, changed without a
//! restart. `PUT` takes a `RUST_LOG`-style directive as its body and, with
//! `?ttl=10m`, reverts by itself after that long. Changing it needs the bearer
//! token of the health details (`Authorization: Bearer <token>`); with no token
//! configured it is refused, unless the application opted in to an open
//! endpoint on a loopback address.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::seam::{Configured, Exporter, Settings, StartContext};
use crate::init_error::InitError;
use crate::log::level::{self, ChangeError};

/// On when obs serves HTTP and installs the subscriber (whose filter it changes).
pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    if settings.open_log_level && settings.serve_http && !settings.http_loopback {
        return Err(InitError::Config(
            "open_log_level_on_loopback needs the HTTP server on a loopback address (127.0.0.1 or ::1); \
             configure a health token instead"
                .to_owned(),
        ));
    }
    if !settings.serve_http || !settings.install_subscriber {
        return Ok(None);
    }
    #[cfg(feature = "health")]
    let token = super::health::resolved(settings).token.filter(|t| !t.is_empty());
    #[cfg(not(feature = "health"))]
    let token = None;
    Ok(Some(Box::new(LogLevel { access: Access { token, open: settings.open_log_level } })))
}

/// Who may change the filter.
#[derive(Clone)]
struct Access {
    token: Option<String>,
    /// No token needed (loopback only, checked at `configure`).
    open: bool,
}

impl Access {
    /// `Ok` when the request may change the filter, else the refusal to send.
    fn check(&self, headers: &HeaderMap) -> Result<(), Box<Response>> {
        let Some(token) = &self.token else {
            if self.open {
                return Ok(());
            }
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "changing the log level needs a token (Builder::health_token or OBS_HEALTH_TOKEN), \
                 or Builder::open_log_level_on_loopback",
            )));
        };
        if given_token_matches(headers, token) {
            return Ok(());
        }
        let mut refused = error(StatusCode::UNAUTHORIZED, "a valid `Authorization: Bearer <token>` header is required");
        refused.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        Err(Box::new(refused))
    }
}

#[cfg(feature = "health")]
fn given_token_matches(headers: &HeaderMap, token: &str) -> bool {
    use crate::health::endpoint::{bearer_credentials, constant_time_eq};
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_credentials);
    given.is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

#[cfg(not(feature = "health"))]
fn given_token_matches(_: &HeaderMap, _: &str) -> bool {
    false
}

struct LogLevel {
    access: Access,
}

impl Configured for LogLevel {
    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        let access = self.access;
        cx.serve(&["/obs/log-level"], move |router| {
            router.route(
                "/obs/log-level",
                get(show).put(move |headers: HeaderMap, Query(query): Query<HashMap<String, String>>, body: String| {
                    let access = access.clone();
                    async move { change(&access, &headers, &query, &body) }
                }),
            )
        });
        Ok(Box::new(Nothing))
    }
}

/// Nothing runs between requests (a TTL revert is a task of the HTTP server).
struct Nothing;

impl Exporter for Nothing {
    fn shutdown_limit(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    fn shutdown(self: Box<Self>, _: std::time::Instant) {}
}

async fn show() -> Response {
    match level::current() {
        Some(current) => {
            let (reverts_to, reverts_in) = match current.revert {
                Some((to, after)) => (Some(to), Some(after.as_secs_f64())),
                None => (None, None),
            };
            json(
                StatusCode::OK,
                serde_json::json!({ "filter": current.filter, "reverts_to": reverts_to, "reverts_in_seconds": reverts_in }),
            )
        }
        None => error(StatusCode::NOT_FOUND, "obs did not install the subscriber, so it has no filter to show"),
    }
}

fn change(access: &Access, headers: &HeaderMap, query: &HashMap<String, String>, body: &str) -> Response {
    if let Err(refused) = access.check(headers) {
        return *refused;
    }
    let ttl = match query.get("ttl") {
        None => None,
        Some(text) => match level::parse_ttl(text) {
            Some(ttl) => Some(ttl),
            None => return error(StatusCode::BAD_REQUEST, "ttl must be a positive duration such as 30s, 10m or 1h"),
        },
    };
    match level::set(body, ttl) {
        Ok(changed) => {
            if let Some(ttl) = ttl {
                let generation = changed.generation;
                tokio::spawn(async move {
                    tokio::time::sleep(ttl).await;
                    level::revert(generation);
                });
            }
            json(
                StatusCode::OK,
                serde_json::json!({
                    "filter": changed.filter,
                    "previous": changed.previous,
                    "reverts_in_seconds": ttl.map(|t| t.as_secs_f64()),
                }),
            )
        }
        Err(ChangeError::Invalid(message)) => error(StatusCode::BAD_REQUEST, &format!("invalid filter: {message}")),
        Err(ChangeError::NotInstalled) => {
            error(StatusCode::NOT_FOUND, "obs did not install the subscriber, so it has no filter to change")
        }
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body.to_string())
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }))
}
