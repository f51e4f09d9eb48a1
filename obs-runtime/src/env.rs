//! Reading the environment the way the OpenTelemetry specification asks: a
//! blank value is unset, and an invalid one is warned about once, on stderr
//! (the subscriber may not exist yet, and may never be obs's), and treated as
//! unset. A warning names the variable and what is used instead, never the
//! value, which may be a secret (headers, endpoints with userinfo, tokens) or a
//! megabyte. A leaf module: settings of every exporter read through it.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Mutex;

/// An environment variable with a non-blank value. Blank is unset (the
/// specification's rule); a value that is not UTF-8 is warned about and unset.
pub(crate) fn env_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        Ok(_) | Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            warn_env(name, "the value is not valid UTF-8", "the default");
            None
        }
    }
}

/// Warns, once per variable and process, that the environment value of `name`
/// is ignored because of `problem`, and what is used `instead`. Neither may
/// contain the value. Written straight to stderr (a failed write is ignored:
/// warning must never fail `init`).
pub(crate) fn warn_env(name: &str, problem: &str, instead: &str) {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if !WARNED.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned()) {
        return;
    }
    let _ = writeln!(std::io::stderr().lock(), "obs: WARN ignoring {name}: {problem}; using {instead}");
}

/// Warns about a start-up problem that is not an environment value, the same way.
#[cfg(feature = "http")]
pub(crate) fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "obs: WARN {message}");
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
