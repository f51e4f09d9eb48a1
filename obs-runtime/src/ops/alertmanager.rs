//! The Alertmanager configuration template: every alert to the generic
//! webhook; `severity="page"` also to PagerDuty and Slack, `severity="ticket"`
//! also to email and Slack; grouped by alert name and service; resolved
//! alerts sent too; a fast burn inhibits the slow burn of the same objective
//! and a down target inhibits every other alert from that target. Secrets are
//! paths of files Alertmanager reads (`*_file`), never values.

use super::promql::duration_text;
use super::settings::OpsSettings;
use super::yaml::{Yaml, map, s};

pub(crate) fn config(settings: &OpsSettings) -> Yaml {
    let r = &settings.receivers;
    let webhook = || map([("url", s(&r.webhook_url)), ("send_resolved", Yaml::Bool(true))]);
    let slack = || {
        map([
            ("channel", s(&r.slack_channel)),
            ("send_resolved", Yaml::Bool(true)),
            ("title", s("[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.service }})")),
            (
                "text",
                s(
                    "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}",
                ),
            ),
        ])
    };
    let email = map([
        ("to", s(&r.email_to)),
        ("send_resolved", Yaml::Bool(true)),
        ("auth_password_file", s(&r.email_password_file)),
    ]);
    let pagerduty = map([
        ("routing_key_file", s(&r.pagerduty_routing_key_file)),
        ("send_resolved", Yaml::Bool(true)),
        ("description", s("{{ .CommonAnnotations.summary }}")),
        ("links", Yaml::List(vec![map([("href", s("{{ .CommonAnnotations.runbook_url }}")), ("text", s("runbook"))])])),
    ]);
    let matcher = |m: &str| Yaml::List(vec![s(m)]);
    map([
        (
            "global",
            map([
                ("resolve_timeout", s("5m")),
                ("smtp_smarthost", s(&r.smarthost)),
                ("smtp_from", s(&r.email_from)),
                ("smtp_auth_username", s(&r.email_from)),
                ("slack_api_url_file", s(&r.slack_api_url_file)),
            ]),
        ),
        (
            "route",
            map([
                ("receiver", s("webhook")),
                ("group_by", Yaml::List(vec![s("alertname"), s("service")])),
                ("group_wait", s(duration_text(r.group_wait))),
                ("group_interval", s(duration_text(r.group_interval))),
                ("repeat_interval", s(duration_text(r.repeat_interval))),
                (
                    "routes",
                    Yaml::List(vec![
                        map([("matchers", matcher("severity=\"page\"")), ("receiver", s("page"))]),
                        map([("matchers", matcher("severity=\"ticket\"")), ("receiver", s("ticket"))]),
                    ]),
                ),
            ]),
        ),
        (
            "receivers",
            Yaml::List(vec![
                map([("name", s("webhook")), ("webhook_configs", Yaml::List(vec![webhook()]))]),
                map([
                    ("name", s("page")),
                    ("pagerduty_configs", Yaml::List(vec![pagerduty])),
                    ("slack_configs", Yaml::List(vec![slack()])),
                    ("webhook_configs", Yaml::List(vec![webhook()])),
                ]),
                map([
                    ("name", s("ticket")),
                    ("email_configs", Yaml::List(vec![email])),
                    ("slack_configs", Yaml::List(vec![slack()])),
                    ("webhook_configs", Yaml::List(vec![webhook()])),
                ]),
            ]),
        ),
        (
            "inhibit_rules",
            Yaml::List(vec![
                // The page of an objective says all its ticket would.
                map([
                    ("source_matchers", matcher("alertname=\"ObsSloBurnRateFast\"")),
                    ("target_matchers", matcher("alertname=\"ObsSloBurnRateSlow\"")),
                    ("equal", Yaml::List(["service", "slo", "function", "module", "workflow", "node"].map(s).to_vec())),
                ]),
                // A target that is down explains every other alert about it. The rules
                // aggregate over instances (an objective is the service's), so the
                // alerts they raise carry `job`, not `instance`: matched on `job`.
                map([
                    ("source_matchers", matcher("alertname=\"ObsTargetDown\"")),
                    ("target_matchers", matcher("alertname!=\"ObsTargetDown\"")),
                    ("equal", Yaml::List(vec![s("job")])),
                ]),
            ]),
        ),
    ])
}
