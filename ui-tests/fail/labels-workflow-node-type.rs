use obs_runtime::{node, workflow};

#[derive(Debug)]
struct Order {
    id: u64,
}

// A value must be bounded on a workflow and a node as on a function: one error each, on the value.
#[workflow(labels(order_id = order.id))]
async fn place(order: Order) -> u64 {
    order.id
}

#[node(retries = 1, labels(attempt_no = attempt))]
async fn pack(attempt: u32) -> Result<u32, String> {
    Ok(attempt)
}

fn main() {}
