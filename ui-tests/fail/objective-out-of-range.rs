use obs_runtime::{node, observe, workflow};

#[observe(objective(success = 100))]
fn always() {}

#[observe(objective(success = -5, latency = "250ms", percentile = 0.0))]
fn negative() {}

#[workflow(objective(latency = "0s"))]
async fn instant() {}

#[node(objective(success = 99.9, percentile = 99))]
async fn no_threshold() {}

#[observe(objective())]
fn empty() {}

#[observe(metrics = false, objective(success = 99.0))]
fn unmeasured() {}

fn main() {}
