// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use async_trait::async_trait;
use obs_runtime::observe;

#[async_trait]
trait Store {
    async fn get(&self, key: &str) -> Result<String, std::io::Error>;
    async fn put(&mut self, key: String, value: String);
}

#[derive(Debug, Default)]
struct Memory(Vec<(String, String)>);

#[async_trait]
impl Store for Memory {
    #[observe]
    async fn get(&self, key: &str) -> Result<String, std::io::Error> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).ok_or_else(|| std::io::Error::other("missing"))
    }

    #[observe(skip(value))]
    async fn put(&mut self, key: String, value: String) {
        self.0.push((key, value));
    }
}

// A store that is not `Debug`, so its receiver is skipped.
struct Remote;

#[async_trait]
impl Store for Remote {
    #[observe(skip(self), err(Display))]
    async fn get(&self, key: &str) -> Result<String, std::io::Error> {
        Ok(key.to_uppercase())
    }

    #[observe(skip_all)]
    async fn put(&mut self, _key: String, _value: String) {}
}

fn main() {
    let mut memory = Memory::default();
    let _ = memory.put("a".into(), "1".into());
    let _ = Remote.get("a");
}
