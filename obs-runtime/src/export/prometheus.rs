//! The Prometheus recorder behind `GET /metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::InitError;

/// Builds the Prometheus recorder with real histograms (the given bucket
/// bounds) and installs it as the global `metrics` recorder.
pub(crate) fn install(buckets: &[f64]) -> Result<PrometheusHandle, InitError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets(buckets)
        .map_err(|e| InitError::Config(format!("histogram buckets: {e}")))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| InitError::RecorderAlreadySet)?;
    Ok(handle)
}
