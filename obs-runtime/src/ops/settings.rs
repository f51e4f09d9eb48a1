//! What the generated artifacts are configured with: the scrape job, the
//! runbook link, the burn-rate windows, the thresholds of the standard and
//! anomaly alerts and the Alertmanager receivers. Plain data with defaults;
//! [`crate::Builder::ops`] hands one to `init`.

use std::time::Duration;

/// One multi-window burn-rate condition (Google SRE workbook, chapter 5): the
/// alert fires when the error ratio over both `long` and `short` windows is
/// above `factor` times the error budget, for `for_` at least.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnWindow {
    /// `page` or `ticket`: the alert's `severity` label.
    pub severity: Severity,
    pub long: Duration,
    pub short: Duration,
    /// How many times faster than sustainable the budget burns (14.4 spends 2 % of a 30-day budget in an hour).
    pub factor: f64,
}

/// The `severity` label of every generated alert, which the Alertmanager template routes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Someone must act now (PagerDuty).
    Page,
    /// Someone must act within the day (email, a ticket).
    Ticket,
}

impl Severity {
    /// The label value: `page` or `ticket`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// Settings of the generated rules, dashboard and Alertmanager template.
///
/// ```
/// use std::time::Duration;
/// use obs_runtime::ops::OpsSettings;
///
/// let settings = OpsSettings::default()
///     .job("checkout")
///     .runbook_url("https://runbooks.example/{alert}")
///     .latency_p95_threshold(Duration::from_millis(500));
/// assert_eq!(settings.windows().len(), 4);
/// ```
#[derive(Debug, Clone)]
pub struct OpsSettings {
    pub(crate) job: Option<String>,
    pub(crate) runbook_url: String,
    pub(crate) burn_windows: Vec<BurnWindow>,
    pub(crate) page_for: Duration,
    pub(crate) ticket_for: Duration,
    pub(crate) time_scale: f64,
    pub(crate) workflow_failure_ratio: f64,
    pub(crate) node_error_ratio: f64,
    pub(crate) latency_p95: Duration,
    pub(crate) anomaly_window: Duration,
    pub(crate) anomaly_offset: Duration,
    pub(crate) anomaly_z: f64,
    pub(crate) anomaly_for: Duration,
    pub(crate) receivers: Receivers,
}

/// Where the Alertmanager template sends alerts. Secrets are never written
/// into the configuration: each is the path of a file Alertmanager reads.
#[derive(Debug, Clone)]
pub struct Receivers {
    pub(crate) email_to: String,
    pub(crate) email_from: String,
    pub(crate) smarthost: String,
    pub(crate) email_password_file: String,
    pub(crate) slack_api_url_file: String,
    pub(crate) slack_channel: String,
    pub(crate) pagerduty_routing_key_file: String,
    pub(crate) webhook_url: String,
    pub(crate) group_wait: Duration,
    pub(crate) group_interval: Duration,
    pub(crate) repeat_interval: Duration,
}

impl Default for Receivers {
    fn default() -> Self {
        Receivers {
            email_to: "oncall@example.com".into(),
            email_from: "alertmanager@example.com".into(),
            smarthost: "smtp.example.com:587".into(),
            email_password_file: "/etc/alertmanager/secrets/smtp_password".into(),
            slack_api_url_file: "/etc/alertmanager/secrets/slack_api_url".into(),
            slack_channel: "#alerts".into(),
            pagerduty_routing_key_file: "/etc/alertmanager/secrets/pagerduty_routing_key".into(),
            webhook_url: "http://127.0.0.1:5001/alerts".into(),
            group_wait: Duration::from_secs(10),
            group_interval: Duration::from_secs(10),
            repeat_interval: Duration::from_secs(3600),
        }
    }
}

impl Receivers {
    /// Email: the address alerts go to, the sender and the SMTP `host:port`.
    pub fn email(mut self, to: impl Into<String>, from: impl Into<String>, smarthost: impl Into<String>) -> Self {
        self.email_to = to.into();
        self.email_from = from.into();
        self.smarthost = smarthost.into();
        self
    }

    /// The file holding the SMTP password (`auth_password_file`).
    pub fn email_password_file(mut self, path: impl Into<String>) -> Self {
        self.email_password_file = path.into();
        self
    }

    /// The file holding the Slack incoming-webhook URL (`api_url_file`), and the channel.
    pub fn slack(mut self, api_url_file: impl Into<String>, channel: impl Into<String>) -> Self {
        self.slack_api_url_file = api_url_file.into();
        self.slack_channel = channel.into();
        self
    }

    /// The file holding the PagerDuty Events v2 routing key (`routing_key_file`).
    pub fn pagerduty_routing_key_file(mut self, path: impl Into<String>) -> Self {
        self.pagerduty_routing_key_file = path.into();
        self
    }

    /// The generic webhook every alert is also sent to.
    pub fn webhook(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = url.into();
        self
    }

    /// `group_wait`, `group_interval` and `repeat_interval` (default 10 s, 10 s, 1 h).
    pub fn timing(mut self, group_wait: Duration, group_interval: Duration, repeat_interval: Duration) -> Self {
        self.group_wait = group_wait;
        self.group_interval = group_interval;
        self.repeat_interval = repeat_interval;
        self
    }
}

impl Default for OpsSettings {
    fn default() -> Self {
        const HOUR: u64 = 3600;
        let window = |severity, long, short, factor| BurnWindow {
            severity,
            long: Duration::from_secs(long),
            short: Duration::from_secs(short),
            factor,
        };
        OpsSettings {
            job: None,
            runbook_url: "https://runbooks.example/{alert}".into(),
            burn_windows: vec![
                window(Severity::Page, HOUR, 5 * 60, 14.4),
                window(Severity::Page, 6 * HOUR, 30 * 60, 6.0),
                window(Severity::Ticket, 24 * HOUR, 2 * HOUR, 3.0),
                window(Severity::Ticket, 72 * HOUR, 6 * HOUR, 1.0),
            ],
            page_for: Duration::from_secs(2 * 60),
            ticket_for: Duration::from_secs(HOUR),
            time_scale: 1.0,
            workflow_failure_ratio: 0.05,
            node_error_ratio: 0.10,
            latency_p95: Duration::from_secs(1),
            anomaly_window: Duration::from_secs(24 * HOUR),
            anomaly_offset: Duration::from_secs(HOUR),
            anomaly_z: 3.0,
            anomaly_for: Duration::from_secs(10 * 60),
            receivers: Receivers::default(),
        }
    }
}

impl OpsSettings {
    /// The Prometheus scrape job of this service: every generated expression
    /// selects `job="<job>"` (default: the service name).
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// The `runbook_url` annotation of every alert; `{alert}` is replaced by
    /// the alert's name (default `https://runbooks.example/{alert}`).
    pub fn runbook_url(mut self, template: impl Into<String>) -> Self {
        self.runbook_url = template.into();
        self
    }

    /// Replaces the burn-rate windows (default: page on 1h/5m at 14.4× or 6h/30m
    /// at 6×, ticket on 1d/2h at 3× or 3d/6h at 1×).
    pub fn burn_windows(mut self, windows: Vec<BurnWindow>) -> Self {
        self.burn_windows = windows;
        self
    }

    /// The `for` of the page burn alert (default 2m) and of the ticket one
    /// (default 1h: a ticket is for a sustained burn, not a burst a page already covers).
    pub fn burn_for(mut self, page: Duration, ticket: Duration) -> Self {
        self.page_for = page;
        self.ticket_for = ticket;
        self
    }

    /// Multiplies every window, `for` period and offset of the generated rules
    /// by `scale` (default 1). For tests and demonstrations only: `1.0 / 60.0`
    /// turns the 1h/5m pair into 1m/5s, so an alert fires in seconds. The
    /// formulas and factors stay the same; keep the scrape interval well under
    /// the shortest scaled window.
    pub fn time_scale(mut self, scale: f64) -> Self {
        if scale.is_finite() && scale > 0.0 {
            self.time_scale = scale;
        }
        self
    }

    /// Thresholds of the standard alerts: the share of failed workflow runs
    /// (default 0.05), of failed node executions (default 0.10) and the p95
    /// latency of a function or workflow (default 1 s).
    pub fn workflow_failure_ratio(mut self, ratio: f64) -> Self {
        self.workflow_failure_ratio = ratio;
        self
    }

    /// See [`workflow_failure_ratio`](Self::workflow_failure_ratio).
    pub fn node_error_ratio(mut self, ratio: f64) -> Self {
        self.node_error_ratio = ratio;
        self
    }

    /// See [`workflow_failure_ratio`](Self::workflow_failure_ratio).
    pub fn latency_p95_threshold(mut self, threshold: Duration) -> Self {
        self.latency_p95 = threshold;
        self
    }

    /// Anomaly rules: the baseline window (default 1d), how far back it ends
    /// (default 1h, so that an anomaly does not move its own baseline), how
    /// many standard deviations count as anomalous (default 3) and for how
    /// long (default 10m).
    pub fn anomaly(mut self, window: Duration, offset: Duration, z: f64, for_: Duration) -> Self {
        self.anomaly_window = window;
        self.anomaly_offset = offset;
        self.anomaly_z = z;
        self.anomaly_for = for_;
        self
    }

    /// Where the Alertmanager template sends alerts.
    pub fn receivers(mut self, receivers: Receivers) -> Self {
        self.receivers = receivers;
        self
    }

    /// The burn-rate windows in effect.
    pub fn windows(&self) -> &[BurnWindow] {
        &self.burn_windows
    }

    /// A duration of the rules, scaled by [`time_scale`](Self::time_scale).
    pub(crate) fn scaled(&self, duration: Duration) -> Duration {
        Duration::from_secs_f64(duration.as_secs_f64() * self.time_scale)
    }
}
