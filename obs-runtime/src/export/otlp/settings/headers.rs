//! Request headers (gRPC metadata) of export: the builder's, then
//! `OTEL_EXPORTER_OTLP_HEADERS` and the signal's own variable on top.

use super::env::{Signal, parse_key_values, var};
use super::options::OtlpOptions;
use crate::env::warn_env;
use crate::init_error::InitError;

/// The headers of `signal`'s requests: a bad builder header is an error, a bad
/// variable is warned about and none of its headers are used.
pub(super) fn resolve_headers(signal: Signal, options: &OtlpOptions) -> Result<Vec<(String, String)>, InitError> {
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
    Ok(headers)
}

/// `Err` says why a header cannot be sent, without its value.
pub(super) fn check_header(key: &str, value: &str) -> Result<(), &'static str> {
    if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
        return Err("not a valid HTTP header name");
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err("not a valid HTTP header value");
    }
    Ok(())
}
