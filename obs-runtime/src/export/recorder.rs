//! The global `metrics` recorder obs installs, and its rendering in both
//! text formats (`text_format.rs`): every counter, gauge and histogram
//! recorded through the facade (workflow, node, health, HTTP, queue and the
//! application's own metrics) lives here, in metrics-util's sharded registry
//! (a handle looked up per request, as `HttpLayer` does, takes no global lock).
//!
//! Histograms count each sample into its bucket as it is recorded, into
//! counters only the recording thread's shard touches (`metrics/store.rs`),
//! so a histogram's memory is fixed when it is registered, at any call rate,
//! with no upkeep. (metrics-exporter-prometheus keeps every sample, a value
//! and an `Instant`, 24 bytes, until its upkeep drains them: hundreds of
//! megabytes between two drains at a few million samples a second; and it
//! renders neither OpenMetrics nor a label value's `\"` faithfully.)
//!
//! The application's own families (every name that is not one of obs's) keep
//! at most [`Builder::max_series_per_metric`](crate::Builder::max_series_per_metric)
//! label sets each: past it, a new label set is given the handle of the one
//! series whose label values are all `__overflow__`, and counted in
//! `obs_overflow_total{metric}`. The limit is looked at only when a label set
//! the registry does not hold yet is registered; a handle the caller keeps
//! never comes back here, and one registered again is found as before.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, OnceLock};

use metrics::atomics::AtomicU64;
use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{Registry, Storage};

use super::text_format::{TextFormat, escape_label_value, sanitize_label_name, sanitize_metric_name, write_value};
use crate::labels::OVERFLOW;
use crate::metrics::store::Sharded;
use crate::metrics::{MetricType, OVERFLOW_TOTAL, families};

/// The recorder `init` installs.
pub(crate) struct ObsRecorder {
    facade: Arc<FacadeMetrics>,
    limit: SeriesLimit,
}

/// The cap on the label sets of the application's families.
pub(crate) struct SeriesLimit {
    max: usize,
    /// obs's own family names (bounded by obs itself), which the cap leaves alone.
    own: HashSet<String>,
    /// `obs_overflow_total` under the namespace.
    overflow: String,
    /// Label sets registered so far, by family name and type.
    registered: Mutex<HashMap<(String, MetricType), usize>>,
}

impl SeriesLimit {
    pub(crate) fn new(max: usize, namespace: &str) -> SeriesLimit {
        SeriesLimit {
            max,
            own: families().iter().map(|family| family.name_in(namespace)).collect(),
            overflow: OVERFLOW_TOTAL.name_in(namespace),
            registered: Mutex::default(),
        }
    }
}

/// Every series registered through the facade, and the help texts given by `describe_*`.
pub(crate) struct FacadeMetrics {
    series: Registry<Key, BucketStorage>,
    /// Help text by metric name.
    help: Mutex<HashMap<String, String>>,
    /// The application's families described so far (not obs's), with the type they were described as.
    described: Mutex<std::collections::BTreeMap<String, MetricType>>,
}

/// The facade metrics of the installed recorder, for the operations artifacts.
static INSTALLED: OnceLock<Arc<FacadeMetrics>> = OnceLock::new();

/// Makes `facade` the one [`application_families`] reads (the global recorder's).
pub(crate) fn publish(facade: Arc<FacadeMetrics>) {
    let _ = INSTALLED.set(facade);
}

/// The application's own families described through the facade so far
/// (`describe_counter!` & co.), by name: the name, its type and help text.
/// Empty before `init` installed obs's recorder.
#[cfg_attr(not(feature = "ops"), allow(dead_code))]
pub(crate) fn application_families() -> Vec<(String, MetricType, String)> {
    let Some(facade) = INSTALLED.get() else { return Vec::new() };
    let described = facade.described.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let help = facade.help.lock().unwrap_or_else(|e| e.into_inner());
    described
        .into_iter()
        .map(|(name, kind)| {
            let text = help.get(&name).cloned().unwrap_or_default();
            (sanitize_metric_name(&name), kind, text)
        })
        .collect()
}

/// Counters and gauges as plain atomics (a gauge holds its `f64` bits), histograms as [`Buckets`].
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
    pub(crate) fn new(bounds: &[f64], limit: SeriesLimit) -> ObsRecorder {
        let series = Registry::new(BucketStorage { bounds: bounds.into() });
        let facade = FacadeMetrics { series, help: Mutex::default(), described: Mutex::default() };
        ObsRecorder { facade: Arc::new(facade), limit }
    }

    /// The handle of `key`, or, when `key` is a new label set of an
    /// application family that has `max` already, of the family's
    /// `__overflow__` series (the fold counted). `get` finds a registered
    /// handle, `create` registers one. The lock is taken only for a label set
    /// not registered yet, so that two threads registering at once keep the count exact.
    fn admit<H>(&self, key: &Key, kind: MetricType, get: impl Fn(&Key) -> Option<H>, create: impl Fn(&Key) -> H) -> H {
        if let Some(handle) = get(key) {
            return handle;
        }
        let limit = &self.limit;
        if key.labels().len() == 0 || limit.own.contains(key.name()) {
            return create(key);
        }
        let mut registered = limit.registered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = get(key) {
            return handle;
        }
        let count = registered.entry((key.name().to_owned(), kind)).or_default();
        if *count < limit.max {
            *count += 1;
            return create(key);
        }
        drop(registered);
        let folded = Key::from_parts(
            key.name().to_owned(),
            key.labels().map(|label| Label::new(label.key().to_owned(), OVERFLOW)).collect::<Vec<_>>(),
        );
        let counted = Key::from_parts(limit.overflow.clone(), vec![Label::new("metric", key.name().to_owned())]);
        let overflow = self.facade.series.get_or_create_counter(&counted, Arc::clone);
        overflow.fetch_add(1, Relaxed);
        get(&folded).unwrap_or_else(|| create(&folded))
    }

    /// What renders the recorded series.
    pub(crate) fn facade(&self) -> Arc<FacadeMetrics> {
        self.facade.clone()
    }

    fn describe(&self, key: KeyName, kind: MetricType, description: SharedString) {
        if !self.limit.own.contains(key.as_str()) {
            let mut described = self.facade.described.lock().unwrap_or_else(|e| e.into_inner());
            described.insert(key.as_str().to_owned(), kind);
        }
        let mut help = self.facade.help.lock().unwrap_or_else(|e| e.into_inner());
        help.insert(key.as_str().to_owned(), description.into_owned());
    }
}

impl Recorder for ObsRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, MetricType::Counter, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        // A callback gauge (`metrics::gauge_fn`) of this name takes the help text too.
        crate::metrics::callback::describe(key.as_str(), &description);
        self.describe(key, MetricType::Gauge, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, MetricType::Histogram, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        let series = &self.facade.series;
        let counter = self.admit(
            key,
            MetricType::Counter,
            |key| series.get_counter(key),
            |key| series.get_or_create_counter(key, Arc::clone),
        );
        Counter::from_arc(counter)
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        let series = &self.facade.series;
        let gauge = self.admit(
            key,
            MetricType::Gauge,
            |key| series.get_gauge(key),
            |key| series.get_or_create_gauge(key, Arc::clone),
        );
        Gauge::from_arc(gauge)
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        let series = &self.facade.series;
        let buckets = self.admit(
            key,
            MetricType::Histogram,
            |key| series.get_histogram(key),
            |key| series.get_or_create_histogram(key, Arc::clone),
        );
        Histogram::from_arc(buckets)
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

/// `a="x",b="y"`: a key's labels, escaped, in the order given.
fn labels_of(key: &Key) -> String {
    let mut labels = String::new();
    for (i, label) in key.labels().enumerate() {
        if i > 0 {
            labels.push(',');
        }
        let _ = write!(labels, "{}=\"", sanitize_label_name(label.key()));
        escape_label_value(&mut labels, label.value());
        labels.push('"');
    }
    labels
}

/// Handles sorted by metric name, then labels: each family's samples together.
fn sorted<T>(handles: impl IntoIterator<Item = (Key, T)>) -> Vec<(String, String, T)> {
    let mut rows: Vec<(String, String, T)> =
        handles.into_iter().map(|(key, handle)| (sanitize_metric_name(key.name()), labels_of(&key), handle)).collect();
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}

/// `name{labels} ` (no braces without labels).
fn series(out: &mut String, name: &str, labels: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        let _ = write!(out, "{{{labels}}}");
    }
    out.push(' ');
}

impl FacadeMetrics {
    /// Every counter, then every gauge, then every histogram, in `format`,
    /// each family with its `# HELP` (when described) and `# TYPE` once.
    pub(crate) fn render(&self, out: &mut String, format: TextFormat) {
        let help = self.help.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut families = Families { out, format, help: &help, current: None, sample: String::new() };

        for (name, labels, counter) in sorted(self.series.get_counter_handles()) {
            let sample = families.enter(&name, MetricType::Counter);
            series(families.out, &sample, &labels);
            let _ = writeln!(families.out, "{}", counter.load(Relaxed));
        }
        for (name, labels, gauge) in sorted(self.series.get_gauge_handles()) {
            let sample = families.enter(&name, MetricType::Gauge);
            series(families.out, &sample, &labels);
            write_value(families.out, f64::from_bits(gauge.load(Relaxed)));
            families.out.push('\n');
        }
        for (name, labels, buckets) in sorted(self.series.get_histogram_handles()) {
            families.enter(&name, MetricType::Histogram);
            let out = &mut *families.out;
            let sep = if labels.is_empty() { "" } else { "," };
            let mut cumulative = 0;
            for (i, bound) in buckets.bounds.iter().enumerate() {
                cumulative += buckets.slots.sum(i);
                let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
            }
            cumulative += buckets.slots.sum(buckets.bounds.len());
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}");
            let sum: f64 = buckets.slots.each(buckets.sum_slot()).map(|s| f64::from_bits(s.load(Relaxed))).sum();
            series(out, &format!("{name}_sum"), &labels);
            write_value(out, sum);
            out.push('\n');
            series(out, &format!("{name}_count"), &labels);
            let _ = writeln!(out, "{cumulative}");
        }
    }
}

/// The family being written, so its header is written once.
struct Families<'a> {
    out: &'a mut String,
    format: TextFormat,
    help: &'a HashMap<String, String>,
    current: Option<(String, MetricType)>,
    /// The sample name of the current family.
    sample: String,
}

impl Families<'_> {
    /// Writes the header of `name`'s family unless it is the current one; returns the samples' name.
    fn enter(&mut self, name: &str, kind: MetricType) -> String {
        if self.current.as_ref().is_none_or(|(current, k)| current != name || *k != kind) {
            let help = self.help.get(name).map(String::as_str);
            self.sample = self.format.family(self.out, name, kind, help);
            self.current = Some((name.to_owned(), kind));
        }
        self.sample.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(bounds: &[f64]) -> ObsRecorder {
        ObsRecorder::new(bounds, SeriesLimit::new(1000, "obs"))
    }

    fn render(recorder: &ObsRecorder) -> String {
        let mut out = String::new();
        recorder.facade().render(&mut out, TextFormat::Prometheus);
        out
    }

    #[test]
    fn an_application_family_past_its_limit_folds_new_label_sets_into_one_overflow_series() {
        let recorder = ObsRecorder::new(&[1.0], SeriesLimit::new(2, "obs"));
        metrics::with_local_recorder(&recorder, || {
            for user in ["a", "b", "c", "d", "a"] {
                metrics::counter!("logins_total", "user" => user, "ok" => "yes").increment(1);
            }
            // The cap is per family and type; obs's own families are not capped by it.
            metrics::gauge!("sessions", "user" => "c").set(1.0);
            for kind in ["x", "y", "z"] {
                metrics::counter!("obs_function_errors_total", "error" => kind).increment(1);
            }
            // A handle kept from before the cap keeps counting into its own series.
            let kept = metrics::counter!("logins_total", "user" => "b", "ok" => "yes");
            kept.increment(5);
        });
        let out = render(&recorder);
        for line in [
            "logins_total{user=\"a\",ok=\"yes\"} 2",
            "logins_total{user=\"b\",ok=\"yes\"} 6",
            "logins_total{user=\"__overflow__\",ok=\"__overflow__\"} 2",
            "obs_overflow_total{metric=\"logins_total\"} 2",
            "sessions{user=\"c\"} 1",
            "obs_function_errors_total{error=\"z\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in:\n{out}");
        }
        assert!(!out.contains("user=\"c\",ok"), "{out}");
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
        recorder.facade().render(&mut out, TextFormat::Prometheus);
        let expected = "# TYPE bare histogram\n\
             bare_bucket{le=\"0.1\"} 0\nbare_bucket{le=\"1\"} 0\nbare_bucket{le=\"+Inf\"} 1\nbare_sum 3\nbare_count 1\n\
             # HELP step_seconds Time per \"step\".\n# TYPE step_seconds histogram\n\
             step_seconds_bucket{step=\"pa\\\"rse\",kind=\"a\",le=\"0.1\"} 2\n\
             step_seconds_bucket{step=\"pa\\\"rse\",kind=\"a\",le=\"1\"} 3\n\
             step_seconds_bucket{step=\"pa\\\"rse\",kind=\"a\",le=\"+Inf\"} 5\n\
             step_seconds_sum{step=\"pa\\\"rse\",kind=\"a\"} 2.65\n\
             step_seconds_count{step=\"pa\\\"rse\",kind=\"a\"} 5\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn a_backslash_before_a_quote_in_a_label_value_is_kept() {
        let recorder = recorder(&[1.0]);
        metrics::with_local_recorder(&recorder, || metrics::histogram!("p", "path" => r#"C:\"x"#).record(0.5));
        let mut out = String::new();
        recorder.facade().render(&mut out, TextFormat::Prometheus);
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
        recorder.facade().render(&mut out, TextFormat::Prometheus);
        assert!(out.contains("x_count 120000\n") && out.contains("x_sum 60000\n"), "{out}");
    }
}
