use obs_runtime::workflow;

#[workflow(deadline = "1s")]
async fn job() -> u32 {
    1
}

fn main() {}
