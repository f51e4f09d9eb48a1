//! The operations artifacts as an exporter: it installs the generator
//! `ops::prometheus_rules()` and the others use (with the service, namespace
//! and buckets `init` resolved), serves `GET /obs/rules.yml`,
//! `/obs/alertmanager.yml`, `/obs/dashboard.json` and
//! `/obs/dashboard-queries.yml`, and, when `OBS_OPS_WRITE=<dir>` is set,
//! writes them into `<dir>` and exits the process with status 0 before
//! anything else starts (for a build pipeline).

use std::time::{Duration, Instant};

use super::seam::{Configured, Exporter, Settings, StartContext};
use crate::env::env_var;
use crate::init_error::InitError;
use crate::ops::Generator;

/// The variable naming the folder to write the artifacts into.
const WRITE_VAR: &str = "OBS_OPS_WRITE";

pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    let generator =
        Generator::configured(&settings.service, &settings.namespace, &settings.buckets, settings.ops.clone());
    if let Some(dir) = env_var(WRITE_VAR) {
        // The health group is registered later in start-up, which this branch never reaches.
        #[cfg(feature = "health")]
        let generator = match &settings.health_group {
            Some(group) => generator.critical_checks(crate::health::registry::critical_paths_of(group.as_ref())),
            None => generator,
        };
        let dir = std::path::PathBuf::from(dir.trim());
        let written = generator.write_to(&dir).map_err(|e| {
            InitError::Config(format!("{WRITE_VAR}: cannot write the operations artifacts into {}: {e}", dir.display()))
        })?;
        for path in written {
            eprintln!("obs: wrote {}", path.display());
        }
        std::process::exit(0);
    }
    Ok(Some(Box::new(Ops { generator: Some(generator), serve: settings.serve_http })))
}

struct Ops {
    generator: Option<Generator>,
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    serve: bool,
}

impl Configured for Ops {
    fn install(&mut self) -> Result<(), InitError> {
        if let Some(generator) = self.generator.take() {
            generator.install();
        }
        Ok(())
    }

    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        #[cfg(feature = "http")]
        if self.serve {
            cx.serve(
                &["/obs/rules.yml", "/obs/alertmanager.yml", "/obs/dashboard.json", "/obs/dashboard-queries.yml"],
                routes,
            );
        }
        let _ = cx;
        Ok(Box::new(Served))
    }
}

/// Nothing runs: the routes are served by the HTTP server and stop with it.
struct Served;

impl Exporter for Served {
    fn shutdown_limit(&self) -> Duration {
        Duration::ZERO
    }

    fn shutdown(self: Box<Self>, _deadline: Instant) {}
}

#[cfg(feature = "http")]
fn routes(router: axum::Router) -> axum::Router {
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::get;
    const YAML: &str = "application/yaml; charset=utf-8";
    router
        .route("/obs/rules.yml", get(|| async { ([(CONTENT_TYPE, YAML)], crate::ops::prometheus_rules()) }))
        .route(
            "/obs/dashboard-queries.yml",
            get(|| async { ([(CONTENT_TYPE, YAML)], crate::ops::dashboard_queries()) }),
        )
        .route("/obs/alertmanager.yml", get(|| async { ([(CONTENT_TYPE, YAML)], crate::ops::alertmanager_config()) }))
        .route(
            "/obs/dashboard.json",
            get(|| async { ([(CONTENT_TYPE, "application/json")], crate::ops::grafana_dashboard()) }),
        )
}
