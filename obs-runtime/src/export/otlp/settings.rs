//! What the builder and the standard `OTEL_*` variables say about span
//! export, resolved once in `init`. A mistake in code (the builder) is an
//! [`InitError::Config`]; a bad environment value is, as the OpenTelemetry
//! specification says, warned about (naming the variable, never the value)
//! and treated as unset, so the builder's setting or the default applies.
//!
//! How the specification's rules were read:
//! - an empty value is unset;
//! - booleans (`OTEL_SDK_DISABLED`): `true` in any case is true; `false` in
//!   any case, and anything else with a warning, is false;
//! - enum values (samplers, protocols, `OTEL_*_EXPORTER`) are case-insensitive;
//! - `OTEL_*_EXPORTER` is a list: `otlp` anywhere turns export on, otherwise
//!   `none` turns it off, and the members obs does not support (`console`,
//!   `zipkin`, ...) are warned about and skipped;
//! - a malformed `OTEL_RESOURCE_ATTRIBUTES` or `..._HEADERS` is discarded as
//!   a whole (the specification's rule for the resource), naming the
//!   malformed member by its position, never its text.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_sdk::trace::Sampler;

use crate::env::warn_env;
use crate::init_error::InitError;

/// The builder's OTLP options (code side); the environment is read in [`Settings::resolve`].
/// `Debug` shows header names and a redacted endpoint, never a header value.
#[derive(Clone)]
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

    /// The builder's sampler, checked.
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
    /// `Err` says why, without the value.
    fn parse(text: &str) -> Result<Self, &'static str> {
        match text.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "grpc" if cfg!(feature = "otlp-grpc") => Ok(OtlpProtocol::Grpc),
            "grpc" => Err("OTLP over gRPC needs the `otlp-grpc` feature of obs-runtime"),
            "http/json" => Err("obs exports OTLP as http/protobuf or grpc, not http/json"),
            _ => Err("not an OTLP protocol (http/protobuf or grpc)"),
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

    fn name(self) -> &'static str {
        match self {
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::Grpc => "grpc",
        }
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

/// Where and how one signal is sent, resolved. `Debug` redacts like [`OtlpOptions`].
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// The full URL (`.../v1/traces` over HTTP; the collector's address over gRPC).
    pub url: String,
    pub protocol: OtlpProtocol,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

/// Header names only: their values are credentials as often as not.
struct HeaderNames<'a>(&'a [(String, String)]);

impl std::fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, _)| (k, "<redacted>"))).finish()
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &redact_url(&self.url))
            .field("protocol", &self.protocol)
            .field("headers", &HeaderNames(&self.headers))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl std::fmt::Debug for OtlpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpOptions")
            .field("endpoint", &self.endpoint.as_deref().map(redact_url))
            .field("headers", &HeaderNames(&self.headers))
            .field("timeout", &self.timeout)
            .field("sampler", &self.sampler)
            .field("queue_size", &self.queue_size)
            .field("batch_size", &self.batch_size)
            .field("batch_delay", &self.batch_delay)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("service_version", &self.service_version)
            .field("error_log_interval", &self.error_log_interval)
            .field("keep", &self.keep)
            .field("protocol", &self.protocol)
            .field("logs", &self.logs)
            .field("trace_health", &self.trace_health)
            .finish()
    }
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
    crate::env::env_var(name)
}

/// The first of the signal-specific and the general variable that is set, with its name.
fn var_either(signal: Signal, suffix: &str) -> Option<(String, String)> {
    let specific = signal.var(suffix);
    let general = format!("OTEL_EXPORTER_OTLP_{suffix}");
    var(&specific).map(|v| (specific, v)).or_else(|| var(&general).map(|v| (general, v)))
}

/// `OTEL_SDK_DISABLED`, a boolean as the specification defines them.
fn sdk_disabled() -> bool {
    let Some(text) = var("OTEL_SDK_DISABLED") else { return false };
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") => true,
        t if t.eq_ignore_ascii_case("false") => false,
        _ => {
            warn_env("OTEL_SDK_DISABLED", "neither true nor false", "false (export stays on)");
            false
        }
    }
}

/// `OTEL_TRACES_EXPORTER` / `OTEL_LOGS_EXPORTER`, a list: `Some(true)` when
/// it names `otlp`, `Some(false)` when it names only `none`, `None` (the
/// default) when it names nothing obs supports.
fn exporter_choice(name: &str) -> Option<bool> {
    let text = var(name)?;
    let members: Vec<String> = text.split(',').map(|m| m.trim().to_ascii_lowercase()).collect();
    let otlp = members.iter().any(|m| m == "otlp");
    let none = members.iter().any(|m| m == "none");
    let unsupported: Vec<String> = (1..=members.len())
        .filter(|&i| !matches!(members[i - 1].as_str(), "otlp" | "none" | ""))
        .map(|i| i.to_string())
        .collect();
    let choice = if otlp {
        Some(true)
    } else if none {
        Some(false)
    } else {
        None
    };
    if !unsupported.is_empty() {
        let problem = format!(
            "member {} of {} is not an exporter obs has (it exports with `otlp`, or not at all with `none`)",
            unsupported.join(", "),
            members.len()
        );
        let using = match choice {
            Some(true) => "otlp",
            Some(false) => "none",
            None => "the default",
        };
        warn_env(name, &problem, using);
    }
    choice
}

impl Settings {
    /// `Ok(None)` when nothing is exported: no endpoint anywhere, or `OTEL_SDK_DISABLED=true`.
    /// Environment variables win over the builder, as for `OTEL_SERVICE_NAME`.
    pub(crate) fn resolve(options: &OtlpOptions, service: &str) -> Result<Option<Settings>, InitError> {
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
        let resource = resource_attributes(options, service);
        if logs_on && logs.is_none() {
            let where_ = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT or Builder::otlp_endpoint";
            if logs_from_env.is_none() {
                return Err(InitError::Config(format!("OTLP log export is on but no endpoint is set ({where_})")));
            }
            warn_env("OTEL_LOGS_EXPORTER", &format!("log export asks for an endpoint ({where_})"), "no log export");
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
        let from_code = options.protocol.check_compiled_in("Builder::otlp_protocol")?;
        let protocol = match var_either(signal, "PROTOCOL") {
            Some((name, text)) => OtlpProtocol::parse(&text).unwrap_or_else(|why| {
                warn_env(&name, why, from_code.name());
                from_code
            }),
            None => from_code,
        };
        let from_code = options.timeout.unwrap_or(Duration::from_secs(10));
        let timeout = match var_either(signal, "TIMEOUT") {
            Some((name, text)) => match text.trim().parse::<u64>() {
                Ok(ms) => Duration::from_millis(ms),
                Err(_) => {
                    let using = format!("{} ms", from_code.as_millis());
                    warn_env(&name, "not a whole number of milliseconds", &using);
                    from_code
                }
            },
            None => from_code,
        };
        let mut headers = Vec::new();
        for (i, (key, value)) in options.headers.iter().enumerate() {
            if let Err(why) = check_header(key, value) {
                return Err(InitError::Config(format!("Builder::otlp_header number {}: {why}", i + 1)));
            }
            headers.push((key.clone(), value.clone()));
        }
        for name in ["OTEL_EXPORTER_OTLP_HEADERS".to_owned(), signal.var("HEADERS")] {
            let Some(text) = var(&name) else { continue };
            let parsed = parse_key_values(&text).and_then(|members| {
                for (i, (key, value)) in members.iter().enumerate() {
                    check_header(key, value).map_err(|why| format!("member {}: {why}", i + 1))?;
                }
                Ok(members)
            });
            match parsed {
                Ok(members) => {
                    for (key, value) in members {
                        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
                        headers.push((key, value));
                    }
                }
                Err(why) => warn_env(&name, &why, "none of its headers"),
            }
        }
        // The spec's rule: a signal-specific URL is used as it is; the general one gets
        // `/v1/<signal>` over HTTP. gRPC has no per-signal paths.
        let with_path = |base: String| match protocol {
            OtlpProtocol::HttpProtobuf => format!("{}/v1/{}", base.trim_end_matches('/'), signal.name()),
            OtlpProtocol::Grpc => base,
        };
        let from_env = |name: &str, next: &str| {
            let url = var(name)?;
            check_url(url.trim()).map_err(|why| warn_env(name, why, next)).ok()
        };
        let specific = signal.var("ENDPOINT");
        let url = if let Some(url) = from_env(&specific, "OTEL_EXPORTER_OTLP_ENDPOINT, the builder's endpoint or none")
        {
            url
        } else if let Some(base) = from_env("OTEL_EXPORTER_OTLP_ENDPOINT", "the builder's endpoint or none") {
            with_path(base)
        } else if let Some(base) = &options.endpoint {
            let base = check_url(base.trim()).map_err(|why| {
                InitError::Config(format!("Builder::otlp_endpoint({:?}): {why}", redact_url(base.trim())))
            })?;
            with_path(base)
        } else {
            return Ok(None);
        };
        Ok(Some(Endpoint { url, protocol, headers, timeout }))
    }
}

/// `Err` says why a header cannot be sent, without its value.
fn check_header(key: &str, value: &str) -> Result<(), &'static str> {
    if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
        return Err("not a valid HTTP header name");
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err("not a valid HTTP header value");
    }
    Ok(())
}

/// The URL, checked: `Err` says why, without the URL.
fn check_url(url: &str) -> Result<String, &'static str> {
    let uri: http::Uri = url.parse().map_err(|_| "not a URL")?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") && uri.host().is_some() => Ok(url.to_owned()),
        // Refused here rather than failing every export later.
        Some(s) if s.eq_ignore_ascii_case("https") => {
            Err("obs does not export over TLS yet; send to a collector on http:// (typically a local \
             OpenTelemetry Collector or agent that forwards over TLS)")
        }
        _ => Err("must be an http:// URL"),
    }
}

/// `url` fit to be shown in a message: the userinfo (`user:password@`) and
/// the query's values (`?token=...`) replaced, the fragment dropped.
pub(crate) fn redact_url(url: &str) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = match before_query.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, before_query),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("<redacted>@{host}"),
        None => authority.to_owned(),
    };
    let mut out = match scheme {
        Some(scheme) => format!("{scheme}://{authority}{path}"),
        None => format!("{authority}{path}"),
    };
    if let Some(query) = query {
        let keys: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}=<redacted>"),
                None => "<redacted>".to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
}

/// `OTEL_TRACES_SAMPLER` and its argument, as the OpenTelemetry SDK spec
/// defines them (case-insensitive names); `None`, warned about, when the
/// name is not one of them. A bad argument is warned about and 1.0 used.
fn env_sampler(name: &str, arg: Option<&str>) -> Option<TraceSampler> {
    let ratio = || match arg.map(|text| text.trim().parse::<f64>()) {
        None => 1.0,
        Some(Ok(r)) if (0.0..=1.0).contains(&r) => r,
        Some(_) => {
            warn_env("OTEL_TRACES_SAMPLER_ARG", "not a sampling ratio between 0 and 1", "1.0");
            1.0
        }
    };
    parse_sampler(name, ratio).or_else(|| {
        warn_env(
            "OTEL_TRACES_SAMPLER",
            "not a sampler obs has (always_on, always_off, traceidratio, parentbased_always_on, \
             parentbased_always_off, parentbased_traceidratio)",
            "the builder's sampler (default parentbased_always_on)",
        );
        None
    })
}

/// A sampler by its specification name, any case; `ratio` is asked for only by the ratio samplers.
fn parse_sampler(name: &str, ratio: impl FnOnce() -> f64) -> Option<TraceSampler> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "always_on" => TraceSampler::AlwaysOn,
        "always_off" => TraceSampler::AlwaysOff,
        "traceidratio" => TraceSampler::Ratio(ratio()),
        "parentbased_always_on" => TraceSampler::ParentBasedAlwaysOn,
        "parentbased_always_off" => TraceSampler::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => TraceSampler::ParentBasedRatio(ratio()),
        _ => return None,
    })
}

/// `key=value,key2=value2` with percent-encoded values (W3C Baggage octets), as
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES` use. `Err`
/// names the malformed member by position and says why, never showing it.
pub(crate) fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let members: Vec<&str> = text.split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
    let count = members.len();
    for (i, member) in members.into_iter().enumerate() {
        let bad = |why: &str| format!("member {} of {count} {why}", i + 1);
        let (key, value) = member.split_once('=').ok_or_else(|| bad("is not key=value (no `=`)"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad("has an empty key"));
        }
        let value = percent_decode(value.trim()).ok_or_else(|| bad("has a malformed percent escape"))?;
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
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
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
fn resource_attributes(options: &OtlpOptions, service: &str) -> Vec<(String, String)> {
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
        match parse_key_values(&text) {
            Ok(members) => attrs.extend(members),
            Err(why) => warn_env("OTEL_RESOURCE_ATTRIBUTES", &why, "none of its attributes"),
        }
    }
    attrs.insert("service.name".into(), service.to_owned());
    attrs.into_iter().collect()
}

fn host_name() -> Option<String> {
    let from_file = |path: &str| std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned());
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| from_file("/proc/sys/kernel/hostname"))
        .or_else(|| from_file("/etc/hostname"))
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests;
