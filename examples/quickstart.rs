//! Every metric and log line of `#[observe]` within seconds: calls that
//! succeed, fail, panic and get cancelled, in a loop, with `/metrics` served.
//!
//! ```text
//! cargo run -p obs-examples --example quickstart
//! curl -s 127.0.0.1:9464/metrics | grep obs_function
//! curl -si 127.0.0.1:9464/health      # 200, then 503 while the fake dependency is down
//! ```
//!
//! A fake dependency (a TCP port this example opens and closes every 10 s)
//! makes `/health` go from 200 to 503 and back.

use std::time::Duration;

use obs_runtime::health::{DiskSpaceCheck, MemoryCheck, ShowDetails, TcpCheck};
use obs_runtime::{ErrorKind, HealthCheck, observe};

#[derive(HealthCheck)]
struct QuickstartHealth {
    /// Critical: while it is down, `/health` and `/health/ready` answer 503.
    #[health(name = "flaky_dependency", timeout = "1s")]
    flaky: TcpCheck,
    #[health(non_critical, liveness)]
    memory: MemoryCheck,
    #[health(non_critical)]
    disk: DiskSpaceCheck,
}

/// Listens on a local port for 10 s, closes it for 10 s, and so on.
fn flaky_dependency() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut listener = Some(listener);
        loop {
            std::thread::sleep(Duration::from_secs(10));
            listener = match listener.take() {
                Some(_up) => None,
                None => std::net::TcpListener::bind(addr).ok(),
            };
        }
    });
    addr.to_string()
}

#[derive(Debug, ErrorKind)]
enum LookupError {
    NotFound,
    Unavailable,
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::NotFound => f.write_str("no such user"),
            LookupError::Unavailable => f.write_str("user store unavailable"),
        }
    }
}

impl std::error::Error for LookupError {}

#[observe]
async fn lookup_user(id: u64) -> Result<String, LookupError> {
    tokio::time::sleep(Duration::from_millis(id % 7 * 3)).await;
    match id % 10 {
        3 => Err(LookupError::NotFound),
        7 => Err(LookupError::Unavailable),
        _ => Ok(format!("user-{id}")),
    }
}

#[observe(level = "info")]
fn price_with_tax(cents: u64) -> u64 {
    cents * 119 / 100
}

#[observe]
async fn slow_report(id: u64) -> usize {
    tokio::time::sleep(Duration::from_millis(200 + id)).await;
    42
}

#[observe]
fn parse_quantity(text: &str) -> u32 {
    text.parse().expect("quantity must be a number")
}

#[tokio::main]
async fn main() {
    let health = QuickstartHealth {
        flaky: TcpCheck::new(flaky_dependency()),
        memory: MemoryCheck::new(),
        disk: DiskSpaceCheck::new("/"),
    };
    let guard = obs_runtime::builder()
        .service_name("quickstart")
        .health(health)
        // Local example: show every check's error and details without a token.
        .health_details(ShowDetails::Always)
        .init()
        .expect("obs init");
    if let Some(addr) = guard.http_addr() {
        eprintln!("metrics at http://{addr}/metrics, health at http://{addr}/health");
    }
    let rounds: u64 = std::env::var("QUICKSTART_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
    for id in 0..rounds {
        let _ = lookup_user(id).await;
        price_with_tax(id * 100);
        // Cancelled: the timeout drops the call before it finishes.
        let _ = tokio::time::timeout(Duration::from_millis(20), slow_report(id)).await;
        if id % 5 == 4 {
            // Panics: recorded as status="panic", then caught here so the loop goes on.
            let _ = tokio::task::spawn_blocking(|| parse_quantity("many")).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
