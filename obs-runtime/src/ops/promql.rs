//! What every generator shares: the subjects (the catalogued functions,
//! workflows and nodes, with their objectives), the metric names from the
//! family table, selectors, durations in Prometheus's syntax, and the alert
//! rule every generated alert is built through (so none lacks its
//! `severity`, `summary`, `description` or `runbook_url`).

use std::time::Duration;

use super::objective::{Objective, same_bound};
use super::settings::{OpsSettings, Severity};
use super::yaml::{Yaml, map, s};
use crate::callsite::{CallSite, Kind};
use crate::metrics::{
    FUNCTION_CALLS_TOTAL, FUNCTION_DURATION_SECONDS, Family, NODE_DURATION_SECONDS, NODE_RUNS_TOTAL,
    WORKFLOW_DURATION_SECONDS, WORKFLOW_RUNS_TOTAL,
};

/// The statuses that spend an error budget. `cancelled` does not: the caller
/// gave up, the function did not fail.
pub(crate) const BAD_STATUSES: &str = "error|panic|timeout|budget_exceeded";

/// Everything a generator reads: the settings, the names in effect and the catalog.
pub(crate) struct Context<'a> {
    pub settings: &'a OpsSettings,
    pub namespace: &'a str,
    pub service: &'a str,
    /// The histogram bucket bounds in effect (objective thresholds included).
    pub buckets: &'a [f64],
    pub sites: &'a [&'static CallSite],
    /// The critical health checks, when known before they are registered (`OBS_OPS_WRITE`).
    pub critical_checks: Option<&'a [String]>,
}

/// A function, a workflow or a node, as the rules group and select it.
#[derive(Clone, Copy)]
pub(crate) struct Subject {
    pub kind: Kind,
    pub name: &'static str,
    pub module: &'static str,
    pub objective: Option<Objective>,
}

impl Subject {
    /// The counter of calls (runs) by status.
    pub fn calls(&self) -> &'static Family {
        match self.kind {
            Kind::Workflow => &WORKFLOW_RUNS_TOTAL,
            Kind::Node => &NODE_RUNS_TOTAL,
            _ => &FUNCTION_CALLS_TOTAL,
        }
    }

    /// The duration histogram.
    pub fn duration(&self) -> &'static Family {
        match self.kind {
            Kind::Workflow => &WORKFLOW_DURATION_SECONDS,
            Kind::Node => &NODE_DURATION_SECONDS,
            _ => &FUNCTION_DURATION_SECONDS,
        }
    }

    /// The labels the rules aggregate by (besides `job`).
    pub fn by(kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Workflow => &["workflow"],
            Kind::Node => &["workflow", "node"],
            _ => &["function", "module"],
        }
    }

    /// The matchers that pick this subject's series.
    pub fn matchers(&self) -> Vec<(&'static str, String)> {
        match self.kind {
            Kind::Workflow => vec![("workflow", eq(self.name))],
            Kind::Node => vec![("node", eq(self.name))],
            _ => vec![("function", eq(self.name)), ("module", eq(self.module))],
        }
    }

    /// The labels that name this subject, with their values.
    pub fn identity(&self) -> Vec<(&'static str, String)> {
        match self.kind {
            Kind::Workflow => vec![("workflow", self.name.to_owned())],
            Kind::Node => vec![("node", self.name.to_owned())],
            _ => vec![("function", self.name.to_owned()), ("module", self.module.to_owned())],
        }
    }

    /// How a reader names it in an alert: `function checkout (shop::cart)`.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Workflow => format!("workflow {}", self.name),
            Kind::Node => format!("node {}", self.name),
            _ => format!("function {} ({})", self.name, self.module),
        }
    }

    /// The kind's word: `function`, `workflow` or `node`.
    pub fn word(kind: Kind) -> &'static str {
        kind.as_str()
    }
}

impl Context<'_> {
    /// Every catalogued subject that records metrics, in catalog order, each once.
    pub fn subjects(&self) -> Vec<Subject> {
        let mut out: Vec<Subject> = Vec::new();
        for site in self.sites {
            if !site.records_metrics() {
                continue;
            }
            let subject = Subject {
                kind: site.kind(),
                name: site.name(),
                module: site.module(),
                objective: site.objective().copied(),
            };
            let same = |o: &Subject| o.kind == subject.kind && o.name == subject.name && o.module == subject.module;
            if !out.iter().any(same) {
                out.push(subject);
            }
        }
        out
    }

    /// The kinds that have at least one subject.
    pub fn kinds(&self) -> Vec<Kind> {
        let subjects = self.subjects();
        [Kind::Function, Kind::Workflow, Kind::Node]
            .into_iter()
            .filter(|k| subjects.iter().any(|s| s.kind == *k))
            .collect()
    }

    /// The full metric name of `family`.
    pub fn metric(&self, family: &Family) -> String {
        family.name_in(self.namespace)
    }

    /// The scrape job every expression selects.
    pub fn job(&self) -> &str {
        self.settings.job.as_deref().unwrap_or(self.service)
    }

    /// `{job="…",extra…}`.
    pub fn selector(&self, extra: &[(&str, String)]) -> String {
        let mut out = format!("{{job={}", quote(self.job()));
        for (label, matcher) in extra {
            out.push(',');
            out.push_str(label);
            out.push_str(matcher);
        }
        out.push('}');
        out
    }

    /// `by (job, labels…)`.
    pub fn by(&self, labels: &[&str]) -> String {
        let mut all = vec!["job"];
        all.extend_from_slice(labels);
        format!("by ({})", all.join(", "))
    }

    /// A duration of the rules (scaled), in Prometheus's syntax.
    pub fn window(&self, duration: Duration) -> String {
        duration_text(self.settings.scaled(duration))
    }

    /// The bucket bound a latency threshold is counted against: the configured
    /// bound equal to it (start-up adds every objective's threshold to the buckets).
    pub fn bound_for(&self, threshold: Duration) -> f64 {
        let seconds = threshold.as_secs_f64();
        self.buckets.iter().copied().find(|b| same_bound(*b, seconds)).unwrap_or(seconds)
    }

    /// `runbook_url` for `alert`.
    pub fn runbook(&self, alert: &str) -> String {
        self.settings.runbook_url.replace("{alert}", alert)
    }

    /// An alerting rule with the labels and annotations every generated alert carries.
    pub fn alert(&self, alert: Alert<'_>) -> Yaml {
        let mut labels =
            vec![("severity".to_owned(), s(alert.severity.as_str())), ("service".to_owned(), s(self.service))];
        labels.extend(alert.labels.into_iter().map(|(k, v)| (k.to_owned(), s(v))));
        map([
            ("alert", s(alert.name)),
            ("expr", s(alert.expr)),
            ("for", s(self.window(alert.for_))),
            ("labels", Yaml::Map(labels)),
            (
                "annotations",
                map([
                    ("summary", s(alert.summary)),
                    ("description", s(alert.description)),
                    ("runbook_url", s(self.runbook(alert.name))),
                ]),
            ),
        ])
    }
}

/// What an alert says, before the labels every alert carries.
pub(crate) struct Alert<'a> {
    pub name: &'a str,
    pub expr: String,
    pub for_: Duration,
    pub severity: Severity,
    pub labels: Vec<(&'static str, String)>,
    pub summary: String,
    pub description: String,
}

/// A recording rule.
pub(crate) fn record(name: &str, expr: String, labels: &[(&str, String)]) -> Yaml {
    let mut entries = vec![("record".to_owned(), s(name)), ("expr".to_owned(), s(expr))];
    if !labels.is_empty() {
        entries.push((
            "labels".to_owned(),
            Yaml::Map(labels.iter().map(|(k, v)| ((*k).to_owned(), s(v.clone()))).collect()),
        ));
    }
    Yaml::Map(entries)
}

/// A rule group.
pub(crate) fn group(name: String, rules: Vec<Yaml>) -> Yaml {
    map([("name", s(name)), ("rules", Yaml::List(rules))])
}

/// `="value"`, the value quoted as a PromQL string.
pub(crate) fn eq(value: &str) -> String {
    format!("={}", quote(value))
}

/// A PromQL double-quoted string: backslash, double quote and newline escaped,
/// as in the exposition formats' label values.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    crate::export::text_format::escape_label_value(&mut out, value);
    out.push('"');
    out
}

/// A duration in Prometheus's syntax, in the largest unit that divides it
/// (`1h`, `30m`, `5s`, `250ms`); at least `1ms`.
pub(crate) fn duration_text(duration: Duration) -> String {
    let ms = duration.as_millis().max(1);
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A bucket bound as the `le` label spells it: Rust's shortest round-trip
/// form, which is how both exporters render bounds.
pub(crate) fn le(bound: f64) -> String {
    format!("{bound}")
}

/// A threshold or factor in PromQL, rounded to 12 decimals so that
/// `1 - 99.9 / 100` reads `0.001`.
pub(crate) fn number(value: f64) -> String {
    let text = format!("{value:.12}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" { "0".to_owned() } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_unit() {
        assert_eq!(duration_text(Duration::from_secs(3600)), "1h");
        assert_eq!(duration_text(Duration::from_secs(90)), "90s");
        assert_eq!(duration_text(Duration::from_secs(72 * 3600)), "3d");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration_text(Duration::ZERO), "1ms");
    }

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(number(1.0 - 99.9 / 100.0), "0.001");
        assert_eq!(number(14.4 * 0.001), "0.0144");
        assert_eq!(number(3.0), "3");
        assert_eq!(le(0.25), "0.25");
        assert_eq!(le(1.0), "1");
    }

    #[test]
    fn label_values_are_quoted() {
        assert_eq!(quote(r#"say "hi" \ now"#), r#""say \"hi\" \\ now""#);
    }
}
