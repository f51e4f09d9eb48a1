//! The Grafana dashboard, a JSON model importable as is: a datasource
//! variable (every panel queries through it) and function/workflow
//! selectors; rows for the overview (rate, error ratio, quantiles, burn rate
//! and error budget remaining per objective), workflows, nodes, health, a
//! process row when the family table has process families, and a row for the
//! application's own families ([`AppFamily`]: those described through the
//! `metrics` facade when the dashboard is generated, and those given to the
//! [`Generator`](super::Generator)). Every query is
//! also handed out as a rule file ([`queries`]) so that promtool checks it.

use serde_json::{Value, json};

use super::promql::{BAD_STATUSES, Context, Subject};
use super::rules::{RATE_WINDOW, recorded};
use crate::callsite::Kind;
use crate::export::text_format::sanitize_metric_name;
use crate::metrics::{
    HEALTH_STATUS, MetricType, NODE_DURATION_SECONDS, NODE_RETRIES_TOTAL, NODE_RUNS_TOTAL, WORKFLOW_ACTIVE,
    WORKFLOW_BUDGET_EXCEEDED_TOTAL, WORKFLOW_RUNS_TOTAL, families,
};

/// A family the application records itself, through the `metrics` facade:
/// the dashboard gives it a panel (the rate of a counter, the p50/p95/p99 of
/// a histogram, the value of a gauge).
///
/// After `init`, every family described with `describe_counter!`,
/// `describe_gauge!` or `describe_histogram!` before the dashboard is
/// generated is one; [`Generator::app_family`](super::Generator::app_family)
/// adds one the application has not described yet (or before `init`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFamily {
    /// The metric name as recorded (`orders_total`).
    pub name: String,
    /// Counter, gauge or histogram.
    pub metric_type: MetricType,
    /// The help text, the panel's description.
    pub help: String,
}

/// `given`, then the installed recorder's described families not among them, sorted by name.
pub(crate) fn app_families(given: &[AppFamily]) -> Vec<AppFamily> {
    let mut families = given.to_vec();
    #[cfg(feature = "prometheus")]
    for (name, metric_type, help) in crate::export::recorder::application_families() {
        if !families.iter().any(|f| f.name == name) {
            families.push(AppFamily { name, metric_type, help });
        }
    }
    families.sort_by(|a, b| a.name.cmp(&b.name));
    families
}

/// The panels' datasource: the `datasource` variable.
fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// One query of a panel.
struct Query {
    expr: String,
    legend: String,
}

fn q(expr: String, legend: &str) -> Query {
    Query { expr, legend: legend.to_owned() }
}

/// Lays panels out left to right, 24 columns wide, a row header before each row.
struct Layout {
    panels: Vec<Value>,
    next_id: u64,
    x: u64,
    y: u64,
    line_height: u64,
}

impl Layout {
    fn row(&mut self, title: &str) {
        self.finish_line();
        let id = self.id();
        self.panels.push(json!({
            "id": id, "type": "row", "title": title, "collapsed": false, "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
        }));
        self.y += 1;
    }

    fn panel(&mut self, kind: &str, title: &str, unit: &str, width: u64, queries: Vec<Query>) {
        if self.x + width > 24 {
            self.finish_line();
        }
        let id = self.id();
        let targets: Vec<Value> = queries
            .iter()
            .enumerate()
            .map(|(i, query)| {
                let ref_id = ((b'A' + (i % 26) as u8) as char).to_string();
                let mut target = json!({"refId": ref_id, "datasource": datasource(), "expr": query.expr, "legendFormat": query.legend});
                if kind == "heatmap" {
                    target["format"] = json!("heatmap");
                }
                target
            })
            .collect();
        let height = 8;
        self.panels.push(json!({
            "id": id, "type": kind, "title": title, "datasource": datasource(),
            "gridPos": {"h": height, "w": width, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": targets,
        }));
        self.x += width;
        self.line_height = self.line_height.max(height);
    }

    fn finish_line(&mut self) {
        if self.x > 0 {
            self.y += self.line_height;
        }
        self.x = 0;
        self.line_height = 0;
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// The dashboard's JSON model.
pub(crate) fn dashboard(cx: &Context<'_>, app: &[AppFamily]) -> Value {
    let mut layout = Layout { panels: Vec::new(), next_id: 0, x: 0, y: 0, line_height: 0 };
    let kinds = cx.kinds();
    let window = cx.window(RATE_WINDOW);
    let rate = format!("rate{window}");
    let function = cx.selector(&[("function", "=~\"$function\"".to_owned())]);
    let workflow = cx.selector(&[("workflow", "=~\"$workflow\"".to_owned())]);

    layout.row("Overview");
    for kind in kinds.iter().copied().filter(|k| *k != Kind::Node) {
        let (sel, legend, word) = match kind {
            Kind::Workflow => (&workflow, "{{workflow}}", "workflow"),
            _ => (&function, "{{function}}", "function"),
        };
        layout.panel(
            "timeseries",
            &format!("Calls per second by {word}"),
            "reqps",
            8,
            vec![q(format!("{}{sel}", recorded(cx, kind, "calls", &rate)), legend)],
        );
        layout.panel(
            "timeseries",
            &format!("Error ratio by {word}"),
            "percentunit",
            8,
            vec![q(format!("{}{sel}", recorded(cx, kind, "error_ratio", &rate)), legend)],
        );
        let quantiles = ["p50", "p95", "p99"]
            .iter()
            .map(|p| {
                q(
                    format!("{}{sel}", recorded(cx, kind, "duration_seconds", &format!("{p}_{window}"))),
                    &format!("{legend} {p}"),
                )
            })
            .collect();
        layout.panel("timeseries", &format!("Latency p50/p95/p99 by {word}"), "s", 8, quantiles);
    }
    let with_objectives: Vec<Subject> = cx.subjects().into_iter().filter(|s| s.objective.is_some()).collect();
    if !with_objectives.is_empty() {
        let windows = &cx.settings.burn_windows;
        let shortest_long = windows.iter().map(|w| w.long).min().unwrap_or(std::time::Duration::from_secs(3600));
        let longest = windows.iter().map(|w| w.long).max().unwrap_or(std::time::Duration::from_secs(3600));
        let mut burn = Vec::new();
        let mut remaining = Vec::new();
        for subject in &with_objectives {
            let objective = subject.objective.expect("filtered");
            let budgets = [
                objective.success_percent().map(|p| ("success", 1.0 - p / 100.0)),
                objective.latency_threshold().map(|_| ("latency", 1.0 - objective.percentile_percent() / 100.0)),
            ];
            for (slo, budget) in budgets.into_iter().flatten() {
                let mut matchers = subject.matchers();
                matchers.push(("slo", format!("=\"{slo}\"")));
                let sel = cx.selector(&matchers);
                let ratio = |w| recorded(cx, subject.kind, "slo_errors", &format!("ratio_rate{}", cx.window(w)));
                let budget = super::promql::number(budget);
                let legend = format!("{} {slo}", subject.name);
                burn.push(q(format!("{}{sel} / {budget}", ratio(shortest_long)), &legend));
                remaining.push(q(format!("1 - {}{sel} / {budget}", ratio(longest)), &legend));
            }
        }
        layout.panel("timeseries", &format!("SLO burn rate ({})", cx.window(shortest_long)), "none", 12, burn);
        layout.panel("stat", &format!("Error budget remaining ({})", cx.window(longest)), "percentunit", 12, remaining);
    }

    if kinds.contains(&Kind::Workflow) {
        layout.row("Workflows");
        let runs = cx.metric(&WORKFLOW_RUNS_TOTAL);
        layout.panel(
            "timeseries",
            "Runs per second by status",
            "reqps",
            6,
            vec![q(format!("sum by (workflow, status) (rate({runs}{workflow}[{window}]))"), "{{workflow}} {{status}}")],
        );
        layout.panel(
            "timeseries",
            "Run duration p95",
            "s",
            6,
            vec![q(
                format!("{}{workflow}", recorded(cx, Kind::Workflow, "duration_seconds", &format!("p95_{window}"))),
                "{{workflow}}",
            )],
        );
        layout.panel(
            "timeseries",
            "Active runs",
            "short",
            6,
            vec![q(format!("sum by (workflow) ({}{workflow})", cx.metric(&WORKFLOW_ACTIVE)), "{{workflow}}")],
        );
        layout.panel(
            "timeseries",
            "Budget exceedances per second",
            "short",
            6,
            vec![q(
                format!(
                    "sum by (workflow, budget) (rate({}{workflow}[{window}]))",
                    cx.metric(&WORKFLOW_BUDGET_EXCEEDED_TOTAL)
                ),
                "{{workflow}} {{budget}}",
            )],
        );
    }
    if kinds.contains(&Kind::Node) {
        layout.row("Nodes");
        layout.panel(
            "heatmap",
            "Node duration",
            "s",
            8,
            vec![q(
                format!("sum by (le) (rate({}_bucket{workflow}[{window}]))", cx.metric(&NODE_DURATION_SECONDS)),
                "{{le}}",
            )],
        );
        layout.panel(
            "timeseries",
            "Retries per second by node",
            "short",
            8,
            vec![q(
                format!("sum by (workflow, node) (rate({}{workflow}[{window}]))", cx.metric(&NODE_RETRIES_TOTAL)),
                "{{workflow}}/{{node}}",
            )],
        );
        let bad =
            cx.selector(&[("workflow", "=~\"$workflow\"".to_owned()), ("status", format!("=~\"{BAD_STATUSES}\""))]);
        layout.panel(
            "timeseries",
            "Errors per second by node",
            "short",
            8,
            vec![q(
                format!("sum by (workflow, node, status) (rate({}{bad}[{window}]))", cx.metric(&NODE_RUNS_TOTAL)),
                "{{workflow}}/{{node}} {{status}}",
            )],
        );
    }
    layout.row("Health");
    layout.panel(
        "state-timeline",
        "Health checks (1 up, 0.5 degraded, 0 down)",
        "none",
        24,
        vec![q(format!("max by (check) ({}{})", cx.metric(&HEALTH_STATUS), cx.selector(&[])), "{{check}}")],
    );
    let process: Vec<_> = families().iter().filter(|f| f.suffix().starts_with("process_")).collect();
    if !process.is_empty() {
        layout.row("Process");
        for family in process {
            let expr = match family.metric_type() {
                crate::metrics::MetricType::Counter => {
                    format!("rate({}{}[{window}])", cx.metric(family), cx.selector(&[]))
                }
                _ => format!("{}{}", cx.metric(family), cx.selector(&[])),
            };
            layout.panel("timeseries", family.help(), "short", 8, vec![q(expr, "{{instance}}")]);
        }
    }

    if !app.is_empty() {
        layout.row("Application");
        for family in app {
            let name = sanitize_metric_name(&family.name);
            let sel = cx.selector(&[]);
            let queries = match family.metric_type {
                MetricType::Counter => vec![q(format!("sum without (instance) (rate({name}{sel}[{window}]))"), "")],
                MetricType::Histogram => [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")]
                    .into_iter()
                    .map(|(quantile, legend)| {
                        let buckets = format!("sum without (instance) (rate({name}_bucket{sel}[{window}]))");
                        q(format!("histogram_quantile({quantile}, {buckets})"), legend)
                    })
                    .collect(),
                _ => vec![q(format!("{name}{sel}"), "")],
            };
            layout.panel("timeseries", &name, "short", 8, queries);
            if let Some(panel) = layout.panels.last_mut() {
                panel["description"] = json!(family.help);
            }
        }
    }

    let variable = |name: &str, family: &crate::metrics::Family| {
        let query = format!("label_values({}{}, {name})", cx.metric(family), cx.selector(&[]));
        json!({
            "name": name, "label": name, "type": "query", "datasource": datasource(),
            "query": {"query": query, "refId": name}, "definition": query,
            "refresh": 2, "multi": true, "includeAll": true, "allValue": ".*", "current": {}, "sort": 1,
        })
    };
    let mut variables = vec![json!({
        "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
        "current": {}, "hide": 0, "refresh": 1,
    })];
    variables.push(variable("function", &crate::metrics::FUNCTION_CALLS_TOTAL));
    variables.push(variable("workflow", &WORKFLOW_RUNS_TOTAL));
    json!({
        "title": format!("obs: {}", cx.service),
        "uid": uid(cx.service),
        "tags": ["obs"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": layout.panels,
    })
}

/// A stable dashboard uid (at most 40 characters, Grafana's limit).
fn uid(service: &str) -> String {
    let clean: String = service.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    format!("obs-{clean}").chars().take(40).collect()
}

/// Every query of the dashboard as a recording rule (`obs_dashboard:panel<id>_<ref>`),
/// so that `promtool check rules` parses each one.
pub(crate) fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let (Some(expr), Some(id), Some(ref_id)) =
                (target["expr"].as_str(), panel["id"].as_u64(), target["refId"].as_str())
            {
                out.push((format!("obs_dashboard:panel{id}_{ref_id}"), expr.to_owned()));
            }
        }
    }
    out
}
