//! The built-in HTTP server: it serves the routes the exporters contribute
//! (`/metrics`, the health endpoints, the workflow views) and answers 404
//! otherwise. It runs on its own thread with a small single-threaded tokio
//! runtime, so it works the same in async and sync applications.
//!
//! Its clients are bounded, so that slow or idle ones cannot use up the
//! application's file descriptors (hyper's header timeout only works with a
//! timer, which `axum::serve` does not give it, hence the accept loop here):
//! * at most [`Limits::connections`] connections are open at once; at the cap
//!   the server stops accepting until one closes, so further clients wait in
//!   the kernel's backlog (holding no descriptor of the process) and are
//!   served, in order, as soon as a slot frees;
//! * a connection that has not sent a whole request head within
//!   [`Limits::header_read`] is closed; hyper counts the wait for the next
//!   request on a kept-alive connection as header reading, so the same limit
//!   closes idle connections;
//! * a request head larger than [`Limits::max_request_bytes`] is answered 431,
//!   a body larger than that 413, and a request that takes longer than
//!   [`Limits::request`] 503.
//!
//! Bound to a loopback address, the server answers only requests addressed to
//! a loopback name (`Host: localhost`, `127.0.0.1`, `[::1]`, with or without a
//! port), 421 otherwise: a web page whose domain was rebound to 127.0.0.1
//! cannot read the endpoints through the browser. Bound to any other address
//! (a container's `0.0.0.0`), it is meant to be reached by other names and
//! accepts any `Host`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use http_body_util::Limited;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{Semaphore, oneshot};
use tower_service::Service;

use crate::export::seam::Exporter;
use crate::init_error::InitError;
use crate::worker::{Worker, current_thread_runtime};

/// How long stopping waits for running requests.
const STOP_LIMIT: Duration = Duration::from_secs(2);

/// What the server allows one client.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// How long a connection may take to send a request head (the first, or the next on a kept-alive one).
    pub header_read: Duration,
    /// How long one request may take, from its head to the end of the response head.
    pub request: Duration,
    /// How many connections may be open at once.
    pub connections: usize,
    /// The largest request head, and the largest request body, in bytes.
    pub max_request_bytes: usize,
}

impl Limits {
    /// A scrape or a probe is one small GET answered in milliseconds; these leave room for slow networks.
    pub(crate) const DEFAULT: Limits = Limits {
        header_read: Duration::from_secs(5),
        request: Duration::from_secs(30),
        connections: 256,
        max_request_bytes: 64 * 1024,
    };
}

/// Binds the endpoint's address: a taken port is an error of `init` before anything global changes.
pub(crate) fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, InitError> {
    std::net::TcpListener::bind(addr).map_err(|e| InitError::Bind(addr, e))
}

/// The running server; the guard stops it like an exporter.
pub(crate) struct Server {
    addr: SocketAddr,
    worker: Worker,
}

impl Server {
    /// Serves `routes` on `listener`.
    pub(crate) fn start(listener: std::net::TcpListener, routes: Router) -> Result<Server, InitError> {
        Server::start_with(listener, routes, Limits::DEFAULT)
    }

    /// Serves `routes` on `listener` within `limits`.
    pub(crate) fn start_with(
        listener: std::net::TcpListener,
        routes: Router,
        limits: Limits,
    ) -> Result<Server, InitError> {
        let addr = listener.local_addr().map_err(|e| InitError::Config(format!("http listener: {e}")))?;
        listener.set_nonblocking(true).map_err(|e| InitError::Bind(addr, e))?;
        let runtime = current_thread_runtime().map_err(|e| InitError::Config(format!("http runtime: {e}")))?;
        let router = routes.fallback(|| async { (StatusCode::NOT_FOUND, "not found\n").into_response() });
        let app = App { router, limits, loopback_only: addr.ip().is_loopback() };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serve = move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                accept_loop(listener, Arc::new(app), stopped).await;
            });
        };
        // Stopping lets running requests finish: graceful shutdown, then a bounded wait.
        let worker = Worker::spawn_stopped_by(
            "obs-http",
            move || {
                let _ = shutdown.send(());
            },
            serve,
        )
        .map_err(|e| InitError::Config(format!("http thread: {e}")))?;
        Ok(Server { addr, worker })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Accepts while a connection slot is free, until `stopped`; then lets open connections finish their request.
async fn accept_loop(listener: tokio::net::TcpListener, app: Arc<App>, mut stopped: oneshot::Receiver<()>) {
    let slots = Arc::new(Semaphore::new(app.limits.connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(app.limits.header_read)
        .max_buf_size(app.limits.max_request_bytes.max(8192))
        .max_header_size(app.limits.max_request_bytes);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = &mut stopped => break,
        };
        let Ok(slot) = slot else { break };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors or a connection reset before it was accepted: try again shortly
                // rather than spin (the slot is kept for the next one).
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |request| app.clone().answer(request));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    // Requests under way may finish within the stop limit; then the runtime drops what is left
    // (a connection still sending its head, say), and the thread ends.
    let _ = tokio::time::timeout(STOP_LIMIT, graceful.shutdown()).await;
}

/// The routes and the rules every request is checked against before they see it.
struct App {
    router: Router,
    limits: Limits,
    loopback_only: bool,
}

impl App {
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        if self.loopback_only && !addressed_to_loopback(&request) {
            let refused = "this endpoint answers only requests addressed to localhost, 127.0.0.1 or [::1]\n";
            return Ok((StatusCode::MISDIRECTED_REQUEST, refused).into_response());
        }
        let max = self.limits.max_request_bytes;
        let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max as u64) {
            return Ok((StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response());
        }
        let request = request.map(|body| Body::new(Limited::new(body, max)));
        let mut router = self.router.clone();
        match tokio::time::timeout(self.limits.request, router.call(request)).await {
            Ok(response) => response,
            Err(_) => Ok((StatusCode::SERVICE_UNAVAILABLE, "request took too long\n").into_response()),
        }
    }
}

/// Whether the request names a loopback host: `Host` (or, without one, an absolute URI's authority).
/// A request with neither (HTTP/1.0) does not come from a browser and is let through.
fn addressed_to_loopback<B>(request: &Request<B>) -> bool {
    let host = match request.headers().get(header::HOST) {
        Some(value) => match value.to_str() {
            Ok(host) => host,
            Err(_) => return false,
        },
        None => match request.uri().authority() {
            Some(authority) => authority.as_str(),
            None => return true,
        },
    };
    is_loopback_host(host.trim())
}

/// `localhost`, a loopback IPv4 address or `[::1]`, each with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(bracketed) = host.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((ip, "")) => return is_loopback_ip(ip),
            Some((ip, rest)) => return rest.strip_prefix(':').is_some_and(valid_port) && is_loopback_ip(ip),
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if valid_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost") || name.eq_ignore_ascii_case("localhost.") || is_loopback_ip(name)
}

fn valid_port(port: &str) -> bool {
    port.parse::<u16>().is_ok()
}

fn is_loopback_ip(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Exporter for Server {
    fn shutdown_limit(&self) -> Duration {
        STOP_LIMIT
    }

    /// Stops accepting, lets running requests finish, and waits at most until `deadline`.
    fn shutdown(self: Box<Self>, deadline: Instant) {
        self.worker.stop(deadline.min(Instant::now() + STOP_LIMIT));
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
