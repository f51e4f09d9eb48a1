use obs_runtime::node;

#[derive(Debug)]
struct StepError;

#[node(timeout = "2s")]
async fn step() -> Result<(), StepError> {
    Ok(())
}

fn main() {}
