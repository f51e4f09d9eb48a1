use obs_runtime::observe;

#[observe(objective(latency = "250 parsecs"))]
fn far() {}

#[observe(objective(latency = 250))]
fn unitless() {}

#[observe(objective(success = "high"))]
fn wordy() {}

fn main() {}
