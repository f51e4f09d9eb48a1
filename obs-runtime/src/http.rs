//! The built-in HTTP server: `GET /metrics`, the health endpoints, and the routes other parts add.
//! It runs on its own thread with a small single-threaded tokio runtime, so it
//! works the same in async and sync applications.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::oneshot;

use crate::config::InitError;

/// The router of every endpoint obs serves.
pub(crate) fn router(
    #[cfg(feature = "prometheus")] prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Router {
    let router = Router::new();
    #[cfg(feature = "prometheus")]
    let router = match prometheus {
        Some(handle) => router.route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                        crate::export::prometheus::render(&handle),
                    )
                }
            }),
        ),
        None => router,
    };
    #[cfg(feature = "health")]
    let router = crate::health::endpoint::routes(router);
    let router = router
        .route("/obs/workflows", get(|| async { axum::Json(workflows_json()) }))
        .route("/obs/workflows/active", get(|| async { axum::Json(active_json()) }))
        .route(
            "/obs/workflows/{name}/graph.mmd",
            get(|axum::extract::Path(name): axum::extract::Path<String>| async move {
                match crate::workflows().into_iter().find(|w| w.name == name) {
                    Some(shape) => ([(header::CONTENT_TYPE, "text/vnd.mermaid; charset=utf-8")], shape.to_mermaid())
                        .into_response(),
                    None => {
                        (axum::http::StatusCode::NOT_FOUND, format!("no workflow named {name:?}\n")).into_response()
                    }
                }
            }),
        );
    router.fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "not found\n").into_response() })
}

/// `GET /obs/workflows`: every workflow's learned nodes and edges with counts.
fn workflows_json() -> serde_json::Value {
    let shapes = crate::workflows()
        .into_iter()
        .map(|w| {
            serde_json::json!({
                "name": w.name,
                "runs": w.runs,
                "errors": w.errors,
                "graph": format!("/obs/workflows/{}/graph.mmd", w.name),
                "nodes": w.nodes.iter().map(|n| serde_json::json!({"name": n.name, "runs": n.runs, "errors": n.errors})).collect::<Vec<_>>(),
                "edges": w.edges.iter().map(|e| serde_json::json!({
                    "from": e.from, "to": e.to, "kind": e.kind.as_str(), "runs": e.runs, "errors": e.errors,
                })).collect::<Vec<_>>(),
            })
        })
        .collect::<Vec<_>>();
    serde_json::json!({ "workflows": shapes })
}

/// `GET /obs/workflows/active`: the runs in progress, oldest first.
fn active_json() -> serde_json::Value {
    let runs = crate::active_runs()
        .into_iter()
        .map(|run| {
            let started = run.started_at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let mut started_at = String::new();
            crate::log::write_rfc3339(&mut started_at, started.as_secs(), started.subsec_micros());
            serde_json::json!({
                "run_id": run.run_id.to_string(),
                "workflow": run.workflow,
                "started_at": started_at,
                "elapsed_ms": run.elapsed.as_millis() as u64,
                "running": run.running,
                "completed": run.completed,
            })
        })
        .collect::<Vec<_>>();
    serde_json::json!({ "active": runs })
}

pub(crate) struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start(listener: std::net::TcpListener, router: Router) -> Result<Server, InitError> {
        let addr = listener.local_addr().map_err(|e| InitError::Config(format!("http listener: {e}")))?;
        listener.set_nonblocking(true).map_err(|e| InitError::Bind(addr, e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| InitError::Config(format!("http runtime: {e}")))?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("obs-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
            .map_err(|e| InitError::Config(format!("http thread: {e}")))?;
        Ok(Server { addr, shutdown: Some(shutdown), thread: Some(thread) })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets running requests finish, and waits at most `limit`.
    pub(crate) fn stop(mut self, limit: Duration) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + limit;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}
