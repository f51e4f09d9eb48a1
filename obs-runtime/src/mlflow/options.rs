//! What the builder says about MLflow tracking (a leaf: `config.rs` and the
//! exporter's settings hold it).

use std::time::Duration;

/// What the builder says about tracking.
#[derive(Debug, Clone)]
pub(crate) struct MlflowOptions {
    pub tracking_uri: Option<String>,
    pub experiment: Option<String>,
    pub timeout: Duration,
    pub retry_for: Duration,
    pub queue_size: usize,
    pub shutdown_timeout: Duration,
    pub error_log_interval: Duration,
    pub flush_every: Duration,
}

impl Default for MlflowOptions {
    fn default() -> Self {
        MlflowOptions {
            tracking_uri: None,
            experiment: None,
            timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(10),
            queue_size: 4096,
            shutdown_timeout: Duration::from_secs(5),
            error_log_interval: Duration::from_secs(60),
            flush_every: Duration::from_millis(500),
        }
    }
}
