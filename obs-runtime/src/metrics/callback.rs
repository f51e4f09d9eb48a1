//! Callback gauges: values the application only knows when asked (a pool's
//! idle connections, a consumer's lag), read when `/metrics` is rendered and
//! never on a hot path.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! let idle = Arc::new(AtomicUsize::new(3));
//! let seen = Arc::clone(&idle);
//! obs_runtime::metrics::gauge_fn("db_pool_connections", &[("state", "idle")], move || seen.load(Ordering::Relaxed) as f64);
//! ```
//!
//! A callback that panics is caught: its sample is left out of that scrape
//! (the rest of the scrape is unaffected) and the panic is counted in
//! `obs_metric_callback_panics_total{metric}`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use metrics::Counter;

use super::families::{METRIC_CALLBACK_PANICS_TOTAL, OVERFLOW_TOTAL};

/// The most callback gauges a process keeps; later registrations are ignored
/// and counted in `obs_overflow_total{metric}`.
const MAX_CALLBACKS: usize = 1000;

type Callback = Arc<dyn Fn() -> f64 + Send + Sync>;

#[derive(Clone)]
struct Registered {
    name: String,
    labels: Vec<(String, String)>,
    callback: Callback,
    panics: Arc<OnceLock<Counter>>,
}

static REGISTERED: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// Help texts from `metrics::describe_gauge!`, by name (bounded like the gauges).
static HELP: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Keeps the `describe_gauge!` text of `name` for its callback gauges' `# HELP`.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn describe(name: &str, help: &str) {
    let mut all = HELP.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = all.iter_mut().find(|(n, _)| n == name) {
        known.1 = help.to_owned();
    } else if all.len() < MAX_CALLBACKS {
        all.push((name.to_owned(), help.to_owned()));
    }
}

/// Registers a gauge whose value `callback` returns each time `/metrics` is
/// rendered (and so each OTLP metrics export). The name is the application's
/// own (no namespace is added); `metrics::describe_gauge!` with the same name
/// gives its `# HELP`. The same name and labels registered again replace the
/// earlier callback.
pub fn gauge_fn(name: &str, labels: &[(&str, &str)], callback: impl Fn() -> f64 + Send + Sync + 'static) {
    let labels: Vec<(String, String)> = labels.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect();
    let mut all = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(same) = all.iter_mut().find(|r| r.name == name && r.labels == labels) {
        same.callback = Arc::new(callback);
        return;
    }
    if all.len() >= MAX_CALLBACKS {
        metrics::counter!(OVERFLOW_TOTAL.name(), "metric" => name.to_owned()).increment(1);
        return;
    }
    // Shared by every series of the name, and registered (at zero) as soon as metrics are on.
    let panics = all.iter().find(|r| r.name == name).map_or_else(|| Arc::new(OnceLock::new()), |r| r.panics.clone());
    if super::active() {
        panics_counter(&panics, name);
    }
    all.push(Registered { name: name.to_owned(), labels, callback: Arc::new(callback), panics });
}

fn panics_counter<'a>(cell: &'a OnceLock<Counter>, name: &str) -> &'a Counter {
    cell.get_or_init(|| metrics::counter!(METRIC_CALLBACK_PANICS_TOTAL.name(), "metric" => name.to_owned()))
}

/// One callback gauge's sample: `None` when its callback panicked.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) struct Sample {
    pub name: String,
    /// From `describe_gauge!`, when given.
    pub help: Option<String>,
    pub labels: Vec<(String, String)>,
    pub value: Option<f64>,
}

/// Every callback gauge, evaluated now, sorted by name (registration order within a name).
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn read() -> Vec<Sample> {
    // Called outside the lock, so a callback may register another gauge.
    let registered: Vec<Registered> = REGISTERED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let help = HELP.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut samples: Vec<Sample> = registered
        .into_iter()
        .map(|Registered { name, labels, callback, panics }| {
            let value = catch_unwind(AssertUnwindSafe(|| callback())).ok();
            if value.is_none() {
                panics_counter(&panics, &name).increment(1);
            }
            let help = help.iter().find(|(n, _)| *n == name).map(|(_, h)| h.clone());
            Sample { name, help, labels, value }
        })
        .collect();
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_callback_loses_its_sample_only_and_a_second_registration_replaces_the_first() {
        gauge_fn("callback_test_ok", &[("state", "idle")], || 1.0);
        gauge_fn("callback_test_ok", &[("state", "idle")], || 2.0);
        gauge_fn("callback_test_panics", &[], || panic!("the pool is gone"));
        let samples = read();
        let ok: Vec<_> = samples.iter().filter(|s| s.name == "callback_test_ok").collect();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].value, Some(2.0));
        let panicked = samples.iter().find(|s| s.name == "callback_test_panics").expect("listed");
        assert_eq!(panicked.value, None);
    }
}
