use obs_runtime::observe;

#[observe(labels(status = region, __name = region, le = region, workflow = region))]
fn route(region: &str) {
    let _ = region;
}

fn main() {}
