//! The built-in HTTP server: it serves the routes the exporters contribute
//! (`/metrics`, the health endpoints, the workflow views) and answers 404
//! otherwise. It runs on its own thread with a small single-threaded tokio
//! runtime, so it works the same in async and sync applications.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::IntoResponse;
use tokio::sync::oneshot;

use crate::export::seam::Exporter;
use crate::init_error::InitError;
use crate::worker::{Worker, current_thread_runtime};

/// How long stopping waits for running requests.
const STOP_LIMIT: Duration = Duration::from_secs(2);

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
        let addr = listener.local_addr().map_err(|e| InitError::Config(format!("http listener: {e}")))?;
        listener.set_nonblocking(true).map_err(|e| InitError::Bind(addr, e))?;
        let runtime = current_thread_runtime().map_err(|e| InitError::Config(format!("http runtime: {e}")))?;
        let router = routes.fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "not found\n").into_response() });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serve = move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
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

impl Exporter for Server {
    fn shutdown_limit(&self) -> Duration {
        STOP_LIMIT
    }

    /// Stops accepting, lets running requests finish, and waits at most until `deadline`.
    fn shutdown(self: Box<Self>, deadline: Instant) {
        self.worker.stop(deadline.min(Instant::now() + STOP_LIMIT));
    }
}
