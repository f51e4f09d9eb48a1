//! [`HttpLayer`]: a tower layer for axum (and hyper) servers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath};
use http::{HeaderName, Method, Request, Response, header};
use pin_project::{pin_project, pinned_drop};
use tracing::Span;
use tracing::instrument::Instrumented;

use super::request_id::{self, RequestId};
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
/// Each request gets a correlation id: the caller's `X-Request-Id` (or the
/// header [`request_id_header`](Self::request_id_header) names) when it is 1
/// to 128 printable ASCII characters without spaces, else a new one. It is the
/// span's `request_id` field (so every log line of the request carries it),
/// it is sent back in the response, and [`inject_current`](super::inject_current)
/// and the reqwest helper send it on to the next hop.
///
/// One access-log line per request (turn it off with
/// [`access_log(false)`](Self::access_log)): `event: "http.request"`, the
/// status, `duration_ms`, `client.address` (with axum's `ConnectInfo`),
/// `user_agent.original`, request and response body sizes when known, plus the
/// span's method, route, path and request id; INFO below 400, WARN for 4xx,
/// ERROR for 5xx and failed services, INFO for a request the client gave up on.
///
/// Add it with `Router::layer` so that the matched route is known:
///
/// ```no_run
/// use axum::{Router, routing::get};
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "user" }))
///     .layer(obs_runtime::trace::HttpLayer::new());
/// ```
#[derive(Debug, Clone)]
pub struct HttpLayer {
    options: Options,
}

#[derive(Debug, Clone)]
struct Options {
    request_id_header: HeaderName,
    access_log: bool,
}

impl Default for HttpLayer {
    fn default() -> Self {
        HttpLayer { options: Options { request_id_header: request_id::DEFAULT_HEADER.clone(), access_log: true } }
    }
}

impl HttpLayer {
    /// The layer.
    pub fn new() -> Self {
        HttpLayer::default()
    }

    /// The header the correlation id comes in, goes back out and on in (default `x-request-id`).
    pub fn request_id_header(mut self, header: HeaderName) -> Self {
        self.options.request_id_header = header;
        self
    }

    /// Whether each request gets an access-log line (default true).
    pub fn access_log(mut self, on: bool) -> Self {
        self.options.access_log = on;
        self
    }
}

impl<S> tower_layer::Layer<S> for HttpLayer {
    type Service = HttpService<S>;

    fn layer(&self, inner: S) -> HttpService<S> {
        HttpService { inner, options: self.options.clone() }
    }
}

/// The service [`HttpLayer`] wraps around the application.
#[derive(Debug, Clone)]
pub struct HttpService<S> {
    inner: S,
    options: Options,
}

/// Route label for requests no route matched (404s): a fixed value, so
/// scanners probing random paths cannot create series.
const UNMATCHED: &str = "unmatched";

impl<S, B, R> tower_service::Service<Request<B>> for HttpService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    R: http_body::Body,
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
        let id = RequestId::accept_or_make(request.headers(), &self.options.request_id_header);
        let span = tracing::info_span!(
            target: "obs_runtime::http",
            "HTTP request",
            otel.name = %span_name,
            otel.kind = "server",
            http.request.method = method,
            http.route = route.as_deref(),
            url.path = capped_path(request.uri().path()),
            request_id = id.as_str(),
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            obs.outcome = tracing::field::Empty,
        );
        // Only the trace context: baggage would be parsed for nothing.
        if let Some(parent) = TraceContext::from_headers(request.headers()) {
            super::set_parent(&span, &parent);
        }
        let access = self.options.access_log.then(|| AccessLog::of(&request));
        request_id::attach(&span, id.clone());
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
            id,
            access,
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
    id: RequestId,
    access: Option<AccessLog>,
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    R: http_body::Body,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &mut result {
            response.headers_mut().insert(this.id.header.clone(), this.id.value.clone());
        }
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
        let elapsed = this.started.elapsed();
        if let Some(metrics) = this.metrics.take() {
            let label = status.map_or_else(|| "error".to_owned(), |code| code.to_string());
            metrics.finish(label, elapsed.as_secs_f64());
        }
        if let Some(access) = this.access.take() {
            let sent = result.as_ref().ok().and_then(|r| r.body().size_hint().exact());
            this.span.in_scope(|| access.write(Ended::Answered(status), elapsed, sent));
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
        if let Some(access) = this.access.take() {
            this.span.in_scope(|| access.write(Ended::Cancelled, this.started.elapsed(), None));
        }
    }
}

/// What the access-log line says about the request, taken when it arrives.
struct AccessLog {
    client: Option<std::net::SocketAddr>,
    user_agent: Option<String>,
    received: Option<u64>,
}

/// How a request ended, for its access-log line.
enum Ended {
    /// With a status code, or `None` when the service failed.
    Answered(Option<u16>),
    /// The response future was dropped first.
    Cancelled,
}

/// The most of a `User-Agent` header put on the line.
const MAX_USER_AGENT: usize = 256;

impl AccessLog {
    fn of<B>(request: &Request<B>) -> AccessLog {
        let user_agent = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| capped(ua, MAX_USER_AGENT).to_owned());
        let received = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        let client = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|info| info.0);
        AccessLog { client, user_agent, received }
    }

    fn write(self, ended: Ended, elapsed: std::time::Duration, sent: Option<u64>) {
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        // No code when the service failed or the client left (the span's `obs.outcome` says which).
        let status = match &ended {
            Ended::Answered(code) => *code,
            Ended::Cancelled => None,
        };
        macro_rules! line {
            ($level:ident, $message:literal) => {
                tracing::$level!(
                    target: "obs_runtime::http",
                    event = "http.request",
                    http.response.status_code = status,
                    duration_ms,
                    client.address = self.client.map(|a| tracing::field::display(a.ip())),
                    user_agent.original = self.user_agent.as_deref(),
                    http.request.body.size = self.received,
                    http.response.body.size = sent,
                    $message
                )
            };
        }
        match ended {
            Ended::Answered(Some(code)) if code >= 500 => line!(error, "request failed"),
            Ended::Answered(None) => line!(error, "request failed"),
            Ended::Answered(Some(code)) if code >= 400 => line!(warn, "request refused"),
            Ended::Answered(_) => line!(info, "request served"),
            Ended::Cancelled => line!(info, "request cancelled: the client went away"),
        }
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn capped(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The most of a request path recorded on the span (and so on every log line
/// of the request): a 64 KB path would otherwise be copied into each of them.
pub(crate) const MAX_RECORDED_PATH: usize = 1024;

/// `path` cut to [`MAX_RECORDED_PATH`] bytes, at a character boundary.
fn capped_path(path: &str) -> &str {
    capped(path, MAX_RECORDED_PATH)
}
