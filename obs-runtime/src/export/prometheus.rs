//! The Prometheus exporter: obs's recorder (`recorder.rs`) as the global
//! `metrics` recorder, and `GET /metrics`; and the one function that renders
//! it: the recorder's counters and gauges, its histograms, then the function
//! metrics obs keeps itself. Every histogram counts into buckets as it
//! records, so nothing needs draining between scrapes and no thread runs.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::recorder::{Histograms, ObsRecorder};
use super::seam::{Configured, Exporter, Settings, StartContext};
use super::text_format::{escape_help, escape_label_value, sanitize_label_name, sanitize_metric_name};
use crate::init_error::InitError;
use crate::kind::Kind;
use crate::metrics::store::{self, Families, Totals};
use crate::metrics::{
    FUNCTION_CALLS_TOTAL, FUNCTION_DURATION_SECONDS, FUNCTION_IN_FLIGHT, FUNCTION_POLL_SECONDS,
    FUNCTION_SLOW_POLLS_TOTAL, Family, RuntimeSamples, Status,
};
use crate::metrics::{callback, poll, process};

/// The recorder with real histograms (the given bucket bounds), when
/// [`Builder::prometheus`](crate::Builder::prometheus) is on (the default).
pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    if !settings.prometheus {
        return Ok(None);
    }
    let inner = PrometheusBuilder::new().build_recorder();
    let handle = inner.handle();
    let recorder = ObsRecorder::new(inner, &settings.buckets);
    let view = View { handle, histograms: recorder.histograms() };
    let process_metrics = settings.process_metrics;
    Ok(Some(Box::new(Recorder { view, recorder: Some(recorder), process_metrics })))
}

/// What a scrape reads.
#[derive(Clone)]
struct View {
    handle: PrometheusHandle,
    histograms: Arc<Histograms>,
}

struct Recorder {
    view: View,
    recorder: Option<ObsRecorder>,
    process_metrics: bool,
}

impl Configured for Recorder {
    fn install(&mut self) -> Result<(), InitError> {
        match self.recorder.take() {
            Some(recorder) => {
                metrics::set_global_recorder(recorder).map_err(|_| InitError::RecorderAlreadySet)?;
                PROCESS_METRICS.store(self.process_metrics, Ordering::Relaxed);
                Ok(())
            }
            None => Ok(()),
        }
    }

    // With obs's own exporter, obs keeps and renders the function metrics itself.
    fn reads_function_store(&self) -> bool {
        true
    }

    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        #[cfg(feature = "http")]
        {
            let view = self.view.clone();
            cx.serve(&["/metrics"], move |router| {
                router.route(
                    "/metrics",
                    axum::routing::get(move || {
                        let view = view.clone();
                        async move {
                            (
                                [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                                render(&view),
                            )
                        }
                    }),
                )
            });
            cx.serve(&["/obs/hotspots"], super::hotspots::routes);
        }
        let view = self.view;
        cx.metrics_text = Some(std::sync::Arc::new(move || render(&view)));
        Ok(Box::new(Scraped))
    }
}

/// The running exporter: nothing runs (scrapes are served by the HTTP server).
struct Scraped;

impl Exporter for Scraped {
    fn shutdown_limit(&self) -> Duration {
        Duration::ZERO
    }

    fn shutdown(self: Box<Self>, _deadline: Instant) {}
}

/// Everything `/metrics` serves, in the Prometheus text format: the counters
/// and gauges that went through the `metrics` facade, its histograms, then
/// the function families from obs's store, the process and the runtime.
fn render(view: &View) -> String {
    let mut text = view.handle.render();
    view.histograms.render(&mut text);
    if let Some((families, mut series)) = store::snapshot() {
        // Workflows and nodes keep series for /obs/hotspots; /metrics has their own families.
        series.retain(|totals| totals.kind == Kind::Function);
        write_function_families(&mut text, families, &series);
        write_poll_families(&mut text, &families.bounds, &poll::snapshot());
    }
    if PROCESS_METRICS.load(Ordering::Relaxed) {
        write_process_families(&mut text, &process::read());
    }
    write_runtime_families(&mut text, &crate::metrics::read_runtime());
    write_callback_gauges(&mut text, &callback::read());
    text
}

/// The application's callback gauges (`metrics::gauge_fn`), evaluated now:
/// `# TYPE` once per name, one sample per label set whose callback returned.
fn write_callback_gauges(out: &mut String, samples: &[callback::Sample]) {
    let mut last: Option<&str> = None;
    for sample in samples {
        let Some(value) = sample.value else { continue };
        let name = sanitize_metric_name(&sample.name);
        if last != Some(sample.name.as_str()) {
            if last.is_some() {
                out.push('\n');
            }
            if let Some(help) = &sample.help {
                let _ = write!(out, "# HELP {name} ");
                escape_help(out, help);
                out.push('\n');
            }
            let _ = writeln!(out, "# TYPE {name} gauge");
            last = Some(&sample.name);
        }
        out.push_str(&name);
        if !sample.labels.is_empty() {
            out.push('{');
            for (i, (label, text)) in sample.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}=\"", sanitize_label_name(label));
                escape_label_value(out, text);
                out.push('"');
            }
            out.push('}');
        }
        let _ = match value {
            v if v.is_nan() => writeln!(out, " NaN"),
            v if v.is_infinite() => writeln!(out, " {}Inf", if v > 0.0 { '+' } else { '-' }),
            v => writeln!(out, " {v}"),
        };
    }
    if last.is_some() {
        out.push('\n');
    }
}

/// The watched tokio runtime's families: one sample, or one per `worker`.
fn write_runtime_families(out: &mut String, families: &[(&'static Family, RuntimeSamples)]) {
    for (family, samples) in families {
        let name = sanitize_metric_name(&family.name());
        let _ = write!(out, "# HELP {name} {}\n# TYPE {name} {}\n", family.help(), family.metric_type());
        match samples {
            RuntimeSamples::Single(value) => {
                let _ = writeln!(out, "{name} {value}");
            }
            RuntimeSamples::PerWorker(values) => {
                for (worker, value) in values.iter().enumerate() {
                    let _ = writeln!(out, "{name}{{worker=\"{worker}\"}} {value}");
                }
            }
        }
        out.push('\n');
    }
}

/// Whether `/metrics` shows the process families ([`Builder::process_metrics`](crate::Builder::process_metrics)).
static PROCESS_METRICS: AtomicBool = AtomicBool::new(false);

/// One sample per process family, each with its `# HELP` and `# TYPE` lines.
fn write_process_families(out: &mut String, values: &[(&'static Family, f64)]) {
    for (family, value) in values {
        let name = family.name();
        let _ =
            write!(out, "# HELP {name} {}\n# TYPE {name} {}\n{name} {value}\n\n", family.help(), family.metric_type());
    }
}

/// Writes the calls counter, the duration histogram and the in-flight gauge,
/// each with its `# HELP` and `# TYPE` lines once.
fn write_function_families(out: &mut String, families: &Families, series: &[Totals]) {
    if series.is_empty() {
        return;
    }
    let header = |out: &mut String, name: &str, family: &Family| {
        let name = sanitize_metric_name(name);
        let _ = write!(out, "# HELP {name} {}\n# TYPE {name} {}\n", family.help(), family.metric_type());
        name
    };

    let name = header(out, &families.calls, &FUNCTION_CALLS_TOTAL);
    for totals in series {
        for (status, count) in Status::FUNCTION.iter().zip(totals.calls) {
            function_labels(out, &name, (totals.function, totals.module, totals.labels));
            let _ = writeln!(out, ",status=\"{}\"}} {count}", status.as_str());
        }
    }
    out.push('\n');

    let name = header(out, &families.duration, &FUNCTION_DURATION_SECONDS);
    for totals in series {
        write_histogram(
            out,
            &name,
            (totals.function, totals.module, totals.labels),
            &families.bounds,
            &totals.buckets,
            totals.sum_seconds,
        );
    }
    out.push('\n');

    let name = header(out, &families.in_flight, &FUNCTION_IN_FLIGHT);
    for totals in series {
        function_labels(out, &name, (totals.function, totals.module, totals.labels));
        let _ = writeln!(out, "}} {}", totals.in_flight);
    }
    out.push('\n');
}

/// The poll-time histogram and the slow-poll counter of every async function called so far.
fn write_poll_families(out: &mut String, bounds: &[f64], series: &[poll::PollTotals]) {
    if series.is_empty() {
        return;
    }
    let name = sanitize_metric_name(&FUNCTION_POLL_SECONDS.name());
    let _ = write!(out, "# HELP {name} {}\n# TYPE {name} histogram\n", FUNCTION_POLL_SECONDS.help());
    for totals in series {
        write_histogram(out, &name, (totals.function, totals.module, &[]), bounds, &totals.buckets, totals.sum_seconds);
    }
    out.push('\n');
    let name = sanitize_metric_name(&FUNCTION_SLOW_POLLS_TOTAL.name());
    let _ = write!(out, "# HELP {name} {}\n# TYPE {name} counter\n", FUNCTION_SLOW_POLLS_TOTAL.help());
    for totals in series {
        function_labels(out, &name, (totals.function, totals.module, &[]));
        let _ = writeln!(out, "}} {}", totals.slow);
    }
    out.push('\n');
}

/// `name{function="…",module="…"`, left open for more labels.
fn function_labels(out: &mut String, name: &str, series: Series<'_>) {
    let (function, module, labels) = series;
    out.push_str(name);
    out.push_str("{function=\"");
    escape_label_value(out, function);
    out.push_str("\",module=\"");
    escape_label_value(out, module);
    out.push('"');
    // `labels(...)` of the function, after the two every series has.
    for (label, value) in labels {
        let _ = write!(out, ",{label}=\"");
        escape_label_value(out, value);
        out.push('"');
    }
}

/// The labels of one function series: function, module, and its `labels(...)` pairs.
type Series<'a> = (&'a str, &'a str, &'a [(&'static str, &'static str)]);

/// One histogram series: cumulative `_bucket` lines from per-bucket counts, then `_sum` and `_count`.
fn write_histogram(out: &mut String, name: &str, labels: Series<'_>, bounds: &[f64], buckets: &[u64], sum: f64) {
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0;
    let les = bounds.iter().map(Some).chain([None]);
    for (le, count) in les.zip(buckets) {
        cumulative += count;
        function_labels(out, &bucket, labels);
        match le {
            Some(le) => {
                let _ = writeln!(out, ",le=\"{le}\"}} {cumulative}");
            }
            None => {
                let _ = writeln!(out, ",le=\"+Inf\"}} {cumulative}");
            }
        }
    }
    function_labels(out, &format!("{name}_sum"), labels);
    let _ = writeln!(out, "}} {sum}");
    function_labels(out, &format!("{name}_count"), labels);
    let _ = writeln!(out, "}} {cumulative}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_families_are_a_real_histogram_with_cumulative_buckets() {
        let families = Families {
            calls: "obs_function_calls_total".into(),
            duration: "obs_function_duration_seconds".into(),
            in_flight: "obs_function_in_flight".into(),
            bounds: vec![0.001, 0.5],
        };
        let series = [Totals {
            function: "say \"hi\"",
            module: "app",
            labels: &[],
            kind: Kind::Function,
            calls: [3, 1, 0, 0],
            buckets: vec![2, 1, 1],
            sum_seconds: 2.25,
            in_flight: 1,
        }];
        let mut out = String::new();
        write_function_families(&mut out, &families, &series);
        let labels = r#"function="say \"hi\"",module="app""#;
        for line in [
            "# TYPE obs_function_calls_total counter".to_owned(),
            format!("obs_function_calls_total{{{labels},status=\"ok\"}} 3"),
            format!("obs_function_calls_total{{{labels},status=\"cancelled\"}} 0"),
            "# TYPE obs_function_duration_seconds histogram".to_owned(),
            format!("obs_function_duration_seconds_bucket{{{labels},le=\"0.001\"}} 2"),
            format!("obs_function_duration_seconds_bucket{{{labels},le=\"0.5\"}} 3"),
            format!("obs_function_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 4"),
            format!("obs_function_duration_seconds_sum{{{labels}}} 2.25"),
            format!("obs_function_duration_seconds_count{{{labels}}} 4"),
            "# HELP obs_function_in_flight Calls of instrumented functions currently running.".to_owned(),
            format!("obs_function_in_flight{{{labels}}} 1"),
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in:\n{out}");
        }
        assert_eq!(out.matches("# HELP").count(), 3);
        assert_eq!(out.matches("# TYPE").count(), 3);
    }
}
