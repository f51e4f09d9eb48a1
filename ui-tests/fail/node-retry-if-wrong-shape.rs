use obs_runtime::node;

#[derive(Debug)]
struct StepError;

// Takes the error by value: `retry_if` calls it with a reference.
fn by_value(_: StepError) -> bool {
    true
}

// Returns something other than `bool`.
fn maybe(_: &StepError) -> Option<bool> {
    None
}

#[node(retries = 2, retry_if = by_value)]
async fn step() -> Result<(), StepError> {
    Ok(())
}

#[node(retries = 2, retry_if = maybe)]
async fn other_step() -> Result<(), StepError> {
    Ok(())
}

fn main() {}
