//! The global `metrics` recorder obs installs: metrics-exporter-prometheus's
//! for counters and gauges, with histograms kept here, in buckets.
//!
//! That recorder keeps every histogram sample (a value and an `Instant`,
//! 24 bytes) until its upkeep drains them into buckets, every few seconds or
//! at a scrape: at a few million samples a second, hundreds of megabytes
//! between two drains, and more when the drain falls behind. Here a sample
//! is counted into its bucket as it is recorded, into counters only the
//! recording thread's shard touches (`metrics/store.rs`), so a histogram's
//! memory is fixed when it is registered, at any call rate, with no upkeep.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use metrics::atomics::AtomicU64;
use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusRecorder;
use metrics_util::registry::{Registry, Storage};

use super::text_format::{escape_help, escape_label_value, sanitize_label_name, sanitize_metric_name};
use crate::metrics::store::Sharded;

/// The recorder `init` installs, and what renders its histograms.
pub(crate) struct ObsRecorder {
    inner: PrometheusRecorder,
    histograms: Arc<Histograms>,
}

/// Every histogram registered through the facade, in metrics-util's sharded
/// registry (a handle looked up per call, as `HttpLayer` does, takes no global lock).
pub(crate) struct Histograms {
    series: Registry<Key, BucketStorage>,
    /// Help text by metric name, from `describe_histogram!`.
    help: Mutex<HashMap<String, String>>,
}

/// Makes the registry's histograms [`Buckets`] with the configured bounds.
/// Counters and gauges stay in the inner recorder; this registry never holds any.
struct BucketStorage {
    /// Bucket upper bounds, ascending (checked by `init`).
    bounds: Arc<[f64]>,
}

impl Storage<Key> for BucketStorage {
    type Counter = Arc<AtomicU64>;
    type Gauge = Arc<AtomicU64>;
    type Histogram = Arc<Buckets>;

    fn counter(&self, _: &Key) -> Self::Counter {
        Arc::new(AtomicU64::new(0))
    }

    fn gauge(&self, _: &Key) -> Self::Gauge {
        Arc::new(AtomicU64::new(0))
    }

    fn histogram(&self, _: &Key) -> Self::Histogram {
        Arc::new(Buckets::new(self.bounds.clone()))
    }
}

impl ObsRecorder {
    pub(crate) fn new(inner: PrometheusRecorder, bounds: &[f64]) -> ObsRecorder {
        let series = Registry::new(BucketStorage { bounds: bounds.into() });
        ObsRecorder { inner, histograms: Arc::new(Histograms { series, help: Mutex::default() }) }
    }

    pub(crate) fn histograms(&self) -> Arc<Histograms> {
        self.histograms.clone()
    }
}

impl Recorder for ObsRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        // A callback gauge (`metrics::gauge_fn`) of this name takes the help text too.
        crate::metrics::callback::describe(key.as_str(), &description);
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        let mut help = self.histograms.help.lock().unwrap_or_else(|e| e.into_inner());
        help.insert(key.as_str().to_owned(), description.into_owned());
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.inner.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        self.histograms.series.get_or_create_histogram(key, |buckets| Histogram::from_arc(buckets.clone()))
    }
}

/// One histogram series: per shard, a count per bucket and the sum.
struct Buckets {
    bounds: Arc<[f64]>,
    /// Slot `i < bounds.len()` counts samples at most `bounds[i]` (and above
    /// the bound before); the next one counts the rest (`+Inf`); the last
    /// holds the sum's bits.
    slots: Sharded,
}

impl Buckets {
    fn new(bounds: Arc<[f64]>) -> Buckets {
        let slots = Sharded::new(bounds.len() + 2);
        Buckets { bounds, slots }
    }

    fn sum_slot(&self) -> usize {
        self.bounds.len() + 1
    }
}

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        // NaN lands above every bound and leaves the sum alone.
        let bucket = self.bounds.iter().position(|&bound| value <= bound).unwrap_or(self.bounds.len());
        self.slots.mine(bucket).fetch_add(1, Relaxed);
        if value.is_nan() {
            return;
        }
        // The shard is this thread's, so the exchange rarely retries.
        let sum = self.slots.mine(self.sum_slot());
        let _ = sum.fetch_update(Relaxed, Relaxed, |bits| Some((f64::from_bits(bits) + value).to_bits()));
    }
}

impl Histograms {
    /// Every histogram in the Prometheus text format, sorted by name and labels.
    pub(crate) fn render(&self, out: &mut String) {
        let mut rows: Vec<(String, String, Arc<Buckets>)> = self
            .series
            .get_histogram_handles()
            .into_iter()
            .map(|(key, buckets)| {
                let mut labels = String::new();
                for (i, label) in key.labels().enumerate() {
                    if i > 0 {
                        labels.push(',');
                    }
                    let _ = write!(labels, "{}=\"", sanitize_label_name(label.key()));
                    escape_label_value(&mut labels, label.value());
                    labels.push('"');
                }
                (sanitize_metric_name(key.name()), labels, buckets)
            })
            .collect();
        rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let help = self.help.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut current: Option<&str> = None;
        for (name, labels, buckets) in &rows {
            if current != Some(name) {
                if current.is_some() {
                    out.push('\n');
                }
                if let Some(help) = help.get(name) {
                    let _ = write!(out, "# HELP {name} ");
                    escape_help(out, help);
                    out.push('\n');
                }
                let _ = writeln!(out, "# TYPE {name} histogram");
                current = Some(name);
            }
            let sep = if labels.is_empty() { "" } else { "," };
            let mut cumulative = 0;
            for (i, bound) in buckets.bounds.iter().enumerate() {
                cumulative += buckets.slots.sum(i);
                let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
            }
            cumulative += buckets.slots.sum(buckets.bounds.len());
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}");
            let sum: f64 = buckets.slots.each(buckets.sum_slot()).map(|s| f64::from_bits(s.load(Relaxed))).sum();
            let braces = |out: &mut String| {
                if !labels.is_empty() {
                    let _ = write!(out, "{{{labels}}}");
                }
            };
            let _ = write!(out, "{name}_sum");
            braces(out);
            let _ = writeln!(out, " {sum}");
            let _ = write!(out, "{name}_count");
            braces(out);
            let _ = writeln!(out, " {cumulative}");
        }
        if current.is_some() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(bounds: &[f64]) -> ObsRecorder {
        ObsRecorder::new(metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder(), bounds)
    }

    #[test]
    fn samples_land_in_cumulative_buckets_with_sum_and_count() {
        let recorder = recorder(&[0.1, 1.0]);
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_histogram!("step_seconds", "Time per \"step\".");
            let h = metrics::histogram!("step_seconds", "step" => "pa\"rse", "kind" => "a");
            for v in [0.05, 0.1, 0.5, 2.0, f64::NAN] {
                h.record(v);
            }
            metrics::histogram!("bare").record(3.0);
        });
        let mut out = String::new();
        recorder.histograms().render(&mut out);
        let expected = "# TYPE bare histogram\n\
             bare_bucket{le=\"0.1\"} 0\nbare_bucket{le=\"1\"} 0\nbare_bucket{le=\"+Inf\"} 1\nbare_sum 3\nbare_count 1\n\n\
             # HELP step_seconds Time per \"step\".\n# TYPE step_seconds histogram\n\
             step_seconds_bucket{step=\"pa\\\"rse\",kind=\"a\",le=\"0.1\"} 2\n\
             step_seconds_bucket{step=\"pa\\\"rse\",kind=\"a\",le=\"1\"} 3\n\
             step_seconds_bucket{step=\"pa\\\"rse\",kind=\"a\",le=\"+Inf\"} 5\n\
             step_seconds_sum{step=\"pa\\\"rse\",kind=\"a\"} 2.65\n\
             step_seconds_count{step=\"pa\\\"rse\",kind=\"a\"} 5\n\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn a_backslash_before_a_quote_in_a_label_value_is_kept() {
        let recorder = recorder(&[1.0]);
        metrics::with_local_recorder(&recorder, || metrics::histogram!("p", "path" => r#"C:\"x"#).record(0.5));
        let mut out = String::new();
        recorder.histograms().render(&mut out);
        assert!(out.contains(r#"p_count{path="C:\\\"x"} 1"#), "{out}");
    }

    #[test]
    fn threads_recording_one_series_add_up() {
        let recorder = recorder(&[1.0]);
        let h = metrics::with_local_recorder(&recorder, || metrics::histogram!("x"));
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| (0..10_000).for_each(|_| h.record(0.5)));
            }
        });
        let mut out = String::new();
        recorder.histograms().render(&mut out);
        assert!(out.contains("x_count 120000\n") && out.contains("x_sum 60000\n"), "{out}");
    }
}
