//! Anomaly rules with Prometheus alone, no engine of obs's own: per function
//! and workflow, the current mean latency and error ratio are recorded, their
//! baseline (mean and standard deviation over a window, 1 day by default,
//! ending an offset ago, 1 hour by default, so that an anomaly does not move
//! its own baseline) too, and the z-score of the current value against it is
//! a recorded series of its own (`…:zscore`, the "how unusual" a reader
//! sees). The alert fires when the z-score stays above N (3 by default) for
//! the `for` period. Only upward moves alert: slower, or failing more.
//!
//! The standard deviation is floored (1 ms of latency, 1 point of error
//! ratio), so a perfectly flat baseline neither divides by zero nor turns
//! the smallest wobble into an alert.

use super::promql::{Alert, Context, Subject, group, number};
use super::rules::{RATE_WINDOW, recorded};
use super::settings::Severity;
use super::yaml::Yaml;
use crate::callsite::Kind;

/// The smallest standard deviation a baseline is taken to have.
const LATENCY_FLOOR_SECONDS: f64 = 0.001;
const ERROR_RATIO_FLOOR: f64 = 0.01;

pub(crate) fn group_for(cx: &Context<'_>) -> Option<Yaml> {
    let kinds: Vec<Kind> = cx.kinds().into_iter().filter(|k| *k != Kind::Node).collect();
    if kinds.is_empty() {
        return None;
    }
    let settings = cx.settings;
    let window = cx.window(RATE_WINDOW);
    let (span, offset) = (cx.window(settings.anomaly_window), cx.window(settings.anomaly_offset));
    let mut rules = Vec::new();
    for kind in kinds {
        let subject = cx.subjects().into_iter().find(|s| s.kind == kind).expect("a kind with a subject");
        let by = cx.by(Subject::by(kind));
        let duration = cx.metric(subject.duration());
        let all = cx.selector(&[]);
        let mean = recorded(cx, kind, "duration_seconds", &format!("mean{window}"));
        rules.push(super::promql::record(
            &mean,
            format!(
                "sum {by} (rate({duration}_sum{all}[{window}])) / sum {by} (rate({duration}_count{all}[{window}]))"
            ),
            &[],
        ));
        let error_ratio = recorded(cx, kind, "error_ratio", &format!("rate{window}"));
        for (current, what, floor, alert) in [
            (mean.as_str(), "latency", LATENCY_FLOOR_SECONDS, "ObsLatencyAnomaly"),
            (error_ratio.as_str(), "error ratio", ERROR_RATIO_FLOOR, "ObsErrorRatioAnomaly"),
        ] {
            let base = |stat: &str| format!("{current}:baseline_{stat}{span}");
            rules.push(super::promql::record(
                &base("mean"),
                format!("avg_over_time({current}[{span}] offset {offset})"),
                &[],
            ));
            rules.push(super::promql::record(
                &base("stddev"),
                format!("stddev_over_time({current}[{span}] offset {offset})"),
                &[],
            ));
            let z = format!("{current}:zscore");
            rules.push(super::promql::record(
                &z,
                format!("({current} - {}) / clamp_min({}, {})", base("mean"), base("stddev"), number(floor)),
                &[],
            ));
            let who = if kind == Kind::Workflow {
                "workflow {{ $labels.workflow }}"
            } else {
                "function {{ $labels.function }}"
            };
            rules.push(cx.alert(Alert {
                name: alert,
                expr: format!("{z} > {}", number(settings.anomaly_z)),
                for_: settings.anomaly_for,
                severity: Severity::Ticket,
                labels: vec![("kind", Subject::word(kind).to_owned())],
                summary: format!("The {what} of {who} is unusually high"),
                description: format!(
                    "The {what} of {who} is {{{{ $value | printf \"%.1f\" }}}} standard deviations above its baseline of the {span} ending {offset} ago."
                ),
            }));
        }
    }
    Some(group(format!("obs-{}-anomaly", cx.service), rules))
}
