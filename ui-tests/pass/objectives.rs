//! Objectives inline and named, on every attribute, recorded in the catalog.
#![deny(warnings)]
use obs_runtime::ops::Objective;
use obs_runtime::{node, observe, workflow};

const CHECKOUT: Objective = Objective::new().success(99.9).latency_ms(250).percentile(99.0);

#[observe(objective(success = 99.9, latency = "250ms", percentile = 99))]
fn inline() {}

#[observe(objective = CHECKOUT)]
fn named() {}

#[observe(objective = self::CHECKOUT, name = "also_named")]
fn named_by_path() {}

#[workflow(objective(success = 99))]
async fn flow() {
    step().await;
}

#[node(objective(latency = "1.5s"))]
async fn step() {}

fn main() {
    inline();
    named();
    named_by_path();
    let _ = flow();
    let objective = |name: &str| obs_runtime::catalog().iter().find(|s| s.name() == name).and_then(|s| s.objective().copied());
    assert_eq!(objective("inline"), Some(CHECKOUT));
    assert_eq!(objective("named"), Some(CHECKOUT));
    assert_eq!(objective("flow").and_then(|o| o.success_percent()), Some(99.0));
    assert_eq!(objective("step").and_then(|o| o.latency_threshold()), Some(std::time::Duration::from_millis(1500)));
}
