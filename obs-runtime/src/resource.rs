//! The resource: the attributes that say which process the telemetry comes
//! from (`service.name`, `service.instance.id`, `host.name`, ...), detected
//! once in `init`. OTLP export sends it as the resource of every span, log
//! record and metric; `/metrics` shows it as the one `target_info` sample
//! (`export/series_labels.rs`). Both read the same list, so a `target_info`
//! joined in PromQL and a resource seen in a trace backend name the same
//! instance. A leaf: it reads the environment through `env.rs` only.

use std::collections::BTreeMap;

use crate::env::{env_var, parse_key_values, warn_env};

/// Detected attributes, then `OTEL_RESOURCE_ATTRIBUTES`, then the service name
/// (which `OTEL_SERVICE_NAME` or the builder chose) on top; sorted by key.
pub(crate) fn detect(service: &str, version: Option<&str>) -> Vec<(String, String)> {
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();
    let id = format!("{:016x}{:016x}", crate::log::random_u64(), crate::log::random_u64());
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
    if let Some(version) = version {
        attrs.insert("service.version".into(), version.to_owned());
    }
    if let Some(text) = env_var("OTEL_RESOURCE_ATTRIBUTES") {
        match parse_key_values(&text) {
            Ok(members) => attrs.extend(members),
            Err(why) => warn_env("OTEL_RESOURCE_ATTRIBUTES", &why, "none of its attributes"),
        }
    }
    attrs.insert("service.name".into(), service.to_owned());
    attrs.into_iter().collect()
}

/// The machine's name: `HOSTNAME`, else what the kernel says.
pub(crate) fn host_name() -> Option<String> {
    let from_file = |path: &str| std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned());
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| from_file("/proc/sys/kernel/hostname"))
        .or_else(|| from_file("/etc/hostname"))
        .filter(|h| !h.is_empty())
}
