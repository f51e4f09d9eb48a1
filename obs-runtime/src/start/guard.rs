//! The guard `init` returns: it owns the running exporters and stops them.

use std::net::SocketAddr;
use std::time::Instant;

use crate::export::seam::{Exporter, MetricsText};
use crate::metrics::{
    EXPORTER_DROPPED_SPANS_TOTAL, EXPORTER_EXPORTED_SPANS_TOTAL, EXPORTER_FAILED_SPANS_TOTAL, LOG_DROPPED_TOTAL,
};

/// Keeps telemetry running; dropping it stops the HTTP endpoints and flushes
/// every exporter. Hold it in `main` for the life of the program.
#[must_use = "dropping the guard stops the endpoints and flushes telemetry"]
pub struct ObsGuard {
    pub(super) service: String,
    pub(super) http_addr: Option<SocketAddr>,
    pub(super) metrics_text: Option<MetricsText>,
    /// In start order; stopped in the reverse one.
    pub(super) exporters: Vec<Box<dyn Exporter>>,
    /// Whether dropping logs `obs.shutdown` (an `init` that returned; not one
    /// that failed half-way), and whether the first exporter is obs's log writer,
    /// stopped after that line so that it is written.
    pub(super) announce: Option<Announce>,
}

/// How the guard says it stopped.
#[derive(Clone, Copy)]
pub(super) struct Announce {
    pub(super) log_writer_first: bool,
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
        let began = Instant::now();
        let limit = self.exporters.iter().map(|e| e.shutdown_limit()).max().unwrap_or_default();
        let deadline = began + limit;
        let Some(announce) = self.announce.take() else {
            while let Some(exporter) = self.exporters.pop() {
                exporter.shutdown(deadline);
            }
            return;
        };
        let keep = usize::from(announce.log_writer_first).min(self.exporters.len());
        while self.exporters.len() > keep {
            if let Some(exporter) = self.exporters.pop() {
                exporter.shutdown(deadline);
            }
        }
        // Every exporter but the log writer has flushed: what they counted is final.
        let totals = self
            .metrics_text
            .as_ref()
            .map(|render| ShutdownTotals::read(&render(crate::export::text_format::TextFormat::Prometheus)));
        log_shutdown(&self.service, totals.as_ref(), began.elapsed());
        while let Some(exporter) = self.exporters.pop() {
            exporter.shutdown(deadline);
        }
    }
}

/// What the exporters handed on and lost over the process's life, per signal,
/// read from the counters they keep (the text `/metrics` renders).
#[derive(Default, Debug, PartialEq)]
struct ShutdownTotals {
    /// `[exported, dropped (queue full), failed]` per signal, when that signal was exported.
    traces: Option<[u64; 3]>,
    logs: Option<[u64; 3]>,
    metrics: Option<[u64; 3]>,
    /// Log lines the writer dropped because stdout did not keep up.
    log_lines_dropped: Option<u64>,
}

impl ShutdownTotals {
    fn read(text: &str) -> ShutdownTotals {
        let namespace = crate::metrics::namespace();
        let families = [
            EXPORTER_EXPORTED_SPANS_TOTAL.name_in(namespace),
            EXPORTER_DROPPED_SPANS_TOTAL.name_in(namespace),
            EXPORTER_FAILED_SPANS_TOTAL.name_in(namespace),
        ];
        let log_dropped = LOG_DROPPED_TOTAL.name_in(namespace);
        let mut totals = ShutdownTotals::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            if name == log_dropped {
                totals.log_lines_dropped = Some(value as u64);
                continue;
            }
            let Some(column) = families.iter().position(|f| f == name) else { continue };
            let slot = match labels {
                l if l.contains("signal=\"traces\"") => &mut totals.traces,
                l if l.contains("signal=\"logs\"") => &mut totals.logs,
                l if l.contains("signal=\"metrics\"") => &mut totals.metrics,
                _ => continue,
            };
            slot.get_or_insert([0; 3])[column] += value as u64;
        }
        totals
    }
}

/// The one `obs.shutdown` line: how long stopping took and, per signal, what was flushed and lost.
fn log_shutdown(service: &str, totals: Option<&ShutdownTotals>, took: std::time::Duration) {
    let column = |signal: Option<[u64; 3]>, i: usize| signal.map(|s| s[i]);
    let (traces, logs, metrics) = totals.map_or((None, None, None), |t| (t.traces, t.logs, t.metrics));
    tracing::info!(
        target: "obs_runtime",
        event = "obs.shutdown",
        service = %service,
        duration_ms = took.as_secs_f64() * 1000.0,
        traces.exported = column(traces, 0),
        traces.dropped = column(traces, 1),
        traces.failed = column(traces, 2),
        logs.exported = column(logs, 0),
        logs.dropped = column(logs, 1),
        logs.failed = column(logs, 2),
        metrics.exported = column(metrics, 0),
        metrics.dropped = column(metrics, 1),
        metrics.failed = column(metrics, 2),
        log_lines.dropped = totals.and_then(|t| t.log_lines_dropped),
        "obs: stopped"
    );
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
            announce: None,
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

    #[test]
    fn shutdown_totals_are_read_per_signal_from_the_rendered_counters() {
        let text = "# TYPE obs_exporter_exported_spans_total counter\n\
            obs_exporter_exported_spans_total{signal=\"traces\"} 12\n\
            obs_exporter_dropped_spans_total{signal=\"traces\"} 3\n\
            obs_exporter_failed_spans_total{signal=\"traces\"} 0\n\
            obs_exporter_failed_spans_total{signal=\"logs\"} 4\n\
            obs_log_dropped_total 2\n\
            obs_function_calls_total{function=\"f\",module=\"m\",status=\"ok\"} 9\n";
        let totals = ShutdownTotals::read(text);
        assert_eq!(
            totals,
            ShutdownTotals {
                traces: Some([12, 3, 0]),
                logs: Some([0, 0, 4]),
                metrics: None,
                log_lines_dropped: Some(2)
            }
        );
    }
}
