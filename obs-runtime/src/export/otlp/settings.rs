//! What the builder and the standard `OTEL_*` variables say about span
//! export, resolved once in `init`. Every bad value is an
//! [`InitError::Config`] naming the variable, never a silent default.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_sdk::trace::Sampler;

use crate::init_error::InitError;

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
    pub protocol: OtlpProtocol,
    /// Export log events too.
    pub logs: bool,
    /// Export the spans of health evaluations (off: they start no trace).
    #[cfg_attr(not(feature = "health"), allow(dead_code))]
    pub trace_health: bool,
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
            protocol: OtlpProtocol::HttpProtobuf,
            logs: false,
            trace_health: false,
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

/// The wire protocol of OTLP export, as in `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `http/protobuf`: protobuf over HTTP `POST` to `/v1/traces` and `/v1/logs` (the default).
    #[default]
    HttpProtobuf,
    /// `grpc`: the OTLP gRPC service (cargo feature `otlp-grpc`).
    Grpc,
}

impl OtlpProtocol {
    fn parse(name: &str, text: &str) -> Result<Self, InitError> {
        match text.trim() {
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/json" => Err(InitError::Config(format!(
                "{name}={text:?}: obs exports OTLP as http/protobuf or grpc, not http/json"
            ))),
            _ => Err(InitError::Config(format!(
                "{name}={text:?} is not an OTLP protocol (http/protobuf, http/json or grpc)"
            ))),
        }
    }

    fn check_compiled_in(self, source: &str) -> Result<Self, InitError> {
        if self == OtlpProtocol::Grpc && !cfg!(feature = "otlp-grpc") {
            return Err(InitError::Config(format!(
                "{source} asks for OTLP over gRPC, which needs the `otlp-grpc` feature of obs-runtime"
            )));
        }
        Ok(self)
    }
}

/// The two signals obs exports, with the names the `OTEL_*` variables use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Logs,
}

impl Signal {
    /// `traces` / `logs`: the URL path segment and the `signal` label.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
        }
    }

    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and the like.
    fn var(self, suffix: &str) -> String {
        format!("OTEL_EXPORTER_OTLP_{}_{suffix}", self.name().to_ascii_uppercase())
    }
}

/// Where and how one signal is sent, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The full URL (`.../v1/traces` over HTTP; the collector's address over gRPC).
    pub url: String,
    pub protocol: OtlpProtocol,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

/// Everything export needs, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Span export, when on.
    pub traces: Option<Endpoint>,
    /// Log export, when asked for (`OTEL_LOGS_EXPORTER=otlp` or [`Builder::otlp_logs`](crate::Builder::otlp_logs)).
    pub logs: Option<Endpoint>,
    pub sampler: TraceSampler,
    pub resource: Vec<(String, String)>,
    pub options: OtlpOptions,
}

/// An environment variable with a non-blank value.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The first of the signal-specific and the general variable that is set, with its name.
fn var_either(signal: Signal, suffix: &str) -> Option<(String, String)> {
    let specific = signal.var(suffix);
    let general = format!("OTEL_EXPORTER_OTLP_{suffix}");
    var(&specific).map(|v| (specific, v)).or_else(|| var(&general).map(|v| (general, v)))
}

/// `OTEL_TRACES_EXPORTER` / `OTEL_LOGS_EXPORTER`: `Some(true)` for `otlp`, `Some(false)` for `none`.
fn exporter_choice(name: &str) -> Result<Option<bool>, InitError> {
    match var(name) {
        None => Ok(None),
        Some(v) if v.trim() == "otlp" => Ok(Some(true)),
        Some(v) if v.trim() == "none" => Ok(Some(false)),
        Some(v) => Err(InitError::Config(format!("{name}={v:?}: obs exports with `otlp` or not at all (`none`)"))),
    }
}

impl Settings {
    /// `Ok(None)` when nothing is exported: no endpoint anywhere, or `OTEL_SDK_DISABLED=true`.
    /// Environment variables win over the builder, as for `OTEL_SERVICE_NAME`.
    pub(crate) fn resolve(options: &OtlpOptions, service: &str) -> Result<Option<Settings>, InitError> {
        let disabled = match var("OTEL_SDK_DISABLED") {
            None => false,
            Some(v) if v.trim().eq_ignore_ascii_case("true") => true,
            Some(v) if v.trim().eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(InitError::Config(format!("OTEL_SDK_DISABLED={v:?} is neither true nor false"))),
        };
        // Everything is checked even when export is off, so a typo shows up on
        // the developer's machine and not first in production.
        let sampler = match var("OTEL_TRACES_SAMPLER") {
            Some(name) => parse_sampler(&name, var("OTEL_TRACES_SAMPLER_ARG").as_deref())?,
            None => options.sampler.unwrap_or(TraceSampler::ParentBasedAlwaysOn).check()?,
        };
        let traces_on = exporter_choice("OTEL_TRACES_EXPORTER")?.unwrap_or(true);
        let logs_on = exporter_choice("OTEL_LOGS_EXPORTER")?.unwrap_or(options.logs);
        let traces = Endpoint::resolve(Signal::Traces, options)?;
        let logs = Endpoint::resolve(Signal::Logs, options)?;
        let resource = resource_attributes(options, service)?;
        if logs_on && logs.is_none() {
            return Err(InitError::Config(
                "OTLP log export is on but no endpoint is set (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, \
                 OTEL_EXPORTER_OTLP_ENDPOINT or Builder::otlp_endpoint)"
                    .into(),
            ));
        }
        let traces = traces.filter(|_| traces_on);
        let logs = logs.filter(|_| logs_on);
        if disabled || (traces.is_none() && logs.is_none()) {
            return Ok(None);
        }
        Ok(Some(Settings { traces, logs, sampler, resource, options: options.clone() }))
    }
}

impl Endpoint {
    /// `Ok(None)` when no endpoint is configured for `signal`.
    fn resolve(signal: Signal, options: &OtlpOptions) -> Result<Option<Endpoint>, InitError> {
        let protocol = match var_either(signal, "PROTOCOL") {
            Some((name, text)) => OtlpProtocol::parse(&name, &text)?.check_compiled_in(&name)?,
            None => options.protocol.check_compiled_in("Builder::otlp_protocol")?,
        };
        let timeout =
            match var_either(signal, "TIMEOUT") {
                Some((name, text)) => Duration::from_millis(text.trim().parse::<u64>().map_err(|_| {
                    InitError::Config(format!("{name}={text:?} is not a whole number of milliseconds"))
                })?),
                None => options.timeout.unwrap_or(Duration::from_secs(10)),
            };
        let mut headers = options.headers.clone();
        for name in ["OTEL_EXPORTER_OTLP_HEADERS".to_owned(), signal.var("HEADERS")] {
            if let Some(text) = var(&name) {
                for (key, value) in parse_key_values(&name, &text)? {
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
        // The spec's rule: a signal-specific URL is used as it is; the general one gets
        // `/v1/<signal>` over HTTP. gRPC has no per-signal paths.
        let with_path = |base: String| match protocol {
            OtlpProtocol::HttpProtobuf => format!("{}/v1/{}", base.trim_end_matches('/'), signal.name()),
            OtlpProtocol::Grpc => base,
        };
        let specific = signal.var("ENDPOINT");
        let url = if let Some(url) = var(&specific) {
            check_url(&specific, url.trim())?
        } else if let Some(base) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            with_path(check_url("OTEL_EXPORTER_OTLP_ENDPOINT", base.trim())?)
        } else if let Some(base) = &options.endpoint {
            with_path(check_url("Builder::otlp_endpoint", base.trim())?)
        } else {
            return Ok(None);
        };
        Ok(Some(Endpoint { url, protocol, headers, timeout }))
    }
}

fn check_url(source: &str, url: &str) -> Result<String, InitError> {
    let uri: http::Uri = url.parse().map_err(|e| InitError::Config(format!("{source}={url:?} is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http") if uri.host().is_some() => Ok(url.to_owned()),
        // Refused here rather than failing every export later.
        Some("https") => Err(InitError::Config(format!(
            "{source}={url:?}: obs does not export over TLS yet; send to a collector on http:// \
             (typically a local OpenTelemetry Collector or agent that forwards over TLS)"
        ))),
        _ => Err(InitError::Config(format!("{source}={url:?} must be an http:// URL"))),
    }
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
    fn urls_are_checked() {
        assert!(check_url("X", "localhost:4318").is_err());
        assert!(check_url("X", "ftp://a/b").is_err());
        assert!(check_url("X", "http://a:1/x").is_ok());
        let err = check_url("X", "https://a:1/x").unwrap_err().to_string();
        assert!(err.contains("TLS"), "{err}");
    }

    /// Builder settings only (these unit tests do not touch the process environment).
    fn endpoint(signal: Signal, protocol: OtlpProtocol) -> Result<Option<Endpoint>, InitError> {
        let options = OtlpOptions { endpoint: Some("http://collector:4318/".into()), protocol, ..Default::default() };
        Endpoint::resolve(signal, &options)
    }

    #[test]
    fn the_general_endpoint_gets_the_signal_path_over_http_only() {
        let url = |signal| endpoint(signal, OtlpProtocol::HttpProtobuf).unwrap().unwrap().url;
        assert_eq!(url(Signal::Traces), "http://collector:4318/v1/traces");
        assert_eq!(url(Signal::Logs), "http://collector:4318/v1/logs");
        let grpc = endpoint(Signal::Traces, OtlpProtocol::Grpc);
        if cfg!(feature = "otlp-grpc") {
            assert_eq!(grpc.unwrap().unwrap().url, "http://collector:4318/");
        } else {
            let err = grpc.unwrap_err().to_string();
            assert!(err.contains("`otlp-grpc` feature"), "{err}");
        }
        assert!(Endpoint::resolve(Signal::Logs, &OtlpOptions::default()).unwrap().is_none());
    }

    #[test]
    fn log_export_without_an_endpoint_is_an_error() {
        let options = OtlpOptions { logs: true, ..Default::default() };
        let err = Settings::resolve(&options, "svc").unwrap_err().to_string();
        assert!(err.contains("no endpoint"), "{err}");
        let options = OtlpOptions { logs: true, endpoint: Some("http://c:4318".into()), ..Default::default() };
        let settings = Settings::resolve(&options, "svc").unwrap().unwrap();
        assert_eq!(settings.logs.unwrap().url, "http://c:4318/v1/logs");
        assert_eq!(settings.traces.unwrap().url, "http://c:4318/v1/traces");
    }

    #[test]
    fn protocols_parse_as_the_spec_names_them() {
        assert_eq!(OtlpProtocol::parse("X", "grpc").unwrap(), OtlpProtocol::Grpc);
        assert_eq!(OtlpProtocol::parse("X", " http/protobuf ").unwrap(), OtlpProtocol::HttpProtobuf);
        assert!(OtlpProtocol::parse("X", "http/json").unwrap_err().to_string().contains("not http/json"));
        assert!(OtlpProtocol::parse("X", "thrift").is_err());
    }
}
