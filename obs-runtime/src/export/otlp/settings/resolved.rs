//! Everything export needs, resolved once in `init`.

use std::time::Duration;

use super::endpoint::Endpoint;
use super::env::{Signal, exporter_choice, sdk_disabled, var};
use super::metrics::{self, Temporality};
use super::options::OtlpOptions;
use super::sampler::{TraceSampler, env_sampler};
use crate::env::warn_env;
use crate::init_error::InitError;

/// Everything export needs, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Span export, when on.
    pub traces: Option<Endpoint>,
    /// Log export, when asked for (`OTEL_LOGS_EXPORTER=otlp` or [`Builder::otlp_logs`](crate::Builder::otlp_logs)).
    pub logs: Option<Endpoint>,
    /// Metrics export, when asked for (`OTEL_METRICS_EXPORTER=otlp` or [`Builder::otlp_metrics`](crate::Builder::otlp_metrics)).
    pub metrics: Option<MetricExport>,
    pub sampler: TraceSampler,
    pub resource: Vec<(String, String)>,
    pub options: OtlpOptions,
}

/// Where, how often and with which temporality metrics are exported.
#[derive(Debug, Clone)]
pub(crate) struct MetricExport {
    pub endpoint: Endpoint,
    pub interval: Duration,
    pub temporality: Temporality,
}

impl Settings {
    /// `Ok(None)` when nothing is exported: no endpoint anywhere, or `OTEL_SDK_DISABLED=true`.
    /// Environment variables win over the builder, as for `OTEL_SERVICE_NAME`.
    /// `resource` is the process's ([`crate::resource::detect`]), the same `target_info` shows.
    pub(crate) fn resolve(options: &OtlpOptions, resource: &[(String, String)]) -> Result<Option<Settings>, InitError> {
        let disabled = sdk_disabled();
        // Everything is checked even when export is off, so a typo shows up on
        // the developer's machine and not first in production.
        let from_code = options.sampler.unwrap_or(TraceSampler::ParentBasedAlwaysOn).check()?;
        let sampler = match var("OTEL_TRACES_SAMPLER") {
            Some(name) => env_sampler(&name, var("OTEL_TRACES_SAMPLER_ARG").as_deref()).unwrap_or(from_code),
            None => from_code,
        };
        let traces_on = exporter_choice("OTEL_TRACES_EXPORTER").unwrap_or(true);
        let logs_from_env = exporter_choice("OTEL_LOGS_EXPORTER");
        let logs_on = logs_from_env.unwrap_or(options.logs);
        let traces = Endpoint::resolve(Signal::Traces, options)?;
        let logs = Endpoint::resolve(Signal::Logs, options)?;
        let resource = resource.to_vec();
        if logs_on && logs.is_none() {
            let where_ = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT or Builder::otlp_endpoint";
            if logs_from_env.is_none() {
                return Err(InitError::Config(format!("OTLP log export is on but no endpoint is set ({where_})")));
            }
            warn_env("OTEL_LOGS_EXPORTER", &format!("log export asks for an endpoint ({where_})"), "no log export");
        }
        let metrics_from_env = metrics::exporter_choice();
        let metrics_on = metrics_from_env.unwrap_or(options.metrics);
        let interval = metrics::interval(options.metric_interval);
        let temporality = metrics::temporality(options.temporality);
        let metrics = Endpoint::resolve(Signal::Metrics, options)?;
        if metrics_on && metrics.is_none() {
            let where_ = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT or Builder::otlp_endpoint";
            if metrics_from_env.is_none() {
                return Err(InitError::Config(format!("OTLP metrics export is on but no endpoint is set ({where_})")));
            }
            warn_env("OTEL_METRICS_EXPORTER", &format!("metrics export asks for an endpoint ({where_})"), "none");
        }
        let traces = traces.filter(|_| traces_on);
        let logs = logs.filter(|_| logs_on);
        let metrics = metrics.filter(|_| metrics_on).map(|endpoint| MetricExport { endpoint, interval, temporality });
        if disabled || (traces.is_none() && logs.is_none() && metrics.is_none()) {
            return Ok(None);
        }
        let mut options = options.clone();
        options.old_code_names |= code_dup_opted_in();
        Ok(Some(Settings { traces, logs, metrics, sampler, resource, options }))
    }
}

/// `OTEL_SEMCONV_STABILITY_OPT_IN` lists `code/dup`: the code attributes under
/// their old names as well, as the code-attributes migration guide describes
/// (`code` alone is what obs always sends).
fn code_dup_opted_in() -> bool {
    var("OTEL_SEMCONV_STABILITY_OPT_IN").is_some_and(|list| list.split(',').any(|item| item.trim() == "code/dup"))
}
