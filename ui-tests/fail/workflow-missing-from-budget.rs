use obs_runtime::workflow;

#[derive(Debug)]
struct JobError;

#[workflow(max_hops = 3)]
async fn job() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
