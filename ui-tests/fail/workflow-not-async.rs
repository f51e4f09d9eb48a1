use obs_runtime::workflow;

#[workflow]
fn job() {}

fn main() {}
