//! Bounded label sets: error kinds past the per-metric series limit fold into
//! `__overflow__`, nothing is lost, and the folding is counted.

mod support;

use obs_runtime::{ErrorKind, observe};
use support::{http_get, sample};

#[derive(Debug)]
struct Coded(usize);

const KINDS: [&str; 6] = ["a", "b", "c", "quote\"back\\slash\nline", "e", "f"];

impl ErrorKind for Coded {
    fn kind(&self) -> &'static str {
        KINDS[self.0]
    }
}

#[observe]
fn fails_with(code: usize) -> Result<(), Coded> {
    Err(Coded(code))
}

#[test]
fn kinds_past_the_limit_fold_into_overflow() {
    let guard = obs_runtime::builder()
        .max_series_per_metric(4)
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    for round in 0..3 {
        for code in 0..KINDS.len() {
            let _ = fails_with((code + round) % KINDS.len());
        }
    }
    let (_, text) = http_get(guard.http_addr().unwrap(), "/metrics").unwrap();
    let kinds_seen: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("obs_function_errors_total{"))
        .filter_map(|l| l.split("error=\"").nth(1))
        .collect();
    assert_eq!(kinds_seen.len(), 5, "four real kinds plus __overflow__:\n{text}");
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("obs_function_errors_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert_eq!(total, 18.0, "every error is still counted");
    let folded = sample(&text, "obs_function_errors_total", &[("error", "__overflow__")]).unwrap();
    assert_eq!(folded, 6.0);
    assert_eq!(sample(&text, "obs_overflow_total", &[("metric", "obs_function_errors_total")]), Some(6.0));
    assert_eq!(
        sample(&text, "obs_function_calls_total", &[("function", "fails_with"), ("status", "error")]),
        Some(18.0)
    );
    // The first kinds seen fit; one of them needs escaping in the exposition format.
    assert!(text.contains(r#"error="quote\"back\\slash\nline""#), "label values are escaped:\n{text}");
}
