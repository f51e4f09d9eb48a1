//! The Prometheus exporter: obs's recorder as the global `metrics` recorder,
//! `GET /metrics`, and the upkeep thread that keeps its memory flat; and the
//! one function that renders `/metrics`: the recorder's text followed by the
//! function metrics obs keeps itself.

use std::fmt::Write;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::seam::{Configured, Exporter, Settings, StartContext};
use crate::init_error::InitError;
use crate::metrics::store::{self, Families, Totals};
use crate::metrics::{FUNCTION_CALLS_TOTAL, FUNCTION_DURATION_SECONDS, FUNCTION_IN_FLIGHT, Family, Status};
use crate::worker::Worker;

/// How often histogram samples are drained into buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The recorder with real histograms (the given bucket bounds), when
/// [`Builder::prometheus`](crate::Builder::prometheus) is on (the default).
pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    if !settings.prometheus {
        return Ok(None);
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(&settings.buckets)
        .map_err(|e| InitError::Config(format!("histogram buckets: {e}")))?
        .build_recorder();
    Ok(Some(Box::new(Recorder { handle: recorder.handle(), recorder: Some(recorder) })))
}

struct Recorder {
    handle: PrometheusHandle,
    recorder: Option<PrometheusRecorder>,
}

impl Configured for Recorder {
    fn install(&mut self) -> Result<(), InitError> {
        match self.recorder.take() {
            Some(recorder) => metrics::set_global_recorder(recorder).map_err(|_| InitError::RecorderAlreadySet),
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
            let handle = self.handle.clone();
            cx.serve(move |router| {
                router.route(
                    "/metrics",
                    axum::routing::get(move || {
                        let handle = handle.clone();
                        async move {
                            (
                                [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                                render(&handle),
                            )
                        }
                    }),
                )
            });
        }
        let handle = self.handle.clone();
        cx.metrics_text = Some(std::sync::Arc::new(move || render(&handle)));
        // Drains histogram samples into buckets even when nobody scrapes, so memory stays flat.
        let handle = self.handle;
        let upkeep = Worker::spawn("obs-upkeep", move |stop| {
            while !stop.wait(UPKEEP_INTERVAL) {
                handle.run_upkeep();
            }
        })
        .ok();
        Ok(Box::new(Upkeep(upkeep)))
    }
}

/// The running exporter: the upkeep thread (scrapes are served by the HTTP server).
struct Upkeep(Option<Worker>);

impl Exporter for Upkeep {
    fn shutdown_limit(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn shutdown(self: Box<Self>, deadline: Instant) {
        let deadline = deadline.min(Instant::now() + self.shutdown_limit());
        if let Some(worker) = self.0 {
            worker.stop(deadline);
        }
    }
}

/// Everything `/metrics` serves, in the Prometheus text format: what went
/// through the `metrics` facade, then the function families from obs's store.
pub(crate) fn render(handle: &PrometheusHandle) -> String {
    let mut text = handle.render();
    if let Some((families, series)) = store::snapshot() {
        write_function_families(&mut text, families, &series);
    }
    text
}

/// Writes the calls counter, the duration histogram and the in-flight gauge,
/// each with its `# HELP` and `# TYPE` lines once.
fn write_function_families(out: &mut String, families: &Families, series: &[Totals]) {
    if series.is_empty() {
        return;
    }
    let labels = |out: &mut String, totals: &Totals| {
        out.push_str("{function=\"");
        escape_label_value(out, totals.function);
        out.push_str("\",module=\"");
        escape_label_value(out, totals.module);
        out.push('"');
    };
    let header = |out: &mut String, name: &str, family: &Family| {
        let name = sanitize_metric_name(name);
        let _ = write!(out, "# HELP {name} {}\n# TYPE {name} {}\n", family.help(), family.metric_type());
        name
    };

    let name = header(out, &families.calls, &FUNCTION_CALLS_TOTAL);
    for totals in series {
        for (status, count) in Status::FUNCTION.iter().zip(totals.calls) {
            out.push_str(&name);
            labels(out, totals);
            let _ = writeln!(out, ",status=\"{}\"}} {count}", status.as_str());
        }
    }
    out.push('\n');

    let name = header(out, &families.duration, &FUNCTION_DURATION_SECONDS);
    for totals in series {
        let mut cumulative = 0;
        let les = families.bounds.iter().map(Some).chain([None]);
        for (le, count) in les.zip(&totals.buckets) {
            cumulative += count;
            let _ = write!(out, "{name}_bucket");
            labels(out, totals);
            match le {
                Some(le) => {
                    let _ = writeln!(out, ",le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, ",le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let _ = write!(out, "{name}_sum");
        labels(out, totals);
        let _ = writeln!(out, "}} {}", totals.sum_seconds);
        let _ = write!(out, "{name}_count");
        labels(out, totals);
        let _ = writeln!(out, "}} {cumulative}");
    }
    out.push('\n');

    let name = header(out, &families.in_flight, &FUNCTION_IN_FLIGHT);
    for totals in series {
        out.push_str(&name);
        labels(out, totals);
        let _ = writeln!(out, "}} {}", totals.in_flight);
    }
    out.push('\n');
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A metric name made valid (`[a-zA-Z_:][a-zA-Z0-9_:]*`) the way the recorder
/// does it for the names it renders, so a namespace reads the same in both.
fn sanitize_metric_name(name: &str) -> String {
    name.char_indices()
        .map(|(i, c)| {
            let valid = c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
            if valid { c } else { '_' }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let mut out = String::new();
        escape_label_value(&mut out, "a\\b\"c\nd é");
        assert_eq!(out, r#"a\\b\"c\nd é"#);
    }

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
