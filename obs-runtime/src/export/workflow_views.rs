//! The workflow views as an exporter contributing routes only:
//! `GET /obs/workflows` (every workflow's learned shape), `/obs/workflows/active`
//! (the runs in progress, paged: `?limit=100&after=<run id>`) and
//! `/obs/workflows/{name}/graph.mmd` (a Mermaid graph).

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::seam::{Configured, Exporter, Settings, StartContext};
use crate::init_error::InitError;
use crate::workflow::{RunId, active_page, workflows};

/// Runs per page of `/obs/workflows/active` unless `limit` says otherwise, and the most it may say.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// On whenever the HTTP server runs.
pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    Ok(settings.serve_http.then(|| Box::new(WorkflowViews) as Box<dyn Configured>))
}

struct WorkflowViews;

impl Configured for WorkflowViews {
    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        cx.serve(&["/obs/workflows", "/obs/workflows/active"], routes);
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
        .route("/obs/workflows/active", get(|Query(page): Query<PageQuery>| async move { active_json(page) }))
        .route(
            "/obs/workflows/{name}/graph.mmd",
            get(|Path(name): Path<String>| async move {
                match workflows().into_iter().find(|w| w.name == name) {
                    Some(shape) => ([(header::CONTENT_TYPE, "text/vnd.mermaid; charset=utf-8")], shape.to_mermaid())
                        .into_response(),
                    None => (StatusCode::NOT_FOUND, format!("no workflow named {name:?}\n")).into_response(),
                }
            }),
        )
}

/// `GET /obs/workflows`: every workflow's learned nodes and edges with counts.
fn workflows_json() -> serde_json::Value {
    let shapes = workflows()
        .into_iter()
        .map(|w| {
            serde_json::json!({
                "name": w.name,
                "runs": w.runs,
                "errors": w.errors,
                "cancelled": w.cancelled,
                "budget_exceeded": w.budget_exceeded,
                "graph": format!("/obs/workflows/{}/graph.mmd", w.name),
                "nodes": w.nodes.iter().map(|n| serde_json::json!({
                    "name": n.name, "runs": n.runs, "errors": n.errors, "cancelled": n.cancelled,
                    "budget_exceeded": n.budget_exceeded, "retries": n.retries,
                })).collect::<Vec<_>>(),
                "edges": w.edges.iter().map(|e| serde_json::json!({
                    "from": e.from, "to": e.to, "kind": e.kind.as_str(), "runs": e.runs, "errors": e.errors,
                    "cancelled": e.cancelled, "budget_exceeded": e.budget_exceeded, "retries": e.retries,
                })).collect::<Vec<_>>(),
            })
        })
        .collect::<Vec<_>>();
    serde_json::json!({ "workflows": shapes })
}

/// `?limit=N&after=<run id>` of `/obs/workflows/active`.
#[derive(serde::Deserialize)]
struct PageQuery {
    limit: Option<usize>,
    after: Option<String>,
}

/// `GET /obs/workflows/active`: a page of the runs in progress, oldest first,
/// with the total and the link to the next page.
fn active_json(query: PageQuery) -> axum::response::Response {
    let after = match query.after.as_deref().map(str::parse::<RunId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "`after` must be a run id (a UUID)\n").into_response(),
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let page = active_page(after, limit);
    let runs = page
        .runs
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
                "completed_total": run.completed_total,
            })
        })
        .collect::<Vec<_>>();
    let next = page.next.map(|id| format!("/obs/workflows/active?limit={limit}&after={id}"));
    axum::Json(serde_json::json!({ "active": runs, "total": page.total, "unlisted": page.unlisted, "next": next }))
        .into_response()
}
