use obs_runtime::observe;

struct Client;

#[observe(skip(token))]
impl Client {
    // The block's `skip(token)` does not fit a method without `token`.
    fn ping(&self) {}
}

#[observe(skip_method)]
impl Client {
    fn close(&self) {}
}

struct Store;

#[observe]
impl Store {
    #[observe(skip_method, level = "debug")]
    fn get(&self) {}
}

fn main() {}
