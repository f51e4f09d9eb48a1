use obs_runtime::observe;

#[observe]
fn sync_body(n: u32) -> u32 {
    let doubled: u32 = n * 2;
    doubled + "one"
}

#[observe]
async fn async_body() -> String {
    42
}

#[observe]
fn wrong_tail() -> Result<u32, std::fmt::Error> {
    Ok("not a number")
}

fn main() {}
