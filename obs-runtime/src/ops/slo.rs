//! Multi-window, multi-burn-rate alerts for every objective (Google SRE
//! workbook, "Alerting on SLOs"): the share of bad calls over each window is
//! recorded, and an alert fires when both windows of a pair burn the error
//! budget faster than the pair's factor. Page pairs fire `ObsSloBurnRateFast`,
//! ticket pairs `ObsSloBurnRateSlow`.
//!
//! A bad call is, for `success`, one that ended `error`, `panic`, `timeout` or
//! `budget_exceeded`; for `latency`, one slower than the threshold (counted
//! from the histogram bucket at the threshold, which start-up adds to the
//! buckets when it is not one already). The error budget is `1 - success/100`
//! or `1 - percentile/100`.

use std::time::Duration;

use super::promql::{Alert, BAD_STATUSES, Context, Subject, group, le, number, quote, record};
use super::rules::recorded;
use super::settings::Severity;
use super::yaml::Yaml;

/// Which promise of an objective: the `slo` label.
#[derive(Clone, Copy)]
enum Slo {
    Success { percent: f64 },
    Latency { threshold: Duration, percent: f64 },
}

impl Slo {
    fn label(&self) -> &'static str {
        match self {
            Slo::Success { .. } => "success",
            Slo::Latency { .. } => "latency",
        }
    }

    fn budget(&self) -> f64 {
        let percent = match self {
            Slo::Success { percent } | Slo::Latency { percent, .. } => *percent,
        };
        1.0 - percent / 100.0
    }
}

fn slos(subject: &Subject) -> Vec<Slo> {
    let Some(objective) = subject.objective else { return Vec::new() };
    let mut out = Vec::new();
    if let Some(percent) = objective.success_percent() {
        out.push(Slo::Success { percent });
    }
    if let Some(threshold) = objective.latency_threshold() {
        out.push(Slo::Latency { threshold, percent: objective.percentile_percent() });
    }
    out
}

/// The windows the pairs use, each once, shortest first.
fn windows(cx: &Context<'_>) -> Vec<Duration> {
    let mut all: Vec<Duration> = cx.settings.burn_windows.iter().flat_map(|w| [w.long, w.short]).collect();
    all.sort();
    all.dedup();
    all
}

/// The recorded bad-call ratio of one window.
fn ratio_name(cx: &Context<'_>, subject: &Subject, window: Duration) -> String {
    recorded(cx, subject.kind, "slo_errors", &format!("ratio_rate{}", cx.window(window)))
}

/// One group for the recorded ratios and one for the alerts; none without objectives.
pub(crate) fn groups(cx: &Context<'_>) -> Vec<Yaml> {
    let subjects: Vec<Subject> = cx.subjects().into_iter().filter(|s| s.objective.is_some()).collect();
    if subjects.is_empty() {
        return Vec::new();
    }
    let mut records = Vec::new();
    let mut alerts = Vec::new();
    for subject in &subjects {
        let by = cx.by(Subject::by(subject.kind));
        let matchers = subject.matchers();
        for slo in slos(subject) {
            for window in windows(cx) {
                let w = cx.window(window);
                let expr = match slo {
                    Slo::Success { .. } => {
                        let calls = cx.metric(subject.calls());
                        let mut bad = matchers.clone();
                        bad.push(("status", format!("=~\"{BAD_STATUSES}\"")));
                        format!(
                            "sum {by} (rate({calls}{}[{w}])) / sum {by} (rate({calls}{}[{w}]))",
                            cx.selector(&bad),
                            cx.selector(&matchers)
                        )
                    }
                    Slo::Latency { threshold, .. } => {
                        let duration = cx.metric(subject.duration());
                        let mut fast = matchers.clone();
                        fast.push(("le", format!("={}", quote(&le(cx.bound_for(threshold))))));
                        format!(
                            "1 - (sum {by} (rate({duration}_bucket{}[{w}])) / sum {by} (rate({duration}_count{}[{w}])))",
                            cx.selector(&fast),
                            cx.selector(&matchers)
                        )
                    }
                };
                records.push(record(&ratio_name(cx, subject, window), expr, &[("slo", slo.label().to_owned())]));
            }
            for severity in [Severity::Page, Severity::Ticket] {
                if let Some(alert) = burn_alert(cx, subject, slo, severity) {
                    alerts.push(alert);
                }
            }
        }
    }
    vec![
        group(format!("obs-{}-slo-recording", cx.service), records),
        group(format!("obs-{}-slo-alerts", cx.service), alerts),
    ]
}

/// The alert of one severity: any of its pairs with both windows above the factor.
fn burn_alert(cx: &Context<'_>, subject: &Subject, slo: Slo, severity: Severity) -> Option<Yaml> {
    let pairs: Vec<_> = cx.settings.burn_windows.iter().filter(|w| w.severity == severity).collect();
    if pairs.is_empty() {
        return None;
    }
    let mut matchers = subject.matchers();
    matchers.push(("slo", format!("={}", quote(slo.label()))));
    let selector = cx.selector(&matchers);
    let budget = slo.budget();
    let conditions: Vec<String> = pairs
        .iter()
        .map(|pair| {
            let threshold = number(pair.factor * budget);
            format!(
                "({}{selector} > {threshold} and {}{selector} > {threshold})",
                ratio_name(cx, subject, pair.long),
                ratio_name(cx, subject, pair.short)
            )
        })
        .collect();
    let windows: Vec<String> = pairs
        .iter()
        .map(|p| format!("{}/{} at {}x", cx.window(p.long), cx.window(p.short), number(p.factor)))
        .collect();
    let (name, for_, speed) = match severity {
        Severity::Page => ("ObsSloBurnRateFast", cx.settings.page_for, "fast"),
        Severity::Ticket => ("ObsSloBurnRateSlow", cx.settings.ticket_for, "slowly but steadily"),
    };
    let promise = match slo {
        Slo::Success { percent } => format!("{}% of calls succeed", number(percent)),
        Slo::Latency { threshold, percent } => {
            format!("{}% of calls end within {}", number(percent), super::promql::duration_text(threshold))
        }
    };
    Some(cx.alert(Alert {
        name,
        expr: conditions.join(" or "),
        for_,
        severity,
        // The series carry these already; as static labels they tell the rules of
        // different objectives apart (promtool's duplicate-rule lint).
        labels: subject.identity().into_iter().chain([("slo", slo.label().to_owned())]).collect(),
        summary: format!("The {} objective of {} burns its error budget {speed}", slo.label(), subject.describe()),
        description: format!(
            "Objective: {promise}. The share of bad calls is {{{{ $value | humanizePercentage }}}}, above the burn rate of {} (error budget {}).",
            windows.join(" or "),
            number(budget)
        ),
    }))
}
