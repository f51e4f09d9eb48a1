//! The workflow views as an exporter contributing routes only:
//! `GET /obs/workflows` (every workflow's learned shape), `/obs/workflows/active`
//! (the runs in progress) and `/obs/workflows/{name}/graph.mmd` (a Mermaid graph).

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::seam::{Configured, Exporter, Settings, StartContext};
use crate::init_error::InitError;

/// On whenever the HTTP server runs.
pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    Ok(settings.serve_http.then(|| Box::new(WorkflowViews) as Box<dyn Configured>))
}

struct WorkflowViews;

impl Configured for WorkflowViews {
    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        cx.serve(routes);
        Ok(self)
    }
}

/// Nothing runs: the routes are served by the HTTP server and stop with it.
impl Exporter for WorkflowViews {
    fn shutdown_limit(&self) -> Duration {
        Duration::ZERO
    }

    fn shutdown(self: Box<Self>, _deadline: Instant) {}
}

fn routes(router: Router) -> Router {
    router
        .route("/obs/workflows", get(|| async { axum::Json(workflows_json()) }))
        .route("/obs/workflows/active", get(|| async { axum::Json(active_json()) }))
        .route(
            "/obs/workflows/{name}/graph.mmd",
            get(|Path(name): Path<String>| async move {
                match crate::workflows().into_iter().find(|w| w.name == name) {
                    Some(shape) => ([(header::CONTENT_TYPE, "text/vnd.mermaid; charset=utf-8")], shape.to_mermaid())
                        .into_response(),
                    None => (StatusCode::NOT_FOUND, format!("no workflow named {name:?}\n")).into_response(),
                }
            }),
        )
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
