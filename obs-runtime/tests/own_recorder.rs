//! With `prometheus(false)`, function metrics go through the `metrics` facade
//! to the recorder the application installed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use obs_runtime::observe;

/// Keeps every counter and histogram it hands out, by name and labels.
#[derive(Default)]
struct Keeping {
    counters: Mutex<Vec<(String, Arc<AtomicU64>)>>,
    histograms: Mutex<Vec<(String, Arc<Recorded>)>>,
}

#[derive(Default)]
struct Recorded(Mutex<Vec<f64>>);

impl metrics::HistogramFn for Recorded {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

fn id(key: &Key) -> String {
    let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for &'static Keeping {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let value = Arc::new(AtomicU64::new(0));
        self.counters.lock().unwrap().push((id(key), value.clone()));
        Counter::from_arc(value)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let recorded = Arc::new(Recorded::default());
        self.histograms.lock().unwrap().push((id(key), recorded.clone()));
        Histogram::from_arc(recorded)
    }
}

#[observe]
fn lookup(id: u32) -> u32 {
    id * 2
}

#[test]
fn function_metrics_reach_the_application_recorder() {
    let keeping: &'static Keeping = Box::leak(Box::default());
    metrics::set_global_recorder(keeping).unwrap();
    let guard = obs_runtime::builder().prometheus(false).install_subscriber(false).without_http().init().unwrap();
    assert_eq!(guard.render_metrics(), None, "obs renders nothing without its own exporter");
    lookup(1);
    lookup(2);

    let counters = keeping.counters.lock().unwrap();
    let ok = counters
        .iter()
        .find(|(id, _)| id == "obs_function_calls_total{function=lookup,module=own_recorder,status=ok}")
        .expect("calls counter registered");
    assert_eq!(ok.1.load(Ordering::Relaxed), 2);
    let histograms = keeping.histograms.lock().unwrap();
    let duration = histograms
        .iter()
        .find(|(id, _)| id == "obs_function_duration_seconds{function=lookup,module=own_recorder}")
        .expect("duration histogram registered");
    assert_eq!(duration.1.0.lock().unwrap().len(), 2);
}
