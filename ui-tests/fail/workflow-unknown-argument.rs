use obs_runtime::workflow;

#[workflow(dealine = "30s")]
async fn misspelled() {}

#[workflow(retries = 3)]
async fn node_argument_on_a_workflow() {}

fn main() {}
