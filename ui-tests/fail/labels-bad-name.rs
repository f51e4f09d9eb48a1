use obs_runtime::observe;

#[observe(labels("bad-name" = region, "2fast" = region, café = region))]
fn route(region: &str) {
    let _ = region;
}

fn main() {}
