use obs_runtime::{node, workflow};

#[workflow(crate = "obs_runtime")]
async fn job() {}

#[node(crate = obs_runtime.field)]
async fn step() {}

fn main() {}
