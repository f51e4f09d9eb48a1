//! The head sampler: the builder's choice and `OTEL_TRACES_SAMPLER`.

use opentelemetry_sdk::trace::Sampler;

use crate::env::warn_env;
use crate::init_error::InitError;

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
    pub(super) fn check(self) -> Result<Self, InitError> {
        match self {
            TraceSampler::Ratio(r) | TraceSampler::ParentBasedRatio(r) if !(0.0..=1.0).contains(&r) => {
                Err(InitError::Config(format!("the trace sampling ratio must be between 0 and 1, got {r}")))
            }
            other => Ok(other),
        }
    }
}

/// `OTEL_TRACES_SAMPLER` and its argument, as the OpenTelemetry SDK spec
/// defines them (case-insensitive names); `None`, warned about, when the
/// name is not one of them. A bad argument is warned about and 1.0 used.
pub(super) fn env_sampler(name: &str, arg: Option<&str>) -> Option<TraceSampler> {
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
