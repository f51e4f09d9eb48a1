use obs_runtime::observe;

#[observe(labels)]
fn bare(region: &str) {
    let _ = region;
}

#[observe(labels(region))]
fn no_value(region: &str) {
    let _ = region;
}

#[observe(metrics = false, labels(region = region))]
fn no_metrics(region: &str) {
    let _ = region;
}

fn main() {}
