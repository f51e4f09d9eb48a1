use obs_runtime::observe;

#[observe]
fn sync_body(n: u32) -> u32 {
    let label: String = n;
    n
}

#[observe]
async fn async_body() -> String {
    42
}

#[observe]
fn wrong_tail() -> Result<u32, std::fmt::Error> {
    Ok("not a number")
}

#[observe]
async fn early_return(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err(404);
    }
    Ok(n)
}

struct Counter(u32);

impl Counter {
    #[observe(skip(self))]
    fn get(&self) -> u32 {
        self.0.to_string()
    }
}

fn main() {}
