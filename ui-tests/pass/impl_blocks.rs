//! `#[observe]` on whole `impl` blocks: inherent, trait, generic and
//! `#[async_trait]` (in either order), with per-method overrides and opt-outs.
#![deny(warnings)]

use async_trait::async_trait;
use obs_runtime::observe;

#[derive(Debug)]
pub struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

pub struct Client {
    pub api_key: String,
}

#[observe(skip_all, level = "debug")]
impl Client {
    /// An associated const, left alone.
    pub const RETRIES: u32 = 3;

    pub fn refund(&self, order_id: u64) -> Result<u64, Failed> {
        if order_id == 0 { Err(Failed) } else { Ok(order_id) }
    }

    #[observe(level = "info", skip(password))]
    pub async fn login(&self, user: &str, password: &str) -> Result<usize, Failed> {
        Ok(user.len() + password.len())
    }

    #[observe(skip_method)]
    pub fn api_key_len(&self) -> usize {
        self.api_key.len()
    }

    pub const fn constant(&self) -> u32 {
        Self::RETRIES
    }
}

pub struct Cache<K, V> {
    pub entries: Vec<(K, V)>,
}

#[observe]
impl<K: PartialEq + std::fmt::Debug, V: Clone> Cache<K, V> {
    pub fn get(&self, key: &K) -> Option<V> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
}

#[async_trait]
pub trait Store {
    async fn get(&self, key: &str) -> Result<String, Failed>;
    fn len(&self) -> usize;
}

#[derive(Debug, Default)]
pub struct Memory(Vec<(String, String)>);

#[observe]
#[async_trait]
impl Store for Memory {
    async fn get(&self, key: &str) -> Result<String, Failed> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).ok_or(Failed)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Debug, Default)]
pub struct Disk;

#[async_trait]
#[observe]
impl Store for Disk {
    async fn get(&self, key: &str) -> Result<String, Failed> {
        Ok(key.to_owned())
    }

    fn len(&self) -> usize {
        0
    }
}

pub trait Named {
    fn name(&self) -> String;
}

#[observe]
impl Named for Client {
    fn name(&self) -> String {
        "client".to_owned()
    }
}

fn main() {
    let client = Client { api_key: "sk_live_x".into() };
    let _ = (client.refund(1), client.api_key_len(), client.constant(), client.name());
    let cache = Cache { entries: vec![(1u8, "a")] };
    let _ = cache.get(&1);
}
