use obs_runtime::node;

#[derive(Debug)]
struct StepError;

fn transient(_: &StepError) -> bool {
    true
}

#[node(retry_if = transient)]
async fn step() -> Result<(), StepError> {
    Ok(())
}

#[node(retries = 2)]
async fn not_a_result() -> u32 {
    1
}

fn main() {}
