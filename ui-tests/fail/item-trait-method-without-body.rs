use obs_runtime::observe;

trait Store {
    #[observe]
    fn get(&self, key: &str) -> Option<String>;
}

struct Memory;

// The trait is still emitted: implementing and calling it reports nothing more.
impl Store for Memory {
    #[observe(skip(self))]
    fn get(&self, key: &str) -> Option<String> {
        Some(key.to_owned())
    }
}

fn main() {
    let _ = Memory.get("key");
}
