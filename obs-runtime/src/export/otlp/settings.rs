//! What the builder and the standard `OTEL_*` variables say about span
//! export, resolved once in `init`. Every bad value is an
//! [`InitError::Config`] naming the variable, never a silent default.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_sdk::trace::Sampler;

use crate::config::InitError;

/// The builder's OTLP options (code side); the environment is read in [`Settings::resolve`].
#[derive(Debug, Clone)]
pub(crate) struct OtlpOptions {
    pub endpoint: Option<String>,
    pub headers: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub sampler: Option<TraceSampler>,
    pub queue_size: usize,
    pub batch_size: usize,
    pub batch_delay: Duration,
    pub shutdown_timeout: Duration,
    pub service_version: Option<String>,
    pub error_log_interval: Duration,
    pub keep: super::tail::KeepRule,
}

impl Default for OtlpOptions {
    fn default() -> Self {
        OtlpOptions {
            endpoint: None,
            headers: Vec::new(),
            timeout: None,
            sampler: None,
            queue_size: 2048,
            batch_size: 512,
            batch_delay: Duration::from_millis(1000),
            shutdown_timeout: Duration::from_secs(5),
            service_version: None,
            error_log_interval: Duration::from_secs(60),
            keep: Default::default(),
        }
    }
}

/// The head sampling decision for new traces, as in `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum TraceSampler {
    /// Record every trace.
    AlwaysOn,
    /// Record no trace (metrics and logs still are).
    AlwaysOff,
    /// Record this fraction of traces (0.0 to 1.0), chosen by trace id.
    Ratio(f64),
    /// Follow the caller's `sampled` flag when there is a parent; otherwise record every trace (the default).
    ParentBasedAlwaysOn,
    /// Follow the caller's flag; otherwise record none.
    ParentBasedAlwaysOff,
    /// Follow the caller's flag; otherwise record this fraction of traces.
    ParentBasedRatio(f64),
}

impl TraceSampler {
    pub(crate) fn to_sdk(self) -> Sampler {
        match self {
            TraceSampler::AlwaysOn => Sampler::AlwaysOn,
            TraceSampler::AlwaysOff => Sampler::AlwaysOff,
            TraceSampler::Ratio(r) => Sampler::TraceIdRatioBased(r),
            TraceSampler::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            TraceSampler::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            TraceSampler::ParentBasedRatio(r) => Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r))),
        }
    }

    fn check(self) -> Result<Self, InitError> {
        match self {
            TraceSampler::Ratio(r) | TraceSampler::ParentBasedRatio(r) if !(0.0..=1.0).contains(&r) => {
                Err(InitError::Config(format!("the trace sampling ratio must be between 0 and 1, got {r}")))
            }
            other => Ok(other),
        }
    }
}

/// Everything span export needs, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The full URL spans are POSTed to (`.../v1/traces`).
    pub traces_url: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub sampler: TraceSampler,
    pub resource: Vec<(String, String)>,
    pub options: OtlpOptions,
}

/// An environment variable with a non-blank value.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The first of the signal-specific and the general variable that is set, with its name.
fn var_either(traces: &'static str, general: &'static str) -> Option<(&'static str, String)> {
    var(traces).map(|v| (traces, v)).or_else(|| var(general).map(|v| (general, v)))
}

impl Settings {
    /// `Ok(None)` when export is off: no endpoint anywhere, or `OTEL_SDK_DISABLED=true`.
    /// Environment variables win over the builder, as for `OTEL_SERVICE_NAME`.
    pub(crate) fn resolve(options: &OtlpOptions, service: &str) -> Result<Option<Settings>, InitError> {
        let disabled = match var("OTEL_SDK_DISABLED") {
            None => false,
            Some(v) if v.trim().eq_ignore_ascii_case("true") => true,
            Some(v) if v.trim().eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(InitError::Config(format!("OTEL_SDK_DISABLED={v:?} is neither true nor false"))),
        };
        // The sampler and protocol are checked even when export is off, so a typo
        // shows up on the developer's machine and not first in production.
        let sampler = match var("OTEL_TRACES_SAMPLER") {
            Some(name) => parse_sampler(&name, var("OTEL_TRACES_SAMPLER_ARG").as_deref())?,
            None => options.sampler.unwrap_or(TraceSampler::ParentBasedAlwaysOn).check()?,
        };
        if let Some((name, protocol)) = var_either("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
        {
            match protocol.trim() {
                "http/protobuf" => {}
                "grpc" | "http/json" => {
                    return Err(InitError::Config(format!(
                        "{name}={protocol:?}: this build of obs exports OTLP over http/protobuf only"
                    )));
                }
                _ => {
                    return Err(InitError::Config(format!(
                        "{name}={protocol:?} is not an OTLP protocol (http/protobuf, http/json or grpc)"
                    )));
                }
            }
        }
        let timeout =
            match var_either("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT") {
                Some((name, text)) => Duration::from_millis(text.trim().parse::<u64>().map_err(|_| {
                    InitError::Config(format!("{name}={text:?} is not a whole number of milliseconds"))
                })?),
                None => options.timeout.unwrap_or(Duration::from_secs(10)),
            };
        let mut headers = options.headers.clone();
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
            if let Some(text) = var(name) {
                for (key, value) in parse_key_values(name, &text)? {
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
                    headers.push((key, value));
                }
            }
        }
        for (key, value) in &headers {
            if http::HeaderName::from_bytes(key.as_bytes()).is_err() || http::HeaderValue::from_str(value).is_err() {
                return Err(InitError::Config(format!("OTLP header {key:?}: not a valid HTTP header")));
            }
        }
        let resource = resource_attributes(options, service)?;

        let traces_url = if let Some(url) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            check_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.trim())?
        } else if let Some(base) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            append_traces_path(&check_url("OTEL_EXPORTER_OTLP_ENDPOINT", base.trim())?)
        } else if let Some(base) = &options.endpoint {
            append_traces_path(&check_url("Builder::otlp_endpoint", base.trim())?)
        } else {
            return Ok(None);
        };
        if disabled {
            return Ok(None);
        }
        Ok(Some(Settings { traces_url, headers, timeout, sampler, resource, options: options.clone() }))
    }
}

fn check_url(source: &str, url: &str) -> Result<String, InitError> {
    let uri: http::Uri = url.parse().map_err(|e| InitError::Config(format!("{source}={url:?} is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(url.to_owned()),
        _ => Err(InitError::Config(format!("{source}={url:?} must be an http:// or https:// URL"))),
    }
}

/// `http://collector:4318` → `http://collector:4318/v1/traces` (the spec's rule for the general endpoint).
fn append_traces_path(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

/// `OTEL_TRACES_SAMPLER` and its argument, as the OpenTelemetry SDK spec defines them.
pub(crate) fn parse_sampler(name: &str, arg: Option<&str>) -> Result<TraceSampler, InitError> {
    let ratio = || -> Result<f64, InitError> {
        match arg {
            None => Ok(1.0),
            Some(text) => match text.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(InitError::Config(format!(
                    "OTEL_TRACES_SAMPLER_ARG={text:?} is not a sampling ratio between 0 and 1"
                ))),
            },
        }
    };
    Ok(match name.trim() {
        "always_on" => TraceSampler::AlwaysOn,
        "always_off" => TraceSampler::AlwaysOff,
        "traceidratio" => TraceSampler::Ratio(ratio()?),
        "parentbased_always_on" => TraceSampler::ParentBasedAlwaysOn,
        "parentbased_always_off" => TraceSampler::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => TraceSampler::ParentBasedRatio(ratio()?),
        other => {
            return Err(InitError::Config(format!(
                "OTEL_TRACES_SAMPLER={other:?} is not supported (always_on, always_off, traceidratio, \
                 parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"
            )));
        }
    })
}

/// `key=value,key2=value2` with percent-encoded values (W3C Baggage octets), as
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES` use.
pub(crate) fn parse_key_values(source: &str, text: &str) -> Result<Vec<(String, String)>, InitError> {
    let mut out = Vec::new();
    for member in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let bad = || InitError::Config(format!("{source}: {member:?} is not key=value"));
        let (key, value) = member.split_once('=').ok_or_else(bad)?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad());
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| InitError::Config(format!("{source}: {member:?} has a malformed percent escape")))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The resource of exported spans: detected attributes, then `OTEL_RESOURCE_ATTRIBUTES`,
/// then the service name (which `OTEL_SERVICE_NAME` or the builder chose) on top.
fn resource_attributes(options: &OtlpOptions, service: &str) -> Result<Vec<(String, String)>, InitError> {
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();
    let ids = crate::log::SpanIds::new_child_of(None);
    let id = format!("{:032x}", ids.trace_id);
    attrs.insert(
        "service.instance.id".into(),
        format!("{}-{}-{}-{}-{}", &id[..8], &id[8..12], &id[12..16], &id[16..20], &id[20..]),
    );
    if let Some(host) = host_name() {
        attrs.insert("host.name".into(), host);
    }
    attrs.insert("process.pid".into(), std::process::id().to_string());
    attrs.insert("telemetry.sdk.name".into(), "opentelemetry".into());
    attrs.insert("telemetry.sdk.language".into(), "rust".into());
    attrs.insert("telemetry.distro.name".into(), "obs".into());
    attrs.insert("telemetry.distro.version".into(), env!("CARGO_PKG_VERSION").into());
    if let Some(version) = &options.service_version {
        attrs.insert("service.version".into(), version.clone());
    }
    if let Some(text) = var("OTEL_RESOURCE_ATTRIBUTES") {
        attrs.extend(parse_key_values("OTEL_RESOURCE_ATTRIBUTES", &text)?);
    }
    attrs.insert("service.name".into(), service.to_owned());
    Ok(attrs.into_iter().collect())
}

fn host_name() -> Option<String> {
    let from_file = |path: &str| std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned());
    var("HOSTNAME")
        .or_else(|| from_file("/proc/sys/kernel/hostname"))
        .or_else(|| from_file("/etc/hostname"))
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_parse_as_the_spec_names_them() {
        assert_eq!(parse_sampler("always_off", None).unwrap(), TraceSampler::AlwaysOff);
        assert_eq!(
            parse_sampler("parentbased_traceidratio", Some("0.25")).unwrap(),
            TraceSampler::ParentBasedRatio(0.25)
        );
        assert_eq!(parse_sampler("traceidratio", None).unwrap(), TraceSampler::Ratio(1.0));
    }

    #[test]
    fn unknown_samplers_and_bad_ratios_are_errors() {
        let err = parse_sampler("sometimes", None).unwrap_err().to_string();
        assert!(err.contains("OTEL_TRACES_SAMPLER=\"sometimes\""), "{err}");
        let err = parse_sampler("traceidratio", Some("1.5")).unwrap_err().to_string();
        assert!(err.contains("OTEL_TRACES_SAMPLER_ARG"), "{err}");
        assert!(parse_sampler("traceidratio", Some("half")).is_err());
        assert!(TraceSampler::ParentBasedRatio(-0.1).check().is_err());
    }

    #[test]
    fn key_values_are_percent_decoded() {
        let kv = parse_key_values("X", "a=1, b = two%20words ,,x-mlflow-experiment-id=0").unwrap();
        assert_eq!(
            kv,
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "two words".to_owned()),
                ("x-mlflow-experiment-id".to_owned(), "0".to_owned())
            ]
        );
        assert!(parse_key_values("X", "novalue").is_err());
        assert!(parse_key_values("X", "a=%zz").is_err());
        assert!(parse_key_values("X", "=v").is_err());
    }

    #[test]
    fn endpoints_get_the_traces_path() {
        assert_eq!(append_traces_path("http://127.0.0.1:4318/"), "http://127.0.0.1:4318/v1/traces");
        assert!(check_url("X", "localhost:4318").is_err());
        assert!(check_url("X", "ftp://a/b").is_err());
        assert!(check_url("X", "https://a:1/x").is_ok());
    }
}
