//! The guard `init` returns: it owns the running exporters and stops them.

use std::net::SocketAddr;
use std::time::Instant;

use crate::export::seam::{Exporter, MetricsText};

/// Keeps telemetry running; dropping it stops the HTTP endpoints and flushes
/// every exporter. Hold it in `main` for the life of the program.
#[must_use = "dropping the guard stops the endpoints and flushes telemetry"]
pub struct ObsGuard {
    pub(super) service: String,
    pub(super) http_addr: Option<SocketAddr>,
    pub(super) metrics_text: Option<MetricsText>,
    /// In start order; stopped in the reverse one.
    pub(super) exporters: Vec<Box<dyn Exporter>>,
}

impl ObsGuard {
    /// The address the HTTP endpoints listen on, when they run.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The service name in effect.
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// The Prometheus text a scrape of `/metrics` would return now.
    pub fn render_metrics(&self) -> Option<String> {
        self.metrics_text.as_ref().map(|render| render())
    }
}

impl Drop for ObsGuard {
    /// Stops the exporters last started first (the HTTP server before what
    /// its requests record, span export before the recorder's upkeep), all
    /// within one deadline: the longest any of them asks for.
    fn drop(&mut self) {
        let limit = self.exporters.iter().map(|e| e.shutdown_limit()).max().unwrap_or_default();
        let deadline = Instant::now() + limit;
        while let Some(exporter) = self.exporters.pop() {
            exporter.shutdown(deadline);
        }
    }
}

// The guard was always `Send + Sync` (tests keep it in a static); the exporters must keep it so.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ObsGuard>();
};
