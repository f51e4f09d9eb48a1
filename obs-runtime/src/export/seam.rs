//! The seam every exporter goes through. An exporter is configured from the
//! resolved [`Settings`] (checking them, starting nothing), installs the
//! process-wide state it owns, starts (filling the [`StartContext`] with what
//! it adds to the subscriber and the HTTP server) and, owned by the guard,
//! flushes and stops within a deadline.
//!
//! `init` drives every exporter through the same steps, in this order:
//! 1. [`configure`](super::configure): every setting resolved and checked;
//!    a mistake is an error before anything global changes;
//! 2. [`Configured::install`]: the globals (the metrics recorder, the health registry);
//! 3. [`Configured::start`]: threads and pipelines, routes, layers; then `init`
//!    installs the subscriber and serves the routes;
//! 4. [`Exporter::ready`]: work that records telemetry itself (the first
//!    health evaluation) starts once the subscriber and the recorder are in place.

use std::time::{Duration, Instant};

use crate::init_error::InitError;

/// The resolved settings an exporter is configured from.
pub(crate) struct Settings {
    /// The service name in effect.
    pub service: String,
    /// The metric name prefix.
    #[cfg_attr(not(feature = "ops"), allow(dead_code))]
    pub namespace: String,
    /// Histogram bucket bounds, checked (ascending, non-empty), with every
    /// objective's latency threshold added.
    pub buckets: Vec<f64>,
    /// Whether the HTTP server runs, so that routes are served.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub serve_http: bool,
    /// Whether obs installs the subscriber (what OTLP export hooks into).
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub install_subscriber: bool,
    /// Whether the HTTP server listens on a loopback address.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub http_loopback: bool,
    /// Whether `PUT /obs/log-level` is open without a token on loopback ([`Builder::open_log_level_on_loopback`](crate::Builder::open_log_level_on_loopback)).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub open_log_level: bool,
    /// The resource (`resource.rs`): OTLP's, and `target_info` on `/metrics`.
    #[cfg_attr(not(any(feature = "prometheus", feature = "otlp")), allow(dead_code))]
    pub resource: Vec<(String, String)>,
    /// Whether obs installs its Prometheus recorder.
    #[cfg(feature = "prometheus")]
    pub prometheus: bool,
    /// The constant labels as the builder gave them (checked by the Prometheus exporter).
    #[cfg(feature = "prometheus")]
    pub const_labels: Vec<(String, String)>,
    /// The most label sets one application family keeps apart in the recorder.
    #[cfg(feature = "prometheus")]
    pub max_series: usize,
    /// Whether `/metrics` shows the standard process families.
    #[cfg(feature = "prometheus")]
    pub process_metrics: bool,
    #[cfg(feature = "health")]
    pub health: crate::health::Settings,
    #[cfg(feature = "health")]
    pub health_group: Option<std::sync::Arc<dyn crate::health::HealthCheck>>,
    #[cfg(feature = "otlp")]
    pub otlp: super::otlp::settings::OtlpOptions,
    #[cfg(feature = "ops")]
    pub ops: crate::ops::settings::OpsSettings,
    #[cfg(feature = "mlflow")]
    pub mlflow: crate::mlflow::options::MlflowOptions,
}

/// The subscriber's base, under the layers exporters add.
#[cfg(feature = "otlp")]
pub(crate) type Base = tracing_subscriber::layer::Layered<crate::log::level::LiveFilter, tracing_subscriber::Registry>;

/// Renders the text a scrape of `/metrics` returns now, in the format given.
pub(crate) type MetricsText = std::sync::Arc<dyn Fn(super::text_format::TextFormat) -> String + Send + Sync>;

/// What exporters hand to `init` while they start: the pieces of the
/// subscriber and of the HTTP server that `init` puts together once all of
/// them have started.
#[derive(Default)]
pub(crate) struct StartContext {
    #[cfg(feature = "http")]
    routes: axum::Router,
    /// The paths the routes serve, listed at `GET /` and in the start line.
    #[cfg(feature = "http")]
    paths: Vec<&'static str>,
    /// The OpenTelemetry layer, between the filter and the log layer (which
    /// reads the ids it assigns).
    #[cfg(feature = "otlp")]
    pub span_layer: Option<tracing_opentelemetry::OpenTelemetryLayer<Base, opentelemetry_sdk::trace::SdkTracer>>,
    /// Where the log layer sends log events for export.
    #[cfg(feature = "otlp")]
    pub log_sink: Option<super::otlp::logs::LogSink>,
    /// What [`ObsGuard::render_metrics`](crate::ObsGuard::render_metrics) returns.
    pub metrics_text: Option<MetricsText>,
    /// What each exporter sends where, secrets removed, for the `obs.start` line.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub exports: Vec<String>,
    /// The constant labels in effect (`environment="prod",...`), for the `obs.start` line.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub const_labels: String,
}

impl StartContext {
    /// Adds routes to the HTTP server (served when it runs); `paths` name what
    /// they serve, for the index at `GET /` and the start line.
    #[cfg(feature = "http")]
    pub(crate) fn serve(&mut self, paths: &[&'static str], add: impl FnOnce(axum::Router) -> axum::Router) {
        self.paths.extend_from_slice(paths);
        self.routes = add(std::mem::take(&mut self.routes));
    }

    /// Every route contributed, with `GET /` listing them, and their paths.
    #[cfg(feature = "http")]
    pub(crate) fn take_routes(&mut self) -> (axum::Router, Vec<&'static str>) {
        let paths = std::mem::take(&mut self.paths);
        let index: String = std::iter::once("obs endpoints:\n".to_owned())
            .chain(paths.iter().map(|path| format!("  {path}\n")))
            .collect();
        let routes = std::mem::take(&mut self.routes).route("/", axum::routing::get(move || async move { index }));
        (routes, paths)
    }
}

/// An exporter whose settings are resolved and checked: nothing started yet.
pub(crate) trait Configured {
    /// Installs the process-wide state this exporter owns. Runs for every
    /// exporter before any starts.
    fn install(&mut self) -> Result<(), InitError> {
        Ok(())
    }

    /// Whether this exporter renders the function metrics from obs's own
    /// store (so the store keeps them instead of the `metrics` facade).
    fn reads_function_store(&self) -> bool {
        false
    }

    /// Starts the exporter, adding what it needs to `cx`.
    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError>;
}

/// A running exporter, owned by the [`ObsGuard`](crate::ObsGuard).
pub(crate) trait Exporter: Send + Sync {
    /// Called once the subscriber, the recorder and the HTTP server are in place.
    fn ready(&mut self) {}

    /// The longest [`shutdown`](Self::shutdown) may take; the guard's overall
    /// deadline is the longest of these.
    fn shutdown_limit(&self) -> Duration;

    /// Flushes what is pending and stops, returning by `deadline` at the
    /// latest (and by `shutdown_limit` after it was called).
    fn shutdown(self: Box<Self>, deadline: Instant);
}
