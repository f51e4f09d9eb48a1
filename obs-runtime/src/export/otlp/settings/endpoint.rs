//! Where and how one signal is sent: the URL, protocol, headers and timeout,
//! from the builder and the `OTEL_EXPORTER_OTLP_*` variables.

use std::time::Duration;

use super::env::{Signal, var, var_either};
use super::headers::resolve_headers;
use super::options::{OtlpOptions, OtlpProtocol};
use super::redact::{HeaderNames, redact_url};
use super::tls::{Tls, insecure};
use crate::env::warn_env;
use crate::init_error::InitError;

/// Where and how one signal is sent, resolved. `Debug` redacts like [`OtlpOptions`].
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// The full URL (`.../v1/traces` over HTTP; the collector's address over gRPC).
    pub url: String,
    pub protocol: OtlpProtocol,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub tls: Tls,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &redact_url(&self.url))
            .field("protocol", &self.protocol)
            .field("headers", &HeaderNames(&self.headers))
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Endpoint {
    /// Where this signal goes, fit for the start line: the URL with its
    /// userinfo and query values removed, and the protocol (never a header).
    pub(crate) fn shown(&self) -> String {
        format!("{} ({:?})", redact_url(&self.url), self.protocol)
    }

    /// `Ok(None)` when no endpoint is configured for `signal`.
    pub(super) fn resolve(signal: Signal, options: &OtlpOptions) -> Result<Option<Endpoint>, InitError> {
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
        let headers = resolve_headers(signal, options)?;
        // The spec's rule: a signal-specific URL is used as it is; the general one gets
        // `/v1/<signal>` over HTTP. gRPC has no per-signal paths.
        let with_path = |base: String| match protocol {
            OtlpProtocol::HttpProtobuf => format!("{}/v1/{}", base.trim_end_matches('/'), signal.name()),
            OtlpProtocol::Grpc => base,
        };
        // The spec's `INSECURE` rule: a gRPC endpoint without a scheme is plain text only when asked.
        let insecure = protocol == OtlpProtocol::Grpc && insecure(signal, &options.tls);
        let with_scheme = |url: &str| match protocol {
            OtlpProtocol::Grpc if !url.contains("://") => {
                format!("{}://{url}", if insecure { "http" } else { "https" })
            }
            _ => url.to_owned(),
        };
        let from_env = |name: &str, next: &str| {
            let url = var(name)?;
            check_url(&with_scheme(url.trim())).map_err(|why| warn_env(name, why, next)).ok()
        };
        let specific = signal.var("ENDPOINT");
        let url = if let Some(url) = from_env(&specific, "OTEL_EXPORTER_OTLP_ENDPOINT, the builder's endpoint or none")
        {
            url
        } else if let Some(base) = from_env("OTEL_EXPORTER_OTLP_ENDPOINT", "the builder's endpoint or none") {
            with_path(base)
        } else if let Some(base) = &options.endpoint {
            let base = check_url(&with_scheme(base.trim())).map_err(|why| {
                InitError::Config(format!("Builder::otlp_endpoint({:?}): {why}", redact_url(base.trim())))
            })?;
            with_path(base)
        } else {
            return Ok(None);
        };
        // Read even for `http://`, so a wrong path shows up before TLS is switched on.
        let tls = Tls::resolve(signal, &options.tls)?;
        Ok(Some(Endpoint { url, protocol, headers, timeout, tls }))
    }
}

/// The URL, checked: `Err` says why, without the URL.
pub(super) fn check_url(url: &str) -> Result<String, &'static str> {
    let uri: http::Uri = url.parse().map_err(|_| "not a URL")?;
    match uri.scheme_str() {
        Some(s) if (s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https")) && uri.host().is_some() => {
            Ok(url.to_owned())
        }
        _ => Err("must be an http:// or https:// URL"),
    }
}
