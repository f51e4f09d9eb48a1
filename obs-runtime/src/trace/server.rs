//! [`HttpLayer`]: a tower layer for axum (and hyper) servers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use http::{Method, Request, Response};
use pin_project::{pin_project, pinned_drop};
use tracing::Span;
use tracing::instrument::Instrumented;

use crate::propagation::TraceContext;

/// Continues the caller's W3C trace (`traceparent`, `tracestate`; a malformed
/// header starts a new trace), opens a `server` span per request, and records
/// OpenTelemetry HTTP server conventions: `http.request.method`, `http.route`
/// (axum's route template, e.g. `/users/{id}`, never the raw path) and
/// `http.response.status_code` on the span, and the histogram
/// `obs_http_server_request_duration_seconds{http_request_method, http_route,
/// http_response_status_code}` plus the gauge `obs_http_server_active_requests`.
///
/// A request whose response future is dropped before it completes (the client
/// went away, an outer timeout fired) is recorded as cancelled, as `#[observe]`
/// does: the histogram gets its duration with `http_response_status_code=
/// "cancelled"`, the span gets `obs.outcome = "cancelled"`, and the gauge goes
/// back down. Baggage is not read: only `traceparent` and `tracestate` are.
///
/// Add it with `Router::layer` so that the matched route is known:
///
/// ```no_run
/// use axum::{Router, routing::get};
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "user" }))
///     .layer(obs_runtime::trace::HttpLayer::new());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpLayer {
    _private: (),
}

impl HttpLayer {
    /// The layer.
    pub fn new() -> Self {
        HttpLayer::default()
    }
}

impl<S> tower_layer::Layer<S> for HttpLayer {
    type Service = HttpService<S>;

    fn layer(&self, inner: S) -> HttpService<S> {
        HttpService { inner }
    }
}

/// The service [`HttpLayer`] wraps around the application.
#[derive(Debug, Clone)]
pub struct HttpService<S> {
    inner: S,
}

/// Route label for requests no route matched (404s): a fixed value, so
/// scanners probing random paths cannot create series.
const UNMATCHED: &str = "unmatched";

impl<S, B, R> tower_service::Service<Request<B>> for HttpService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = method_label(request.method());
        let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
        let route_label = route.clone().unwrap_or_else(|| UNMATCHED.to_owned());
        let span_name = match &route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        let span = tracing::info_span!(
            target: "obs_runtime::http",
            "HTTP request",
            otel.name = %span_name,
            otel.kind = "server",
            http.request.method = method,
            http.route = route.as_deref(),
            url.path = capped_path(request.uri().path()),
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            obs.outcome = tracing::field::Empty,
        );
        // Only the trace context: baggage would be parsed for nothing.
        if let Some(parent) = TraceContext::from_headers(request.headers()) {
            super::set_parent(&span, &parent);
        }
        let metrics = ServerMetrics::new(method, route_label);
        metrics.active.increment(1.0);
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ResponseFuture {
            inner: tracing::Instrument::instrument(future, span.clone()),
            span,
            started: Instant::now(),
            metrics: Some(metrics),
        }
    }
}

/// The standard methods by name, anything else as `_OTHER` (OpenTelemetry's rule, keeps the label bounded).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

struct ServerMetrics {
    method: &'static str,
    route: String,
    active: metrics::Gauge,
}

impl ServerMetrics {
    fn new(method: &'static str, route: String) -> Self {
        describe();
        let active = metrics::gauge!(
            crate::metrics::HTTP_SERVER_ACTIVE_REQUESTS.name(),
            "http_request_method" => method,
            "http_route" => route.clone()
        );
        ServerMetrics { method, route, active }
    }

    /// Ends the request: `status` is the response code, `"error"` when the
    /// service failed or `"cancelled"` when the response future was dropped.
    fn finish(self, status: String, seconds: f64) {
        self.active.decrement(1.0);
        metrics::histogram!(
            crate::metrics::HTTP_SERVER_REQUEST_DURATION_SECONDS.name(),
            "http_request_method" => self.method,
            "http_route" => self.route,
            "http_response_status_code" => status
        )
        .record(seconds);
    }
}

/// `init` describes every family, but `HttpLayer` also works in applications
/// that never call it, recording to their own recorder: describe on first use too.
fn describe() {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    DESCRIBED.call_once(|| {
        crate::metrics::HTTP_SERVER_REQUEST_DURATION_SECONDS.describe();
        crate::metrics::HTTP_SERVER_ACTIVE_REQUESTS.describe();
    });
}

/// The response future of [`HttpService`]. Dropped before completion, it
/// records the request as cancelled.
#[pin_project(PinnedDrop)]
pub struct ResponseFuture<F> {
    #[pin]
    inner: Instrumented<F>,
    span: Span,
    started: Instant,
    metrics: Option<ServerMetrics>,
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        match status {
            Some(code) => {
                this.span.record("http.response.status_code", code);
                if code >= 500 {
                    this.span.record("otel.status_code", "ERROR");
                }
            }
            None => {
                this.span.record("otel.status_code", "ERROR");
            }
        }
        if let Some(metrics) = this.metrics.take() {
            let label = status.map_or_else(|| "error".to_owned(), |code| code.to_string());
            metrics.finish(label, this.started.elapsed().as_secs_f64());
        }
        Poll::Ready(result)
    }
}

#[pinned_drop]
impl<F> PinnedDrop for ResponseFuture<F> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        // Still there: the future never completed.
        if let Some(metrics) = this.metrics.take() {
            this.span.record("obs.outcome", "cancelled");
            metrics.finish("cancelled".to_owned(), this.started.elapsed().as_secs_f64());
        }
    }
}

/// The most of a request path recorded on the span (and so on every log line
/// of the request): a 64 KB path would otherwise be copied into each of them.
pub(crate) const MAX_RECORDED_PATH: usize = 1024;

/// `path` cut to [`MAX_RECORDED_PATH`] bytes, at a character boundary.
fn capped_path(path: &str) -> &str {
    if path.len() <= MAX_RECORDED_PATH {
        return path;
    }
    let mut end = MAX_RECORDED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}
