//! OTLP metrics export: whether it is on (`OTEL_METRICS_EXPORTER` or the
//! builder), how often (`OTEL_METRIC_EXPORT_INTERVAL`, ms, default 60000)
//! and with which temporality
//! (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
//!
//! How the specification's rules were read:
//! - `OTEL_METRICS_EXPORTER` is a list like the other `OTEL_*_EXPORTER`
//!   variables; `prometheus` is accepted silently (obs serves `/metrics`
//!   anyway), `otlp` turns OTLP export on, `none` alone turns it off;
//! - the temporality preference is `cumulative` (default), `delta` or
//!   `lowmemory`; obs's sums are all monotonic counters and its histograms
//!   synchronous, for which `lowmemory` means delta, so it is delta here.

use std::time::Duration;

use super::env::var;
use crate::env::warn_env;

/// How exported sums and histograms relate to earlier exports, as in
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Temporality {
    /// Totals since `init` (the default).
    #[default]
    Cumulative,
    /// What changed since the previous export.
    Delta,
}

/// `OTEL_METRICS_EXPORTER`: `Some(true)` with `otlp`, `Some(false)` with only
/// `none` (or only `prometheus`), `None` when unset.
pub(super) fn exporter_choice() -> Option<bool> {
    let text = var("OTEL_METRICS_EXPORTER")?;
    let members: Vec<String> = text.split(',').map(|m| m.trim().to_ascii_lowercase()).collect();
    let unsupported: Vec<String> = (1..=members.len())
        .filter(|&i| !matches!(members[i - 1].as_str(), "otlp" | "none" | "prometheus" | ""))
        .map(|i| i.to_string())
        .collect();
    let otlp = members.iter().any(|m| m == "otlp");
    if !unsupported.is_empty() {
        let problem = format!(
            "member {} of {} is not an exporter obs has (otlp, prometheus or none)",
            unsupported.join(", "),
            members.len()
        );
        warn_env("OTEL_METRICS_EXPORTER", &problem, if otlp { "otlp" } else { "the builder's choice" });
    }
    if otlp {
        Some(true)
    } else if members.iter().any(|m| m == "none" || m == "prometheus") {
        Some(false)
    } else {
        None
    }
}

/// `OTEL_METRIC_EXPORT_INTERVAL`, else the builder's interval.
pub(super) fn interval(from_code: Duration) -> Duration {
    let Some(text) = var("OTEL_METRIC_EXPORT_INTERVAL") else { return from_code };
    match text.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Duration::from_millis(ms),
        _ => {
            let using = format!("{} ms", from_code.as_millis());
            warn_env("OTEL_METRIC_EXPORT_INTERVAL", "not a positive whole number of milliseconds", &using);
            from_code
        }
    }
}

/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, else the builder's.
pub(super) fn temporality(from_code: Temporality) -> Temporality {
    let name = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
    let Some(text) = var(name) else { return from_code };
    match text.trim().to_ascii_lowercase().as_str() {
        "cumulative" => Temporality::Cumulative,
        "delta" | "lowmemory" => Temporality::Delta,
        _ => {
            let using = if from_code == Temporality::Delta { "delta" } else { "cumulative" };
            warn_env(name, "not cumulative, delta or lowmemory", using);
            from_code
        }
    }
}
