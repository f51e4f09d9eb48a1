//! Health as an exporter: the registry configured from the builder, the
//! `/health` routes, and the background refresh that keeps
//! `obs_health_status` current when nothing probes.

use std::time::{Duration, Instant};

use super::seam::{Configured, Exporter, Settings, StartContext};
use crate::health::{self, HealthCheck};
use crate::init_error::InitError;
use crate::worker::Worker;

/// A check still running at shutdown is bounded by its own timeout; the guard does not wait that long.
const STOP_LIMIT: Duration = Duration::from_secs(1);

/// Always on with the `health` feature; `OBS_HEALTH_TOKEN` wins over the builder's token.
pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    let resolved = resolved(settings);
    Ok(Some(Box::new(Health { settings: resolved, group: settings.health_group.clone() })))
}

/// The health settings in force: the builder's, with `OBS_HEALTH_TOKEN` winning for the token.
pub(crate) fn resolved(settings: &Settings) -> health::Settings {
    let mut resolved = settings.health.clone();
    if let Some(token) = crate::env::env_var("OBS_HEALTH_TOKEN") {
        resolved.token = Some(token);
    }
    resolved
}

struct Health {
    settings: health::Settings,
    group: Option<std::sync::Arc<dyn HealthCheck>>,
}

impl Configured for Health {
    fn install(&mut self) -> Result<(), InitError> {
        health::configure(self.settings.clone());
        if let Some(group) = self.group.take() {
            health::register_arc(group);
        }
        Ok(())
    }

    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        #[cfg(feature = "http")]
        cx.serve(&["/health", "/health/live", "/health/ready"], health::endpoint::routes);
        #[cfg(not(feature = "http"))]
        let _ = cx;
        Ok(Box::new(Refresh { interval: self.settings.refresh, worker: None }))
    }
}

struct Refresh {
    interval: Duration,
    worker: Option<Worker>,
}

impl Exporter for Refresh {
    // After the subscriber and the recorder, so the first evaluation is recorded.
    fn ready(&mut self) {
        self.worker = health::start_refresh(self.interval);
    }

    fn shutdown_limit(&self) -> Duration {
        STOP_LIMIT
    }

    fn shutdown(self: Box<Self>, deadline: Instant) {
        if let Some(worker) = self.worker {
            worker.stop(deadline.min(Instant::now() + STOP_LIMIT));
        }
    }
}
