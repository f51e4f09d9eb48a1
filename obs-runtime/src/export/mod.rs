//! Exporters: where the recorded telemetry leaves the process, each through
//! the one seam in `seam.rs`. Adding an exporter is a module here and a line
//! in `configure`.

#[cfg(feature = "health")]
mod health;
#[cfg(all(feature = "http", feature = "prometheus"))]
mod hotspots;
#[cfg(feature = "http")]
mod log_level;
#[cfg(feature = "mlflow")]
pub(crate) mod mlflow;
#[cfg(feature = "ops")]
mod ops;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub(crate) mod prometheus;
#[cfg(feature = "prometheus")]
pub(crate) mod recorder;
pub(crate) mod seam;
#[cfg(feature = "prometheus")]
mod series_labels;
// Always compiled: the seam's `MetricsText` names the format.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) mod text_format;
#[cfg(feature = "http")]
mod workflow_views;

use crate::init_error::InitError;
use seam::{Configured, Settings};

/// Every exporter the settings turn on, in start order (the guard stops them
/// in the reverse order). Only checks settings: nothing starts here.
pub(crate) fn configure(settings: &Settings) -> Result<Vec<Box<dyn Configured>>, InitError> {
    #[cfg_attr(
        not(any(
            feature = "prometheus",
            feature = "otlp",
            feature = "health",
            feature = "http",
            feature = "ops",
            feature = "mlflow"
        )),
        allow(unused_mut)
    )]
    let mut exporters: Vec<Box<dyn Configured>> = Vec::new();
    #[cfg(feature = "prometheus")]
    exporters.extend(prometheus::configure(settings)?);
    #[cfg(feature = "otlp")]
    exporters.extend(otlp::configure(settings)?);
    #[cfg(feature = "health")]
    exporters.extend(health::configure(settings)?);
    #[cfg(feature = "http")]
    exporters.extend(workflow_views::configure(settings)?);
    #[cfg(feature = "ops")]
    exporters.extend(ops::configure(settings)?);
    #[cfg(feature = "http")]
    exporters.extend(log_level::configure(settings)?);
    #[cfg(feature = "mlflow")]
    exporters.extend(mlflow::configure(settings)?);
    let _ = settings;
    Ok(exporters)
}
