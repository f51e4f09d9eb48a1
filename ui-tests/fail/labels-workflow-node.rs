use obs_runtime::{node, workflow};

struct Order {
    id: u64,
    region: String,
}

// The same checks as on `#[observe]`: the families' own label names are taken.
#[workflow(labels(workflow = order.region.as_str(), budget = order.region.as_str()))]
async fn place(order: Order) -> u64 {
    order.id
}

#[node(labels(node = region, outcome = region))]
async fn pack(region: String, attempt: u32) -> u32 {
    let _ = region;
    attempt
}

#[node(metrics = false, labels(region = region))]
async fn unmeasured(region: String) {
    let _ = region;
}

#[workflow(labels(region))]
async fn no_value(region: String) {
    let _ = region;
}

fn main() {}
