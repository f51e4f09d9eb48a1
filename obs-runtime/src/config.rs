//! The builder of `init()` and its settings: what the code asks for, and how
//! each setting is resolved against the environment and checked. Starting
//! anything is the start-up module's business (`Builder::init` lives there).
//!
//! Two kinds of mistakes, two treatments (as the OpenTelemetry specification
//! asks for the environment): a mistake in code (the builder) is an
//! [`InitError`]; an invalid environment value is warned about once, on
//! stderr (the subscriber may not exist yet, and may never be obs's), and
//! treated as unset. A warning names the variable and what is used instead,
//! never the value, which may be a secret (headers, endpoints with userinfo,
//! tokens) or a megabyte.

use std::net::SocketAddr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::env::{env_var, warn_env};
use crate::init_error::InitError;
use crate::log::LogFormat;

/// Default histogram bucket bounds, in seconds: 1 ms to 10 s.
const DEFAULT_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Default address of the HTTP endpoints.
const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:9464";

/// Configures what [`init`](crate::init) sets up. Environment variables win
/// over code where the OpenTelemetry conventions say so (`OTEL_SERVICE_NAME`,
/// `RUST_LOG`, the `OTEL_EXPORTER_OTLP_*` settings); `OBS_HTTP_ADDR` applies
/// only when the code does not call [`http_addr`](Self::http_addr) or
/// [`without_http`](Self::without_http).
///
/// ```no_run
/// let _guard = obs_runtime::builder()
///     .service_name("checkout")
///     .namespace("shop")
///     .http_addr("127.0.0.1:9100".parse().unwrap())
///     .init()
///     .expect("telemetry");
/// ```
pub struct Builder {
    pub(crate) service_name: Option<String>,
    pub(crate) namespace: String,
    pub(crate) buckets: Vec<f64>,
    pub(crate) log_format: LogFormat,
    pub(crate) log_all_span_fields: bool,
    pub(crate) log_filter: Option<String>,
    pub(crate) log_writer: Option<BoxMakeWriter>,
    pub(crate) http_addr: HttpSetting,
    pub(crate) max_series: usize,
    pub(crate) label_values: usize,
    pub(crate) service_version: Option<String>,
    pub(crate) const_labels: Vec<(String, String)>,
    pub(crate) install_subscriber: bool,
    pub(crate) prometheus: bool,
    pub(crate) process_metrics: bool,
    pub(crate) slow_poll: std::time::Duration,
    pub(crate) open_log_level: bool,
    #[cfg(feature = "health")]
    pub(crate) health: Option<std::sync::Arc<dyn crate::health::HealthCheck>>,
    #[cfg(feature = "health")]
    pub(crate) health_settings: crate::health::Settings,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: crate::export::otlp::OtlpOptions,
    #[cfg(feature = "ops")]
    pub(crate) ops: crate::ops::settings::OpsSettings,
    #[cfg(feature = "mlflow")]
    pub(crate) mlflow: crate::mlflow::options::MlflowOptions,
}

/// Where the HTTP endpoints are served, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HttpAddr {
    pub addr: SocketAddr,
    /// Asked for (builder or `OBS_HTTP_ADDR`), so a taken port is an error;
    /// the default address is given up with a warning instead.
    pub explicit: bool,
}

pub(crate) enum HttpSetting {
    Default,
    At(SocketAddr),
    Off,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            service_name: None,
            namespace: "obs".to_owned(),
            buckets: DEFAULT_BUCKETS.to_vec(),
            log_format: LogFormat::Auto,
            log_all_span_fields: false,
            log_filter: None,
            log_writer: None,
            http_addr: HttpSetting::Default,
            max_series: 1000,
            label_values: 100,
            service_version: None,
            const_labels: Vec::new(),
            install_subscriber: true,
            prometheus: true,
            process_metrics: true,
            slow_poll: crate::metrics::poll::DEFAULT_SLOW_POLL,
            open_log_level: false,
            #[cfg(feature = "health")]
            health: None,
            #[cfg(feature = "health")]
            health_settings: Default::default(),
            #[cfg(feature = "otlp")]
            otlp: Default::default(),
            #[cfg(feature = "ops")]
            ops: Default::default(),
            #[cfg(feature = "mlflow")]
            mlflow: Default::default(),
        }
    }
}

impl Builder {
    /// The default histogram bucket bounds, in seconds: 1 ms to 10 s.
    pub const DEFAULT_BUCKETS: &'static [f64] = DEFAULT_BUCKETS;
    /// The default address of the HTTP endpoints, `127.0.0.1:9464`.
    pub const DEFAULT_HTTP_ADDR: &'static str = DEFAULT_HTTP_ADDR;

    /// The `service` of log lines and the service name of exported spans.
    /// `OTEL_SERVICE_NAME` wins; without either, the executable's name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The metric name prefix: `obs` gives `obs_function_calls_total`; empty gives no prefix.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Histogram bucket upper bounds, in seconds, ascending.
    pub fn buckets(mut self, bounds: &[f64]) -> Self {
        self.buckets = bounds.to_vec();
        self
    }

    /// Compact lines at a terminal and JSON elsewhere (the default, [`LogFormat::Auto`]),
    /// or always JSON, compact, pretty, or no log output. `OBS_LOG_FORMAT` wins when set.
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = format;
        self
    }

    /// Writes every field of every span in scope on each JSON line. By default
    /// a line carries its own span's fields and, of the spans around it, only
    /// those that identify the context (`*_id`, `run_id`, `workflow`, `node`,
    /// `attempt`, `http.route`, `http.request.method`), which keeps a node's
    /// line from repeating every argument of its workflow.
    pub fn log_all_span_fields(mut self, all: bool) -> Self {
        self.log_all_span_fields = all;
        self
    }

    /// The log filter in `RUST_LOG` syntax (`info,my_crate=debug`); `RUST_LOG` wins when set.
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = Some(filter.into());
        self
    }

    /// Where log lines go. By default stdout, through a bounded buffer and a
    /// writer thread, so that a stalled reader never blocks the application
    /// (lines that do not fit are dropped and counted in `obs_log_dropped_total`).
    /// A writer given here is called on the logging thread, as given.
    pub fn log_writer<W>(mut self, make_writer: W) -> Self
    where
        W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
    {
        self.log_writer = Some(BoxMakeWriter::new(make_writer));
        self
    }

    /// Serve the endpoints on `addr` (default `127.0.0.1:9464`, or `OBS_HTTP_ADDR`).
    /// Port 0 picks a free port; [`ObsGuard::http_addr`](crate::ObsGuard::http_addr) tells which.
    /// A chosen address that is taken is an error from `init`; the default one
    /// is given up with a warning (the application runs without the endpoints).
    pub fn http_addr(mut self, addr: SocketAddr) -> Self {
        self.http_addr = HttpSetting::At(addr);
        self
    }

    /// Do not start the HTTP server.
    pub fn without_http(mut self) -> Self {
        self.http_addr = HttpSetting::Off;
        self
    }

    /// The most series one metric may have before new label values fold into
    /// `__overflow__` (default 1,000): the error kinds of obs's errors family,
    /// and each family the application records through the `metrics` facade
    /// (past the limit, a new label set is recorded in the one series whose
    /// labels are all `__overflow__`, counted in `obs_overflow_total{metric}`).
    pub fn max_series_per_metric(mut self, limit: usize) -> Self {
        self.max_series = limit;
        self
    }

    /// How many values each string label of `labels(...)` keeps apart per
    /// function (default 100); later values fold into `__overflow__` and are
    /// counted in `obs_overflow_total`. Enum labels ([`LabelValue`](crate::LabelValue)) are not capped:
    /// their type declares every value.
    pub fn label_values_limit(mut self, limit: usize) -> Self {
        self.label_values = limit;
        self
    }

    /// A label with the same value on every series `/metrics` and the OTLP
    /// metrics export show, obs's families and the application's alike (not on
    /// `target_info`, which holds the resource): `const_label("environment", "prod")`.
    /// `OBS_CONST_LABELS=environment=prod,region=eu` adds to them (a name given
    /// in both takes the variable's value). `init` refuses a name that is not
    /// `[a-zA-Z_][a-zA-Z0-9_]*`, starts with `__`, is one obs puts on its
    /// families (`function`, `status`, `le`, ...) or a function's `labels(...)`, `job` or `instance`
    /// (Prometheus' target labels), or is given twice, and an empty value or
    /// one over 256 bytes. A label of the application's own metrics with the
    /// same name is renamed `exported_<name>`, as Prometheus renames a
    /// clashing target label.
    pub fn const_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.const_labels.push((name.into(), value.into()));
        self
    }

    /// Whether `init` installs the global `tracing` subscriber (default true).
    pub fn install_subscriber(mut self, install: bool) -> Self {
        self.install_subscriber = install;
        self
    }

    /// Whether `init` installs the Prometheus recorder (default true). Without
    /// it, metrics go to whatever `metrics` recorder the application installed.
    pub fn prometheus(mut self, install: bool) -> Self {
        self.prometheus = install;
        self
    }

    /// Whether `/metrics` shows the standard process metrics (default true):
    /// `process_cpu_seconds_total`, `process_resident_memory_bytes`,
    /// `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
    /// `process_threads` and `process_start_time_seconds`, read at scrape time,
    /// under those names whatever the namespace. Needs the `process` feature
    /// (on by default); on a platform that cannot tell a value it is absent.
    pub fn process_metrics(mut self, show: bool) -> Self {
        self.process_metrics = show;
        self
    }

    /// The slow-poll threshold (default 10 ms; `OBS_SLOW_POLL_THRESHOLD_MS` wins
    /// when set): a poll of an async `#[observe]`, `#[workflow]` or `#[node]`
    /// function that takes longer counts in `obs_function_slow_polls_total` and
    /// is logged at WARN (at most once a second per function). A poll that long
    /// holds its executor thread: blocking work inside async code.
    pub fn slow_poll_threshold(mut self, threshold: std::time::Duration) -> Self {
        self.slow_poll = threshold;
        self
    }

    /// `OBS_SLOW_POLL_THRESHOLD_MS` when set and valid (a bad one is warned about), else the builder's.
    pub(crate) fn resolved_slow_poll(&self) -> std::time::Duration {
        let Some(text) = env_var("OBS_SLOW_POLL_THRESHOLD_MS") else { return self.slow_poll };
        match text.trim().parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms >= 0.0 => std::time::Duration::from_secs_f64(ms / 1000.0),
            _ => {
                warn_env(
                    "OBS_SLOW_POLL_THRESHOLD_MS",
                    "not a number of milliseconds",
                    "the builder's threshold (default 10 ms)",
                );
                self.slow_poll
            }
        }
    }

    /// Let `PUT /obs/log-level` change the log filter without a token (default
    /// false). Only for a server on a loopback address: `init` refuses it on
    /// any other. With a token ([`health_token`](Self::health_token) or
    /// `OBS_HEALTH_TOKEN`) the token is required all the same; without one and
    /// without this, changes are refused.
    pub fn open_log_level_on_loopback(mut self, open: bool) -> Self {
        self.open_log_level = open;
        self
    }

    /// The application's health checks, served on `/health`, `/health/live`,
    /// `/health/ready` and `/health/{component}` (see [`health`](crate::health)).
    /// Same as calling [`health::register`](crate::health::register).
    #[cfg(feature = "health")]
    pub fn health<H: crate::health::HealthCheck + 'static>(mut self, group: H) -> Self {
        self.health = Some(std::sync::Arc::new(group));
        self
    }

    /// Who sees the per-check breakdown of the health endpoints (default:
    /// only requests with the bearer token of [`health_token`](Self::health_token)).
    #[cfg(feature = "health")]
    pub fn health_details(mut self, show: crate::health::ShowDetails) -> Self {
        self.health_settings.details = show;
        self
    }

    /// The bearer token that unlocks health details; `OBS_HEALTH_TOKEN` wins when set.
    #[cfg(feature = "health")]
    pub fn health_token(mut self, token: impl Into<String>) -> Self {
        self.health_settings.token = Some(token.into());
        self
    }

    /// How long a health evaluation is reused (default 1 s), so that probe
    /// storms do not hammer dependencies.
    #[cfg(feature = "health")]
    pub fn health_cache(mut self, ttl: std::time::Duration) -> Self {
        self.health_settings.cache_ttl = ttl;
        self
    }

    /// How often the health checks run in the background (default 10 s), so
    /// that `obs_health_status` and `health.changed` events stay current when
    /// nothing probes; `Duration::ZERO` runs them only when probed.
    #[cfg(feature = "health")]
    pub fn health_refresh(mut self, interval: std::time::Duration) -> Self {
        self.health_settings.refresh = interval;
        self
    }

    /// Export spans over OTLP/HTTP to the collector at `base_url` (spans go to
    /// `{base_url}/v1/traces`), as `OTEL_EXPORTER_OTLP_ENDPOINT` does; that
    /// variable and `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` win when set. See
    /// [`export::otlp`](crate::export::otlp) for every setting.
    #[cfg(feature = "otlp")]
    pub fn otlp_endpoint(mut self, base_url: impl Into<String>) -> Self {
        self.otlp.endpoint = Some(base_url.into());
        self
    }

    /// A header sent with every OTLP export request (e.g. `x-mlflow-experiment-id`);
    /// `OTEL_EXPORTER_OTLP_HEADERS` adds to these and wins for the same name.
    #[cfg(feature = "otlp")]
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.otlp.headers.push((name.into(), value.into()));
        self
    }

    /// Trust the CA certificates of this PEM file for `https://` endpoints,
    /// instead of the platform's roots, as `OTEL_EXPORTER_OTLP_CERTIFICATE`
    /// does (that variable and `..._TRACES_CERTIFICATE`, `..._LOGS_CERTIFICATE`
    /// win). The file is read in `init`: a missing or unparsable file is an
    /// [`InitError`](crate::InitError) naming the setting.
    #[cfg(feature = "otlp")]
    pub fn otlp_certificate(mut self, ca_pem: impl Into<std::path::PathBuf>) -> Self {
        self.otlp.tls.certificate = Some(ca_pem.into());
        self
    }

    /// Present this client certificate (PEM, the chain) and its private key
    /// (PEM: PKCS#8, PKCS#1 or SEC1) to the collector: mutual TLS, as
    /// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `OTEL_EXPORTER_OTLP_CLIENT_KEY`
    /// do (those win). Both files are read and checked in `init`.
    #[cfg(feature = "otlp")]
    pub fn otlp_client_certificate(
        mut self,
        certificate_pem: impl Into<std::path::PathBuf>,
        key_pem: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.otlp.tls.client_certificate = Some(certificate_pem.into());
        self.otlp.tls.client_key = Some(key_pem.into());
        self
    }

    /// Over gRPC, send to an endpoint given without a scheme (`collector:4317`)
    /// in plain text (`true`) or over TLS (`false`, the default), as
    /// `OTEL_EXPORTER_OTLP_INSECURE` does (it wins). An endpoint's `http://`
    /// or `https://` always decides; OTLP/HTTP endpoints need one.
    #[cfg(feature = "otlp")]
    pub fn otlp_insecure(mut self, insecure: bool) -> Self {
        self.otlp.tls.insecure = Some(insecure);
        self
    }

    /// Export metrics over OTLP too (default off): every obs family and every
    /// metric recorded through the `metrics` facade, the values `/metrics`
    /// shows, to `{endpoint}/v1/metrics` (or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`)
    /// every [`otlp_metric_interval`](Self::otlp_metric_interval).
    /// `OTEL_METRICS_EXPORTER=otlp` or `none` wins when set. Reads obs's
    /// Prometheus recorder, so it needs [`prometheus`](Self::prometheus) on (the default).
    #[cfg(feature = "otlp")]
    pub fn otlp_metrics(mut self, export: bool) -> Self {
        self.otlp.metrics = export;
        self
    }

    /// How often metrics are exported (default 60 s; `OTEL_METRIC_EXPORT_INTERVAL` wins).
    #[cfg(feature = "otlp")]
    pub fn otlp_metric_interval(mut self, interval: std::time::Duration) -> Self {
        self.otlp.metric_interval = interval.max(std::time::Duration::from_millis(1));
        self
    }

    /// Cumulative (the default) or delta sums and histograms;
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` wins when set.
    #[cfg(feature = "otlp")]
    pub fn otlp_metric_temporality(mut self, temporality: crate::export::otlp::Temporality) -> Self {
        self.otlp.temporality = temporality;
        self
    }

    /// The time limit of one export request (default 10 s; `OTEL_EXPORTER_OTLP_TIMEOUT` wins).
    #[cfg(feature = "otlp")]
    pub fn otlp_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.otlp.timeout = Some(timeout);
        self
    }

    /// How many finished spans may wait for export (default 2048); beyond that
    /// spans are dropped and counted in `obs_exporter_dropped_spans_total`.
    #[cfg(feature = "otlp")]
    pub fn otlp_queue_size(mut self, spans: usize) -> Self {
        self.otlp.queue_size = spans;
        self
    }

    /// How long an export batch may wait to fill up (default 1 s); at least
    /// 1 ms (a shorter delay is taken as 1 ms: export almost at once).
    #[cfg(feature = "otlp")]
    pub fn otlp_batch_delay(mut self, delay: std::time::Duration) -> Self {
        self.otlp.batch_delay = delay.max(std::time::Duration::from_millis(1));
        self
    }

    /// How long dropping the guard may wait for queued spans to be exported (default 5 s).
    #[cfg(feature = "otlp")]
    pub fn otlp_shutdown_timeout(mut self, limit: std::time::Duration) -> Self {
        self.otlp.shutdown_timeout = limit;
        self
    }

    /// The MLflow tracking server every `#[workflow(mlflow(...))]` run is tracked in
    /// (`http://` or `https://`); `MLFLOW_TRACKING_URI` when not called. Credentials come
    /// from `MLFLOW_TRACKING_TOKEN` (Bearer) or `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD` (Basic), or the URI's `user:password@`, and are never shown.
    #[cfg(feature = "mlflow")]
    pub fn mlflow_tracking_uri(mut self, uri: impl Into<String>) -> Self {
        self.mlflow.tracking_uri = Some(uri.into());
        self
    }

    /// The experiment of tracked workflows that name none in `mlflow(experiment = ...)`
    /// (`MLFLOW_EXPERIMENT_NAME` when not called; without either, the workflow's name).
    #[cfg(feature = "mlflow")]
    pub fn mlflow_experiment(mut self, name: impl Into<String>) -> Self {
        self.mlflow.experiment = Some(name.into());
        self
    }

    /// How long one tracking request is retried while the server does not answer
    /// (default 10 s); what still fails is counted in `obs_exporter_failed_spans_total{signal="mlflow"}`.
    #[cfg(feature = "mlflow")]
    pub fn mlflow_retry_for(mut self, limit: std::time::Duration) -> Self {
        self.mlflow.retry_for = limit;
        self
    }

    /// The time limit of one tracking request (default 10 s).
    #[cfg(feature = "mlflow")]
    pub fn mlflow_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.mlflow.timeout = timeout;
        self
    }

    /// How many tracking items (params, metric points, run starts and ends, artifacts) may
    /// wait for the server (default 4096); beyond that they are dropped and counted in
    /// `obs_exporter_dropped_spans_total{signal="mlflow"}`.
    #[cfg(feature = "mlflow")]
    pub fn mlflow_queue_size(mut self, items: usize) -> Self {
        self.mlflow.queue_size = items;
        self
    }

    /// How long dropping the guard may take to send what is queued and end the open
    /// runs as `KILLED` (default 5 s).
    #[cfg(feature = "mlflow")]
    pub fn mlflow_shutdown_timeout(mut self, limit: std::time::Duration) -> Self {
        self.mlflow.shutdown_timeout = limit;
        self
    }

    /// How often at most an export failure is logged (default 60 s); MLflow tracking's
    /// failure and drop lines too.
    #[cfg(feature = "otlp")]
    pub fn otlp_error_log_interval(mut self, interval: std::time::Duration) -> Self {
        self.otlp.error_log_interval = interval;
        #[cfg(feature = "mlflow")]
        {
            self.mlflow.error_log_interval = interval;
        }
        self
    }

    /// The OTLP wire protocol (default `http/protobuf`); `OTEL_EXPORTER_OTLP_PROTOCOL`
    /// (and `..._TRACES_PROTOCOL`, `..._LOGS_PROTOCOL`) win when set.
    /// [`OtlpProtocol::Grpc`](crate::export::otlp::OtlpProtocol::Grpc) needs the
    /// `otlp-grpc` feature; without it `init` says so.
    #[cfg(feature = "otlp")]
    pub fn otlp_protocol(mut self, protocol: crate::export::otlp::OtlpProtocol) -> Self {
        self.otlp.protocol = protocol;
        self
    }

    /// Export the log events as OTLP log records too (default off), to the same
    /// collector as spans (`{endpoint}/v1/logs`, or
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`), each carrying the trace and span
    /// id of its span. `OTEL_LOGS_EXPORTER=otlp` or `none` wins when set.
    /// Works with every [`LogFormat`], [`LogFormat::Off`] included (records
    /// only to the collector, nothing on stdout).
    #[cfg(feature = "otlp")]
    pub fn otlp_logs(mut self, export: bool) -> Self {
        self.otlp.logs = export;
        self
    }

    /// Export the spans of health evaluations too (default off: the background
    /// refresh and every probe would each add a one-span trace to the backend;
    /// their metrics and log events are recorded either way).
    #[cfg(all(feature = "otlp", feature = "health"))]
    pub fn trace_health_checks(mut self, trace: bool) -> Self {
        self.otlp.trace_health = trace;
        self
    }

    /// Also export each span's code attributes under their names from before
    /// semantic conventions 1.33 (`code.filepath`, `code.lineno`, and the fully
    /// qualified `code.function.name` split into `code.namespace` and `code.function`,
    /// beside `code.file.path`, `code.line.number`, `code.function.name`), for
    /// backends that read only those; `OTEL_SEMCONV_STABILITY_OPT_IN=code/dup` does
    /// the same. Default off: each attribute once, under its stable name.
    #[cfg(feature = "otlp")]
    pub fn otlp_old_code_attributes(mut self, also: bool) -> Self {
        self.otlp.old_code_names = also;
        self
    }

    /// Head sampling of new traces (default: follow the parent, else sample all);
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` win when set.
    #[cfg(feature = "otlp")]
    pub fn trace_sampler(mut self, sampler: crate::export::otlp::TraceSampler) -> Self {
        self.otlp.sampler = Some(sampler);
        self
    }

    /// Export a trace the head sampler dropped when its local root ends in
    /// error or panic. Unsampled traces are then recorded and held in a bounded
    /// per-trace buffer until their root ends, so they cost the application
    /// what sampled ones do (only export is saved); overflow is counted in
    /// `obs_exporter_tail_buffer_overflow_spans_total`. A caller's explicit
    /// "not sampled" is respected.
    #[cfg(feature = "otlp")]
    pub fn keep_error_traces(mut self, keep: bool) -> Self {
        self.otlp.keep.errors = keep;
        self
    }

    /// Like [`keep_error_traces`](Self::keep_error_traces), for traces whose
    /// local root took at least `threshold`.
    #[cfg(feature = "otlp")]
    pub fn keep_slow_traces(mut self, threshold: std::time::Duration) -> Self {
        self.otlp.keep.slower_than = Some(threshold);
        self
    }

    /// How the operations artifacts are generated: scrape job, runbook links,
    /// burn-rate windows, thresholds, Alertmanager receivers (see [`ops`](crate::ops)).
    #[cfg(feature = "ops")]
    pub fn ops(mut self, settings: crate::ops::settings::OpsSettings) -> Self {
        self.ops = settings;
        self
    }

    /// The `runbook_url` of every generated alert; `{alert}` is replaced by the
    /// alert's name (default `https://runbooks.example/{alert}`).
    #[cfg(feature = "ops")]
    pub fn runbook_url(mut self, template: impl Into<String>) -> Self {
        self.ops = self.ops.runbook_url(template);
        self
    }

    /// The service's version, usually `env!("CARGO_PKG_VERSION")`: the
    /// `service.version` of exported spans and the `version` of health reports
    /// (which otherwise show the version of the crate that derived `HealthCheck`).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        let version: String = version.into();
        self.service_version = Some(version.clone());
        #[cfg(feature = "health")]
        {
            self.health_settings.version = Some(version.clone());
        }
        #[cfg(feature = "otlp")]
        {
            self.otlp.service_version = Some(version.clone());
        }
        let _ = version;
        self
    }

    pub(crate) fn resolved_service_name(&self) -> String {
        env_var("OTEL_SERVICE_NAME")
            .or_else(|| self.service_name.clone())
            .or_else(|| {
                std::env::current_exe().ok().and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            })
            .unwrap_or_else(|| "unknown_service".to_owned())
    }

    /// `None` when the server is off. A bad `OBS_HTTP_ADDR` is warned about and the default used.
    pub(crate) fn resolved_http_addr(&self) -> Option<HttpAddr> {
        let default = || HttpAddr { addr: DEFAULT_HTTP_ADDR.parse().expect("a socket address"), explicit: false };
        match self.http_addr {
            HttpSetting::Off => None,
            HttpSetting::At(addr) => Some(HttpAddr { addr, explicit: true }),
            HttpSetting::Default => match env_var("OBS_HTTP_ADDR") {
                None => Some(default()),
                Some(text) if text.trim().eq_ignore_ascii_case("off") => None,
                Some(text) => match text.trim().parse() {
                    Ok(addr) => Some(HttpAddr { addr, explicit: true }),
                    Err(_) => {
                        warn_env(
                            "OBS_HTTP_ADDR",
                            "not a socket address (like 127.0.0.1:9464) or `off`",
                            DEFAULT_HTTP_ADDR,
                        );
                        Some(default())
                    }
                },
            },
        }
    }

    /// `RUST_LOG` when set and valid (a bad one is warned about), else the
    /// builder's filter, whose mistakes are errors.
    pub(crate) fn filter(&self) -> Result<EnvFilter, InitError> {
        let code = self.log_filter.as_deref().unwrap_or("info");
        let from_code =
            EnvFilter::builder().parse(code).map_err(|e| InitError::Config(format!("log filter {code:?}: {e}")))?;
        if let Some(text) = env_var("RUST_LOG") {
            match EnvFilter::builder().parse(&text) {
                Ok(filter) => return Ok(filter),
                Err(_) => warn_env(
                    "RUST_LOG",
                    "not a valid filter (like `info,my_crate=debug`)",
                    "the builder's log filter (default `info`)",
                ),
            }
        }
        Ok(from_code)
    }

    /// The histogram bucket bounds, checked: finite, ascending and non-empty.
    pub(crate) fn checked_buckets(&self) -> Result<&[f64], InitError> {
        if self.buckets.iter().any(|b| !b.is_finite()) {
            return Err(InitError::Config(format!(
                "histogram buckets must be finite numbers (the +Inf bucket is always added), got {:?}",
                self.buckets
            )));
        }
        if self.buckets.is_empty() || self.buckets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(InitError::Config(format!(
                "histogram buckets must be ascending and non-empty, got {:?}",
                self.buckets
            )));
        }
        Ok(&self.buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_must_be_finite_and_ascending() {
        let check = |b: &[f64]| Builder::default().buckets(b).checked_buckets().map(<[f64]>::to_vec);
        assert!(check(&[0.1, 1.0]).is_ok());
        for bad in [&[0.1, f64::NAN][..], &[f64::NEG_INFINITY, 1.0], &[1.0, f64::INFINITY], &[1.0, 0.5], &[]] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn a_zero_batch_delay_is_one_millisecond() {
        let builder = Builder::default().otlp_batch_delay(std::time::Duration::ZERO);
        assert_eq!(builder.otlp.batch_delay, std::time::Duration::from_millis(1));
    }
}
