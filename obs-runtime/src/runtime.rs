//! What `init` starts and what the guard stops.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
#[cfg(any(feature = "http", feature = "prometheus"))]
use std::time::Duration;

use crate::config::{Builder, InitError};

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Keeps telemetry running; dropping it stops the HTTP endpoints and flushes
/// every exporter. Hold it in `main` for the life of the program.
#[must_use = "dropping the guard stops the endpoints and flushes telemetry"]
pub struct ObsGuard {
    service: String,
    #[cfg(feature = "http")]
    http: Option<crate::http::Server>,
    #[cfg(feature = "prometheus")]
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    upkeep: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    #[cfg(feature = "health")]
    _health_refresh: Option<crate::health::Refresher>,
    #[cfg(feature = "otlp")]
    otlp: Option<crate::export::otlp::Exporter>,
}

impl ObsGuard {
    /// The address the HTTP endpoints listen on, when they run.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "http")]
        return self.http.as_ref().map(|s| s.addr());
        #[cfg(not(feature = "http"))]
        None
    }

    /// The service name in effect.
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// The Prometheus text a scrape of `/metrics` would return now.
    pub fn render_metrics(&self) -> Option<String> {
        #[cfg(feature = "prometheus")]
        return self.prometheus.as_ref().map(crate::export::prometheus::render);
        #[cfg(not(feature = "prometheus"))]
        None
    }
}

impl Drop for ObsGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(exporter) = self.otlp.take() {
            exporter.shutdown();
        }
        #[cfg(feature = "http")]
        if let Some(server) = self.http.take() {
            server.stop(Duration::from_secs(2));
        }
        if let Some((stop, thread)) = self.upkeep.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

pub(crate) fn start(mut builder: Builder) -> Result<ObsGuard, InitError> {
    // Everything that can fail on bad input is checked before anything global changes.
    let service = builder.resolved_service_name();
    builder.filter()?;
    if builder.buckets.is_empty() || builder.buckets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(InitError::Config(format!(
            "histogram buckets must be ascending and non-empty, got {:?}",
            builder.buckets
        )));
    }
    let http_addr = builder.resolved_http_addr()?;
    #[cfg(feature = "otlp")]
    let otlp_settings = crate::export::otlp::Settings::resolve(&builder.otlp, &service)?;
    #[cfg(feature = "http")]
    let listener = match http_addr {
        Some(addr) => Some(std::net::TcpListener::bind(addr).map_err(|e| InitError::Bind(addr, e))?),
        None => None,
    };
    #[cfg(not(feature = "http"))]
    let _ = http_addr;

    if INITIALIZED.swap(true, Ordering::SeqCst) {
        return Err(InitError::AlreadyInitialized);
    }

    #[cfg(feature = "prometheus")]
    let prometheus =
        if builder.prometheus { Some(crate::export::prometheus::install(&builder.buckets)?) } else { None };
    // With obs's own exporter, obs keeps and renders the function metrics itself.
    #[cfg(feature = "prometheus")]
    let own_buckets = prometheus.as_ref().map(|_| builder.buckets.as_slice());
    #[cfg(not(feature = "prometheus"))]
    let own_buckets = None;
    crate::metrics::activate(&builder.namespace, builder.max_series, own_buckets);
    crate::callsite::preregister();
    crate::workflow::metrics::preregister();

    #[cfg(feature = "health")]
    {
        let mut settings = builder.health_settings.clone();
        if let Ok(token) = std::env::var("OBS_HEALTH_TOKEN") {
            settings.token = Some(token).filter(|t| !t.trim().is_empty()).or(settings.token);
        }
        crate::health::configure(settings);
        if let Some(group) = builder.health.take() {
            crate::health::register_arc(group);
        }
    }

    // Export needs the OpenTelemetry layer (and the log layer's sink) in the subscriber obs installs.
    #[cfg(feature = "otlp")]
    let (otlp, spans, logs) = match otlp_settings.filter(|_| builder.install_subscriber) {
        Some(settings) => {
            let started = crate::export::otlp::Exporter::start(settings)?;
            let spans = started.tracer.map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
            (Some(started.exporter), spans, started.logs)
        }
        None => (None, None, None),
    };
    #[cfg(not(feature = "otlp"))]
    let (spans, logs) = (tracing_subscriber::layer::Identity::new(), ());
    if builder.install_subscriber {
        builder.install_tracing(&service, spans, logs)?;
    }

    #[cfg(feature = "http")]
    let http = match listener {
        Some(listener) => Some(crate::http::Server::start(
            listener,
            crate::http::router(
                #[cfg(feature = "prometheus")]
                prometheus.clone(),
            ),
        )?),
        None => None,
    };

    #[cfg(feature = "prometheus")]
    let upkeep = prometheus.clone().map(|handle| {
        // Drains histogram samples into buckets even when nobody scrapes, so memory stays flat.
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("obs-upkeep".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_secs(5)) {
                    handle.run_upkeep();
                }
            })
            .ok();
        thread.map(|t| (stop, t))
    });
    #[cfg(not(feature = "prometheus"))]
    let upkeep = None;

    // After the subscriber and the recorder, so the first evaluation is recorded.
    #[cfg(feature = "health")]
    let health_refresh = crate::health::start_refresh(builder.health_settings.refresh);

    Ok(ObsGuard {
        service,
        #[cfg(feature = "http")]
        http,
        #[cfg(feature = "prometheus")]
        prometheus,
        upkeep: upkeep.flatten(),
        #[cfg(feature = "health")]
        _health_refresh: health_refresh,
        #[cfg(feature = "otlp")]
        otlp,
    })
}
