use obs_runtime::{node, workflow};

#[derive(Debug)]
struct JobError;
impl From<obs_runtime::workflow::budget::BudgetExceeded> for JobError {
    fn from(_: obs_runtime::workflow::budget::BudgetExceeded) -> Self {
        JobError
    }
}
impl From<obs_runtime::workflow::TimeoutError> for JobError {
    fn from(_: obs_runtime::workflow::TimeoutError) -> Self {
        JobError
    }
}

#[workflow(deadline = "30 parsecs")]
async fn bad_unit() -> Result<(), JobError> {
    Ok(())
}

#[workflow(deadline = 30)]
async fn not_a_string() -> Result<(), JobError> {
    Ok(())
}

#[node(timeout = "soon")]
async fn not_a_number() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
