use obs_runtime::observe;

trait Store {
    #[observe]
    fn get(&self, key: &str) -> Option<String>;
}

fn main() {}
