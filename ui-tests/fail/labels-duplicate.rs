use obs_runtime::observe;

#[observe(labels(region = region, region = region))]
fn route(region: &str) {
    let _ = region;
}

#[observe(labels(region = region), labels(zone = region))]
fn route_again(region: &str) {
    let _ = region;
}

fn main() {}
