//! The Prometheus exporter: obs's recorder (`recorder.rs`) as the global
//! `metrics` recorder, and `GET /metrics`; and the one function that renders
//! it, in the format the scraper asks for (`text_format.rs`): the recorder's
//! counters, gauges and histograms, then the function metrics obs keeps
//! itself (with their exemplars, in OpenMetrics), the process and the tokio
//! runtime. Every histogram counts into buckets as it records, so nothing
//! needs draining between scrapes and no thread runs.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::recorder::{FacadeMetrics, ObsRecorder, SeriesLimit};
use super::seam::{Configured, Exporter, Settings, StartContext};
use super::series_labels::{ConstLabels, write_target_info};
use super::text_format::{TextFormat, escape_label_value, sanitize_label_name, sanitize_metric_name, write_value};
use crate::init_error::InitError;
use crate::kind::Kind;
use crate::metrics::exemplar::{self, Exemplar};
use crate::metrics::store::{self, Families, Totals};
use crate::metrics::{
    FUNCTION_CALLS_TOTAL, FUNCTION_DURATION_SECONDS, FUNCTION_IN_FLIGHT, FUNCTION_POLL_SECONDS,
    FUNCTION_SLOW_POLLS_TOTAL, Family, MetricType, RuntimeSamples, Status,
};
use crate::metrics::{callback, poll, process};

/// The recorder with real histograms (the given bucket bounds), when
/// [`Builder::prometheus`](crate::Builder::prometheus) is on (the default).
pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    // Checked even when the recorder is off, so a mistake shows up at once.
    let const_labels = ConstLabels::resolve(&settings.const_labels)?;
    if !settings.prometheus {
        return Ok(None);
    }
    let limit = SeriesLimit::new(settings.max_series, &settings.namespace);
    let recorder = ObsRecorder::new(&settings.buckets, limit);
    let view = View {
        facade: recorder.facade(),
        const_labels: Arc::new(const_labels),
        resource: Arc::new(settings.resource.clone()),
    };
    let process_metrics = settings.process_metrics;
    Ok(Some(Box::new(Recorder { view, recorder: Some(recorder), process_metrics })))
}

/// What a scrape reads.
#[derive(Clone)]
struct View {
    facade: Arc<FacadeMetrics>,
    const_labels: Arc<ConstLabels>,
    resource: Arc<Vec<(String, String)>>,
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
                super::recorder::publish(self.view.facade.clone());
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
                    axum::routing::get(move |headers: axum::http::HeaderMap| {
                        let view = view.clone();
                        async move {
                            let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok());
                            let format = TextFormat::negotiate(accept);
                            ([(axum::http::header::CONTENT_TYPE, format.content_type())], render(&view, format))
                        }
                    }),
                )
            });
            cx.serve(&["/obs/hotspots"], super::hotspots::routes);
        }
        cx.const_labels = self.view.const_labels.shown().to_owned();
        let view = self.view;
        cx.metrics_text = Some(std::sync::Arc::new(move |format| render(&view, format)));
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

/// Everything `/metrics` serves, in `format`: `target_info`, the counters,
/// gauges and histograms that went through the `metrics` facade, then the
/// function families from obs's store, the process and the runtime, every
/// sample with the constant labels. An OpenMetrics rendering shows the
/// exemplars taken so far and starts the next interval.
fn render(view: &View, format: TextFormat) -> String {
    let mut text = String::new();
    write_target_info(&mut text, format, &view.resource);
    view.facade.render(&mut text, format);
    if let Some((families, mut series)) = store::snapshot() {
        // Workflows and nodes keep series for /obs/hotspots; /metrics has their own families.
        series.retain(|totals| totals.kind == Kind::Function);
        write_function_families(&mut text, format, families, &series);
        write_poll_families(&mut text, format, &families.bounds, &poll::snapshot());
    }
    if format == TextFormat::OpenMetrics {
        exemplar::next_interval();
    }
    if PROCESS_METRICS.load(Ordering::Relaxed) {
        write_process_families(&mut text, format, &process::read());
    }
    write_runtime_families(&mut text, format, &crate::metrics::read_runtime());
    write_callback_gauges(&mut text, format, &callback::read());
    format.finish(&mut text);
    view.const_labels.apply(text)
}

/// `# HELP` and `# TYPE` of one of obs's families, under the name given; the samples' name.
fn header(out: &mut String, format: TextFormat, name: &str, family: &Family) -> String {
    format.family(out, &sanitize_metric_name(name), family.metric_type(), Some(family.help()))
}

/// The application's callback gauges (`metrics::gauge_fn`), evaluated now:
/// `# TYPE` once per name, one sample per label set whose callback returned.
fn write_callback_gauges(out: &mut String, format: TextFormat, samples: &[callback::Sample]) {
    let mut last: Option<&str> = None;
    for sample in samples {
        let Some(value) = sample.value else { continue };
        let name = sanitize_metric_name(&sample.name);
        if last != Some(sample.name.as_str()) {
            format.family(out, &name, MetricType::Gauge, sample.help.as_deref());
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
        out.push(' ');
        write_value(out, value);
        out.push('\n');
    }
}

/// The watched tokio runtime's families: one sample, or one per `worker`.
fn write_runtime_families(out: &mut String, format: TextFormat, families: &[(&'static Family, RuntimeSamples)]) {
    for (family, samples) in families {
        let name = header(out, format, &family.name(), family);
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
    }
}

/// Whether `/metrics` shows the process families ([`Builder::process_metrics`](crate::Builder::process_metrics)).
static PROCESS_METRICS: AtomicBool = AtomicBool::new(false);

/// One sample per process family, each with its `# HELP` and `# TYPE` lines.
fn write_process_families(out: &mut String, format: TextFormat, values: &[(&'static Family, f64)]) {
    for (family, value) in values {
        let name = header(out, format, &family.name(), family);
        let _ = write!(out, "{name} ");
        write_value(out, *value);
        out.push('\n');
    }
}

/// Writes the calls counter, the duration histogram and the in-flight gauge,
/// each with its `# HELP` and `# TYPE` lines once, and in OpenMetrics the
/// exemplars of the counters and buckets.
fn write_function_families(out: &mut String, format: TextFormat, families: &Families, series: &[Totals]) {
    if series.is_empty() {
        return;
    }
    let name = header(out, format, &families.calls, &FUNCTION_CALLS_TOTAL);
    for totals in series {
        for ((status, count), exemplar) in Status::FUNCTION.iter().zip(totals.calls).zip(&totals.call_exemplars) {
            function_labels(out, &name, (totals.function, totals.module, totals.labels));
            let _ = write!(out, ",status=\"{}\"}} {count}", status.as_str());
            format.exemplar(out, exemplar.as_ref());
            out.push('\n');
        }
    }

    let name = header(out, format, &families.duration, &FUNCTION_DURATION_SECONDS);
    for totals in series {
        let histogram = HistogramSeries {
            labels: (totals.function, totals.module, totals.labels),
            bounds: &families.bounds,
            buckets: &totals.buckets,
            exemplars: &totals.bucket_exemplars,
            sum: totals.sum_seconds,
        };
        histogram.write(out, format, &name);
    }

    let name = header(out, format, &families.in_flight, &FUNCTION_IN_FLIGHT);
    for totals in series {
        function_labels(out, &name, (totals.function, totals.module, totals.labels));
        let _ = writeln!(out, "}} {}", totals.in_flight);
    }
}

/// The poll-time histogram and the slow-poll counter of every async function called so far.
fn write_poll_families(out: &mut String, format: TextFormat, bounds: &[f64], series: &[poll::PollTotals]) {
    if series.is_empty() {
        return;
    }
    let name = header(out, format, &FUNCTION_POLL_SECONDS.name(), &FUNCTION_POLL_SECONDS);
    for totals in series {
        let histogram = HistogramSeries {
            labels: (totals.function, totals.module, &[]),
            bounds,
            buckets: &totals.buckets,
            exemplars: &[],
            sum: totals.sum_seconds,
        };
        histogram.write(out, format, &name);
    }
    let name = header(out, format, &FUNCTION_SLOW_POLLS_TOTAL.name(), &FUNCTION_SLOW_POLLS_TOTAL);
    for totals in series {
        function_labels(out, &name, (totals.function, totals.module, &[]));
        let _ = writeln!(out, "}} {}", totals.slow);
    }
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

/// One histogram series of a function.
struct HistogramSeries<'a> {
    labels: Series<'a>,
    /// Upper bounds, without `+Inf`.
    bounds: &'a [f64],
    /// Per-bucket counts (not cumulative), `+Inf` last.
    buckets: &'a [u64],
    /// Each bucket's exemplar, when it has one (empty: none).
    exemplars: &'a [Option<Exemplar>],
    sum: f64,
}

impl HistogramSeries<'_> {
    /// Cumulative `_bucket` lines, then `_sum` and `_count`.
    fn write(&self, out: &mut String, format: TextFormat, name: &str) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        let les = self.bounds.iter().map(Some).chain([None]);
        for (i, (le, count)) in les.zip(self.buckets).enumerate() {
            cumulative += count;
            function_labels(out, &bucket, self.labels);
            match le {
                Some(le) => {
                    let _ = write!(out, ",le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = write!(out, ",le=\"+Inf\"}} {cumulative}");
                }
            }
            format.exemplar(out, self.exemplars.get(i).and_then(Option::as_ref));
            out.push('\n');
        }
        function_labels(out, &format!("{name}_sum"), self.labels);
        out.push_str("} ");
        write_value(out, self.sum);
        out.push('\n');
        function_labels(out, &format!("{name}_count"), self.labels);
        let _ = writeln!(out, "}} {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEMPLAR: Exemplar = Exemplar {
        trace_id: 0x0af7651916cd43dd8448eb211c80319c,
        span_id: 0xb7ad6b7169203331,
        value: 0.25,
        unix_nanos: 1_700_000_000_123_000_000,
    };

    fn families() -> Families {
        Families {
            calls: "obs_function_calls_total".into(),
            duration: "obs_function_duration_seconds".into(),
            in_flight: "obs_function_in_flight".into(),
            bounds: vec![0.001, 0.5],
        }
    }

    /// A series with 3 ok calls and 1 error, 2 + 1 + 1 in the buckets, one in flight,
    /// and an exemplar on the error counter and the middle bucket.
    fn totals(function: &'static str) -> Totals {
        Totals {
            function,
            module: "app",
            labels: &[],
            kind: Kind::Function,
            calls: [3, 1, 0, 0],
            buckets: vec![2, 1, 1],
            sum_seconds: 2.25,
            in_flight: 1,
            bucket_exemplars: vec![None, Some(EXEMPLAR), None],
            call_exemplars: [None, Some(Exemplar { value: 1.0, ..EXEMPLAR }), None, None],
        }
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_carries_exemplars() {
        let families = families();
        let series = [Totals { in_flight: 0, ..totals("f") }];
        let mut out = String::new();
        write_function_families(&mut out, TextFormat::OpenMetrics, &families, &series);
        let ids = r#"{trace_id="0af7651916cd43dd8448eb211c80319c",span_id="b7ad6b7169203331"}"#;
        for line in [
            "# TYPE obs_function_calls counter".to_owned(),
            r#"obs_function_calls_total{function="f",module="app",status="ok"} 3"#.to_owned(),
            format!(
                r#"obs_function_calls_total{{function="f",module="app",status="error"}} 1 # {ids} 1 1700000000.123000000"#
            ),
            format!(
                r#"obs_function_duration_seconds_bucket{{function="f",module="app",le="0.5"}} 3 # {ids} 0.25 1700000000.123000000"#
            ),
            r#"obs_function_duration_seconds_bucket{function="f",module="app",le="+Inf"} 4"#.to_owned(),
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in:\n{out}");
        }
        assert!(!out.lines().any(str::is_empty), "no blank line in OpenMetrics:\n{out}");
    }

    #[test]
    fn function_families_are_a_real_histogram_with_cumulative_buckets() {
        let families = families();
        let series = [totals("say \"hi\"")];
        let mut out = String::new();
        write_function_families(&mut out, TextFormat::Prometheus, &families, &series);
        assert!(!out.contains("trace_id"), "no exemplar in the classic format:\n{out}");
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
