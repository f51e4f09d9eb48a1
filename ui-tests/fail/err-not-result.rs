use obs_runtime::observe;

#[observe(err)]
fn count() -> u32 {
    1
}

#[observe(err(Display))]
async fn nothing() {}

#[observe(err)]
fn option() -> Option<u32> {
    None
}

fn main() {}
