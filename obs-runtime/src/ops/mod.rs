//! From annotations to operations. An [`Objective`] in the annotation
//! (`#[observe(objective(success = 99.9, latency = "250ms"))]`), the catalog of
//! instrumented call sites and the metric-family table are all it takes to
//! generate what operators otherwise write by hand and let drift:
//!
//! * [`prometheus_rules`]: recording rules (calls per second, error ratio,
//!   p50/p95/p99 per function, workflow and node), multi-window burn-rate
//!   alerts for every objective, the standard alerts (failing workflows and
//!   nodes, p95 latency, a health check down, the target down, dropped spans
//!   and log lines, folded label values) and anomaly rules (z-score against a
//!   baseline). Every alert has `severity` (`page` or `ticket`) and `service`
//!   labels and `summary`, `description` and `runbook_url` annotations.
//! * [`alertmanager_config`]: routing by severity to PagerDuty, Slack, email
//!   and a webhook, with inhibition; secrets as `*_file` paths.
//! * [`grafana_dashboard`]: a dashboard JSON model, importable as is, and
//!   [`dashboard_queries`], its queries as a rule file for `promtool`.
//!
//! They are served on `/obs/rules.yml`, `/obs/alertmanager.yml` and
//! `/obs/dashboard.json`, and `OBS_OPS_WRITE=<dir>` makes `init` write them
//! into `<dir>` and exit the process with status 0 (for a build pipeline).
//! Before `init` they use the default settings and namespace; after, the
//! ones `init` was given ([`Builder::ops`](crate::Builder::ops)).
//!
//! ```
//! #[obs_runtime::observe(objective(success = 99.9))]
//! fn charge() {}
//!
//! let rules = obs_runtime::ops::prometheus_rules();
//! assert!(rules.contains("alert: \"ObsSloBurnRateFast\""));
//! ```

pub mod objective;
#[cfg(feature = "ops")]
pub(crate) mod settings;

#[cfg(feature = "ops")]
mod alertmanager;
#[cfg(feature = "ops")]
mod anomaly;
#[cfg(feature = "ops")]
mod dashboard;
#[cfg(feature = "ops")]
mod promql;
#[cfg(feature = "ops")]
mod rules;
#[cfg(feature = "ops")]
mod slo;
#[cfg(feature = "ops")]
mod yaml;

#[cfg(feature = "ops")]
pub use dashboard::AppFamily;
pub use objective::Objective;
#[cfg(feature = "ops")]
pub use settings::{BurnWindow, OpsSettings, Receivers, Severity};

#[cfg(feature = "ops")]
pub use generate::*;

#[cfg(feature = "ops")]
mod generate {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use super::promql::Context;
    use super::settings::OpsSettings;
    use super::yaml::{Yaml, map, s};
    use crate::callsite::{CallSite, catalog};

    /// What the artifacts are generated from: the settings and the names in effect.
    #[derive(Debug, Clone)]
    pub struct Generator {
        settings: OpsSettings,
        service: String,
        namespace: String,
        buckets: Vec<f64>,
        sites: Vec<&'static CallSite>,
        critical_checks: Option<Vec<String>>,
        app_families: Vec<super::dashboard::AppFamily>,
    }

    static INSTALLED: OnceLock<Generator> = OnceLock::new();

    /// The file names [`Generator::write_to`] writes, in order.
    pub const FILES: [&str; 4] = ["rules.yml", "dashboard-queries.yml", "alertmanager.yml", "dashboard.json"];

    impl Generator {
        /// A generator for `service` with these settings, the default
        /// namespace and buckets and every catalogued call site.
        pub fn new(service: impl Into<String>, settings: OpsSettings) -> Generator {
            let sites = catalog().to_vec();
            let buckets =
                crate::callsite::with_objective_bounds(crate::config::Builder::DEFAULT_BUCKETS.to_vec(), &sites);
            Generator {
                settings,
                service: service.into(),
                namespace: crate::metrics::DEFAULT_NAMESPACE.into(),
                buckets,
                sites,
                critical_checks: None,
                app_families: Vec::new(),
            }
        }

        /// The critical checks of a health group not registered yet (by default,
        /// those of the registered group, read when the rules are generated).
        #[cfg_attr(not(feature = "health"), allow(dead_code))]
        pub(crate) fn critical_checks(mut self, paths: Vec<String>) -> Generator {
            self.critical_checks = Some(paths);
            self
        }

        /// The generator `init` uses: its namespace and its buckets.
        pub(crate) fn configured(service: &str, namespace: &str, buckets: &[f64], settings: OpsSettings) -> Generator {
            let mut generator = Generator::new(service, settings);
            generator.namespace = namespace.to_owned();
            generator.buckets = buckets.to_vec();
            generator
        }

        /// Makes this the generator of [`prometheus_rules`] and the other free functions.
        pub(crate) fn install(self) -> &'static Generator {
            let _ = INSTALLED.set(self);
            INSTALLED.get().expect("set above")
        }

        /// Only the call sites `keep` accepts (by default every catalogued one).
        pub fn filter_sites(mut self, keep: impl Fn(&CallSite) -> bool) -> Generator {
            self.sites.retain(|site| keep(site));
            self
        }

        /// A family the application records through the `metrics` facade, for
        /// the dashboard's application row (after `init`, the families described
        /// with `describe_*!` are there without this).
        pub fn app_family(
            mut self,
            name: impl Into<String>,
            metric_type: crate::metrics::MetricType,
            help: impl Into<String>,
        ) -> Generator {
            let family = super::dashboard::AppFamily { name: name.into(), metric_type, help: help.into() };
            self.app_families.push(family);
            self
        }

        fn dashboard(&self) -> serde_json::Value {
            super::dashboard::dashboard(&self.context(), &super::dashboard::app_families(&self.app_families))
        }

        fn context(&self) -> Context<'_> {
            Context {
                settings: &self.settings,
                namespace: &self.namespace,
                service: &self.service,
                buckets: &self.buckets,
                sites: &self.sites,
                critical_checks: self.critical_checks.as_deref(),
            }
        }

        /// The Prometheus rule file: recording, objective, standard and anomaly groups.
        pub fn prometheus_rules(&self) -> String {
            let cx = self.context();
            let mut groups = super::rules::recording_groups(&cx);
            groups.extend(super::slo::groups(&cx));
            groups.push(super::rules::standard_group(&cx));
            groups.extend(super::anomaly::group_for(&cx));
            map([("groups", Yaml::List(groups))]).to_document()
        }

        /// The Alertmanager configuration template.
        pub fn alertmanager_config(&self) -> String {
            super::alertmanager::config(&self.settings).to_document()
        }

        /// The Grafana dashboard JSON model.
        pub fn grafana_dashboard(&self) -> String {
            serde_json::to_string_pretty(&self.dashboard()).unwrap_or_default()
        }

        /// Every query of the dashboard as a recording rule, for `promtool check rules`.
        pub fn dashboard_queries(&self) -> String {
            let rules = super::dashboard::queries(&self.dashboard())
                .into_iter()
                .map(|(record, expr)| map([("record", s(record)), ("expr", s(expr))]))
                .collect();
            let group =
                map([("name", s(format!("obs-{}-dashboard-queries", self.service))), ("rules", Yaml::List(rules))]);
            map([("groups", Yaml::List(vec![group]))]).to_document()
        }

        /// Writes every artifact into `dir` (created if missing); returns the paths, as in [`FILES`].
        pub fn write_to(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
            std::fs::create_dir_all(dir)?;
            let contents = [
                self.prometheus_rules(),
                self.dashboard_queries(),
                self.alertmanager_config(),
                self.grafana_dashboard(),
            ];
            FILES
                .iter()
                .zip(contents)
                .map(|(name, text)| {
                    let path = dir.join(name);
                    std::fs::write(&path, text).map(|()| path)
                })
                .collect()
        }
    }

    /// The generator `init` installed, or one with the default settings
    /// (service named after the executable) before `init`.
    pub fn generator() -> Generator {
        INSTALLED.get().cloned().unwrap_or_else(|| {
            let service = crate::config::Builder::default().resolved_service_name();
            Generator::new(service, OpsSettings::default())
        })
    }

    /// The Prometheus rule file for the catalogued functions, workflows and nodes.
    pub fn prometheus_rules() -> String {
        generator().prometheus_rules()
    }

    /// The Alertmanager configuration template.
    pub fn alertmanager_config() -> String {
        generator().alertmanager_config()
    }

    /// The Grafana dashboard JSON model.
    pub fn grafana_dashboard() -> String {
        generator().grafana_dashboard()
    }

    /// The dashboard's queries as a rule file (for `promtool check rules`).
    pub fn dashboard_queries() -> String {
        generator().dashboard_queries()
    }
}
