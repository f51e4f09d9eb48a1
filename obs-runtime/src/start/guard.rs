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
        self.metrics_text.as_ref().map(|render| render(crate::export::text_format::TextFormat::Prometheus))
    }
}

impl std::fmt::Debug for ObsGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObsGuard")
            .field("service", &self.service)
            .field("http_addr", &self.http_addr)
            .field("running", &self.exporters.len())
            .finish()
    }
}

impl Drop for ObsGuard {
    /// Stops the exporters last started first (the HTTP server before what
    /// its requests record, span export before the log writer), all
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// Records when it was stopped and with which deadline.
    struct Probe {
        name: &'static str,
        limit: Duration,
        stopped: Arc<Mutex<Vec<(&'static str, Instant)>>>,
    }

    impl Exporter for Probe {
        fn shutdown_limit(&self) -> Duration {
            self.limit
        }
        fn shutdown(self: Box<Self>, deadline: Instant) {
            self.stopped.lock().unwrap().push((self.name, deadline));
        }
    }

    #[test]
    fn dropping_the_guard_stops_the_last_started_first_within_one_deadline() {
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let probe = |name, secs| -> Box<dyn Exporter> {
            Box::new(Probe { name, limit: Duration::from_secs(secs), stopped: stopped.clone() })
        };
        let guard = ObsGuard {
            service: "svc".into(),
            http_addr: None,
            metrics_text: None,
            exporters: vec![probe("recorder", 1), probe("spans", 5), probe("server", 2)],
        };
        let dropped_at = Instant::now();
        drop(guard);
        let stopped = stopped.lock().unwrap();
        let order: Vec<_> = stopped.iter().map(|(name, _)| *name).collect();
        assert_eq!(order, ["server", "spans", "recorder"]);
        let deadline = stopped[0].1;
        assert!(stopped.iter().all(|(_, d)| *d == deadline), "one deadline for all");
        let budget = deadline - dropped_at;
        assert!(budget >= Duration::from_secs(5) && budget < Duration::from_secs(6), "the longest limit: {budget:?}");
    }
}
