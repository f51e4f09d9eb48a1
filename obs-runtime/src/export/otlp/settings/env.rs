//! Reading the `OTEL_*` variables: blank is unset, the signal-specific variable
//! before the general one, lists and `key=value` lists as the specification
//! spells them. A leaf of `settings`.

use crate::env::warn_env;

/// The two signals obs exports, with the names the `OTEL_*` variables use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Logs,
    Metrics,
}

impl Signal {
    /// `traces` / `logs`: the URL path segment and the `signal` label.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }

    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and the like.
    pub(super) fn var(self, suffix: &str) -> String {
        format!("OTEL_EXPORTER_OTLP_{}_{suffix}", self.name().to_ascii_uppercase())
    }
}

/// An environment variable with a non-blank value.
pub(super) fn var(name: &str) -> Option<String> {
    crate::env::env_var(name)
}

/// The first of the signal-specific and the general variable that is set, with its name.
pub(super) fn var_either(signal: Signal, suffix: &str) -> Option<(String, String)> {
    let specific = signal.var(suffix);
    let general = format!("OTEL_EXPORTER_OTLP_{suffix}");
    var(&specific).map(|v| (specific, v)).or_else(|| var(&general).map(|v| (general, v)))
}

/// `OTEL_SDK_DISABLED`, a boolean as the specification defines them.
pub(super) fn sdk_disabled() -> bool {
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
pub(super) fn exporter_choice(name: &str) -> Option<bool> {
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

pub(crate) use crate::env::parse_key_values;
