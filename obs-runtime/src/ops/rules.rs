//! The recording rules (call rate, error ratio, latency quantiles per
//! function, workflow and node) and the alerts users expect without writing
//! them. Metric names come from the family table, subjects from the catalog;
//! a kind with no annotated function gets no rules.

use std::time::Duration;

use super::promql::{Alert, BAD_STATUSES, Context, Subject, group, number, record};
use super::settings::Severity;
use super::yaml::Yaml;
use crate::callsite::Kind;
use crate::metrics::{
    EXPORTER_DROPPED_SPANS_TOTAL, EXPORTER_FAILED_SPANS_TOTAL, HEALTH_STATUS, LOG_DROPPED_TOTAL, LOG_EVENTS_TOTAL,
    OVERFLOW_TOTAL,
};

/// The window of the recorded rates and quantiles.
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// The quantiles recorded for every subject.
const QUANTILES: [(f64, &str); 3] = [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")];

/// The name of a recorded series: `job_<kind>:<metric>:<operation>`.
pub(crate) fn recorded(cx: &Context<'_>, kind: Kind, metric: &str, operation: &str) -> String {
    let prefix = if cx.namespace.is_empty() { String::new() } else { format!("{}_", cx.namespace) };
    format!("job_{}:{prefix}{}_{metric}:{operation}", Subject::word(kind), Subject::word(kind))
}

/// `rate5m` under the scaled window.
fn rate_op(cx: &Context<'_>) -> String {
    format!("rate{}", cx.window(RATE_WINDOW))
}

/// One group per kind: calls per second, error ratio and p50/p95/p99.
pub(crate) fn recording_groups(cx: &Context<'_>) -> Vec<Yaml> {
    cx.kinds()
        .into_iter()
        .map(|kind| {
            let subject = cx.subjects().into_iter().find(|s| s.kind == kind).expect("a kind with a subject");
            let (calls, duration) = (cx.metric(subject.calls()), cx.metric(subject.duration()));
            let by = cx.by(Subject::by(kind));
            let window = cx.window(RATE_WINDOW);
            let all = cx.selector(&[]);
            let bad = cx.selector(&[("status", format!("=~\"{BAD_STATUSES}\""))]);
            let mut rules = vec![
                record(
                    &recorded(cx, kind, "calls", &rate_op(cx)),
                    format!("sum {by} (rate({calls}{all}[{window}]))"),
                    &[],
                ),
                record(
                    &recorded(cx, kind, "error_ratio", &rate_op(cx)),
                    format!("sum {by} (rate({calls}{bad}[{window}])) / sum {by} (rate({calls}{all}[{window}]))"),
                    &[],
                ),
            ];
            let by_le = cx.by(&[Subject::by(kind), &["le"]].concat());
            for (q, name) in QUANTILES {
                rules.push(record(
                    &recorded(cx, kind, "duration_seconds", &format!("{name}_{window}")),
                    format!("histogram_quantile({}, sum {by_le} (rate({duration}_bucket{all}[{window}])))", number(q)),
                    &[],
                ));
            }
            group(format!("obs-{}-{}-recording", cx.service, Subject::word(kind)), rules)
        })
        .collect()
}

/// The alerts every service gets: failing workflows and nodes, slow functions
/// and workflows, a down health check, a down target, dropped telemetry and
/// folded label values.
pub(crate) fn standard_group(cx: &Context<'_>) -> Yaml {
    let settings = cx.settings;
    let window = cx.window(RATE_WINDOW);
    let sustained = Duration::from_secs(10 * 60);
    let mut rules = Vec::new();
    let kinds = cx.kinds();
    if kinds.contains(&Kind::Workflow) {
        let ratio = recorded(cx, Kind::Workflow, "error_ratio", &rate_op(cx));
        rules.push(cx.alert(Alert {
            name: "ObsWorkflowFailureRatioHigh",
            expr: format!("{ratio} > {}", number(settings.workflow_failure_ratio)),
            for_: sustained,
            severity: Severity::Ticket,
            labels: vec![],
            summary: "Workflow {{ $labels.workflow }} fails too often".into(),
            description: format!(
                "{{{{ $value | humanizePercentage }}}} of the runs of workflow {{{{ $labels.workflow }}}} failed over {window} (threshold {}).",
                number(settings.workflow_failure_ratio)
            ),
        }));
    }
    if kinds.contains(&Kind::Node) {
        let ratio = recorded(cx, Kind::Node, "error_ratio", &rate_op(cx));
        rules.push(cx.alert(Alert {
            name: "ObsNodeErrorRatioHigh",
            expr: format!("{ratio} > {}", number(settings.node_error_ratio)),
            for_: sustained,
            severity: Severity::Ticket,
            labels: vec![],
            summary: "Node {{ $labels.node }} of workflow {{ $labels.workflow }} fails too often".into(),
            description: format!(
                "{{{{ $value | humanizePercentage }}}} of the executions of node {{{{ $labels.node }}}} failed over {window} (threshold {}).",
                number(settings.node_error_ratio)
            ),
        }));
    }
    let threshold = number(settings.latency_p95.as_secs_f64());
    for kind in kinds.iter().copied().filter(|k| *k != Kind::Node) {
        let p95 = recorded(cx, kind, "duration_seconds", &format!("p95_{window}"));
        let name = if kind == Kind::Workflow { "ObsWorkflowLatencyP95High" } else { "ObsFunctionLatencyP95High" };
        let who =
            if kind == Kind::Workflow { "workflow {{ $labels.workflow }}" } else { "function {{ $labels.function }}" };
        rules.push(cx.alert(Alert {
            name,
            expr: format!("{p95} > {threshold}"),
            for_: sustained,
            severity: Severity::Ticket,
            labels: vec![],
            summary: format!("The p95 latency of {who} is above {threshold}s"),
            description: format!("The p95 latency of {who} is {{{{ $value | humanizeDuration }}}} over {window}."),
        }));
    }
    let job = cx.selector(&[]);
    // Only the checks whose failure makes the service unhealthy page; a failing
    // non-critical check degrades the report, which the dashboard shows.
    let critical = cx.critical_checks.map(<[String]>::to_vec).unwrap_or_else(critical_checks);
    if !critical.is_empty() {
        let matcher = format!(
            "=~{}",
            super::promql::quote(&critical.iter().map(|c| regex_escape(c)).collect::<Vec<_>>().join("|"))
        );
        rules.push(cx.alert(Alert {
            name: "ObsHealthCheckDown",
            expr: format!("{}{} == 0", cx.metric(&HEALTH_STATUS), cx.selector(&[("check", matcher)])),
            for_: Duration::from_secs(2 * 60),
            severity: Severity::Page,
            labels: vec![],
            summary: "Critical health check {{ $labels.check }} is down".into(),
            description: "Health check {{ $labels.check }} of {{ $labels.instance }} reports unhealthy, so the service is unhealthy.".into(),
        }));
    }
    rules.push(cx.alert(Alert {
        name: "ObsTargetDown",
        expr: format!("up{job} == 0"),
        for_: Duration::from_secs(60),
        severity: Severity::Page,
        labels: vec![],
        summary: "{{ $labels.instance }} of job {{ $labels.job }} is down".into(),
        description: "Prometheus cannot scrape {{ $labels.instance }}: the process is down or unreachable.".into(),
    }));
    for (name, family, what) in [
        (
            "ObsExporterDroppingSpans",
            &EXPORTER_DROPPED_SPANS_TOTAL,
            "dropping {{ $labels.signal }} before export (queue full)",
        ),
        ("ObsExporterFailingSpans", &EXPORTER_FAILED_SPANS_TOTAL, "failing to export {{ $labels.signal }}"),
        ("ObsLogLinesDropped", &LOG_DROPPED_TOTAL, "dropping log lines (the log consumer stalls)"),
        ("ObsLabelOverflow", &OVERFLOW_TOTAL, "folding label values into __overflow__"),
    ] {
        rules.push(cx.alert(Alert {
            name,
            expr: format!("sum without (instance) (rate({}{job}[{window}])) > 0", cx.metric(family)),
            for_: sustained,
            severity: Severity::Ticket,
            labels: vec![],
            summary: format!("{{{{ $labels.job }}}} is {what}"),
            description: format!("{} grew by {{{{ $value | humanize }}}} per second over {window}.", cx.metric(family)),
        }));
    }
    // Error lines are counted whether or not they are written (`obs_log_events_total`),
    // so a burst of errors alerts even with the log format off or a stalled consumer.
    let errors = cx.selector(&[("level", "=\"error\"".to_owned())]);
    rules.push(cx.alert(Alert {
        name: "ObsErrorLogRateHigh",
        expr: format!(
            "sum without (instance) (rate({}{errors}[{window}])) > {ERROR_LOG_RATE}",
            cx.metric(&LOG_EVENTS_TOTAL)
        ),
        for_: sustained,
        severity: Severity::Ticket,
        labels: vec![],
        summary: "{{ $labels.job }} logs errors at a high rate".into(),
        description: format!(
            "{} logged {{{{ $value | humanize }}}} ERROR events per second over {window} (threshold {ERROR_LOG_RATE}).",
            "{{ $labels.job }}"
        ),
    }));
    group(format!("obs-{}-alerts", cx.service), rules)
}

/// ERROR log events per second above which `ObsErrorLogRateHigh` fires (one every 10 s).
const ERROR_LOG_RATE: f64 = 0.1;

/// The `check` paths of the registered critical health checks, when health is compiled in.
fn critical_checks() -> Vec<String> {
    #[cfg(feature = "health")]
    {
        crate::health::registry::critical_paths()
    }
    #[cfg(not(feature = "health"))]
    {
        Vec::new()
    }
}

/// `text` as a literal inside a PromQL (RE2) regular expression.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
