//! What `init` does, in order: resolve and check every setting, install the
//! globals, start the exporters (then the subscriber and the HTTP server
//! from what they contributed), and hand the running exporters to the guard.

mod guard;
mod subscriber;

use std::sync::atomic::{AtomicBool, Ordering};

pub use guard::ObsGuard;

use crate::config::Builder;
use crate::export::seam::{self, StartContext};
use crate::init_error::InitError;

static INITIALIZED: AtomicBool = AtomicBool::new(false);

impl Builder {
    /// Installs everything; see [`init`](crate::init).
    pub fn init(self) -> Result<ObsGuard, InitError> {
        // Compiled out: nothing is installed, started or served; the guard only names the service.
        #[cfg(all(feature = "disabled", not(feature = "testing")))]
        return Ok(ObsGuard {
            service: self.resolved_service_name(),
            http_addr: None,
            metrics_text: None,
            exporters: Vec::new(),
            announce: None,
        });
        #[cfg(not(all(feature = "disabled", not(feature = "testing"))))]
        start(self)
    }
}

/// Binds the endpoints' address. A taken port is an error when the address
/// was asked for; the default one (two obs applications on one machine) is
/// given up with a warning, and the application runs on without the server.
#[cfg(feature = "http")]
fn bind(at: crate::config::HttpAddr) -> Result<Option<std::net::TcpListener>, InitError> {
    match crate::http::bind(at.addr) {
        Ok(listener) => Ok(Some(listener)),
        Err(InitError::Bind(addr, e)) if !at.explicit && e.kind() == std::io::ErrorKind::AddrInUse => {
            crate::env::warn(&format!(
                "the default address {addr} of the obs endpoints (/metrics, /health) is in use, so they are \
                 not served; set OBS_HTTP_ADDR=127.0.0.1:0 (any free port) or OBS_HTTP_ADDR=off, or call \
                 Builder::http_addr"
            ));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg_attr(all(feature = "disabled", not(feature = "testing")), allow(dead_code))]
fn start(mut builder: Builder) -> Result<ObsGuard, InitError> {
    // 1. Everything that can fail on bad input is checked before anything global changes.
    let service = builder.resolved_service_name();
    let filter = builder.filter()?;
    let buckets =
        crate::callsite::with_objective_bounds(builder.checked_buckets()?.to_vec(), crate::callsite::catalog());
    let http_addr = builder.resolved_http_addr();
    #[cfg(feature = "http")]
    let listener = http_addr.map(bind).transpose()?.flatten();
    #[cfg(feature = "http")]
    let serve_http = listener.is_some();
    #[cfg(not(feature = "http"))]
    let serve_http = false;
    #[cfg(feature = "http")]
    let http_loopback = listener.as_ref().and_then(|l| l.local_addr().ok()).is_some_and(|addr| addr.ip().is_loopback());
    #[cfg(not(feature = "http"))]
    let http_loopback = false;
    let _ = http_addr;
    let resource = crate::resource::detect(&service, builder.service_version.as_deref());
    let settings = seam::Settings {
        service,
        resource,
        namespace: builder.namespace.clone(),
        buckets,
        serve_http,
        http_loopback,
        open_log_level: builder.open_log_level,
        install_subscriber: builder.install_subscriber,
        #[cfg(feature = "prometheus")]
        prometheus: builder.prometheus,
        #[cfg(feature = "prometheus")]
        const_labels: builder.const_labels.clone(),
        #[cfg(feature = "prometheus")]
        max_series: builder.max_series,
        #[cfg(feature = "prometheus")]
        process_metrics: builder.process_metrics,
        #[cfg(feature = "health")]
        health: builder.health_settings.clone(),
        #[cfg(feature = "health")]
        health_group: builder.health.take(),
        #[cfg(feature = "otlp")]
        otlp: builder.otlp.clone(),
        #[cfg(feature = "ops")]
        ops: builder.ops.clone(),
        #[cfg(feature = "mlflow")]
        mlflow: builder.mlflow.clone(),
    };
    let configured = crate::export::configure(&settings)?;
    if INITIALIZED.load(Ordering::SeqCst) {
        return Err(InitError::AlreadyInitialized);
    }
    // Someone else's subscriber would make step 3 fail with the globals of
    // step 2 already in place: refuse now, while nothing has changed.
    if builder.install_subscriber && tracing::dispatcher::has_been_set() {
        return Err(InitError::SubscriberAlreadySet);
    }

    // 2. The globals.
    if INITIALIZED.swap(true, Ordering::SeqCst) {
        return Err(InitError::AlreadyInitialized);
    }
    let mut installed = Vec::with_capacity(configured.len());
    for mut exporter in configured {
        if let Err(e) = exporter.install() {
            // Only the recorder's install can fail, and it is the first: nothing
            // global changed, so `init` may be called again (without it).
            if installed.is_empty() {
                INITIALIZED.store(false, Ordering::SeqCst);
            }
            return Err(e);
        }
        installed.push(exporter);
    }
    crate::metrics::poll::set_threshold(builder.resolved_slow_poll());
    let own_buckets = installed.iter().any(|e| e.reads_function_store()).then_some(settings.buckets.as_slice());
    crate::metrics::activate(&builder.namespace, builder.max_series, builder.label_values, own_buckets);
    crate::callsite::preregister();
    crate::metrics::watch_current_runtime();
    crate::workflow::metrics::preregister();

    // 3. The exporters, then the subscriber and the server from what they
    // contributed. What fails from here on (a thread the system refuses, a
    // subscriber installed by another thread meanwhile) stops what started.
    let mut cx = StartContext::default();
    let mut exporters = Started(Vec::with_capacity(installed.len() + 1));
    for exporter in installed {
        exporters.0.push(exporter.start(&mut cx)?);
    }
    let mut logs_first = false;
    if builder.install_subscriber {
        let writer = builder.log_writer.take();
        // First in the list, so stopped last: what the others log while they stop is written.
        let format = (builder.log_format, builder.log_all_span_fields);
        if let Some(log_writer) = subscriber::install(&settings.service, filter, format, writer, &mut cx)? {
            exporters.0.insert(0, log_writer);
            logs_first = true;
        }
    }
    #[cfg(feature = "http")]
    let http_addr = match listener {
        Some(listener) => {
            let (routes, paths) = cx.take_routes();
            let server = crate::http::Server::start(listener, routes)?;
            let addr = server.addr();
            exporters.0.push(Box::new(server));
            let paths = paths.join(", ");
            // The effective settings, none of them a secret: endpoints come through
            // `Endpoint::shown` (userinfo and query values removed, no header).
            tracing::info!(
                target: "obs_runtime",
                event = "obs.start",
                service = %settings.service,
                http.address = %addr,
                endpoints = %paths,
                exports = %cx.exports.join(", "),
                metrics.namespace = %builder.namespace,
                metrics.buckets = ?settings.buckets,
                metrics.max_series = builder.max_series,
                metrics.const_labels = %cx.const_labels,
                metrics.label_values_limit = builder.label_values,
                poll.slow_ms = builder.resolved_slow_poll().as_secs_f64() * 1000.0,
                "obs: serving {paths} on http://{addr}"
            );
            Some(addr)
        }
        None => None,
    };
    #[cfg(not(feature = "http"))]
    let http_addr = None;

    // 4. After the subscriber and the recorder, so the first health evaluation is recorded.
    let mut exporters = std::mem::take(&mut exporters.0);
    for exporter in &mut exporters {
        exporter.ready();
    }
    let announce = Some(guard::Announce { log_writer_first: logs_first });
    Ok(ObsGuard { service: settings.service, http_addr, metrics_text: cx.metrics_text, exporters, announce })
}

/// Exporters started by an `init` that has not returned yet: if it fails,
/// they are stopped (last started first), as a guard would stop them.
struct Started(Vec<Box<dyn crate::export::seam::Exporter>>);

impl Drop for Started {
    fn drop(&mut self) {
        drop(ObsGuard {
            service: String::new(),
            http_addr: None,
            metrics_text: None,
            exporters: std::mem::take(&mut self.0),
            announce: None,
        });
    }
}
