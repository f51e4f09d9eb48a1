// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use std::sync::Arc;

use obs_runtime::HealthCheck;
use obs_runtime::health::{Check, CheckResult, DiskSpaceCheck, HttpCheck, MemoryCheck, TcpCheck, from_fn};

struct Config;

struct AlwaysUp;

impl Check for AlwaysUp {
    async fn check(&self) -> CheckResult {
        CheckResult::healthy()
    }
}

/// A group nested inside another one.
#[derive(HealthCheck)]
struct Storage {
    #[health(critical, timeout = "1s")]
    db: TcpCheck,
    #[health(non_critical)]
    disk: DiskSpaceCheck,
}

#[derive(HealthCheck)]
pub struct AppHealth<C: Check> {
    storage: Storage,
    #[health(name = "cache", readiness, timeout = "250ms")]
    redis: TcpCheck,
    #[health(liveness, non_critical)]
    memory: MemoryCheck,
    upstream: HttpCheck,
    #[health(liveness, readiness)]
    custom: C,
    r#loop: AlwaysUp,
    #[health(skip)]
    _config: Arc<Config>,
}

fn main() {
    let health = AppHealth {
        storage: Storage { db: TcpCheck::new("127.0.0.1:5432"), disk: DiskSpaceCheck::new("/") },
        redis: TcpCheck::new("127.0.0.1:6379"),
        memory: MemoryCheck::new(),
        upstream: HttpCheck::new("http://127.0.0.1:8080/health"),
        custom: from_fn(|| async { Ok::<(), std::io::Error>(()) }),
        r#loop: AlwaysUp,
        _config: Arc::new(Config),
    };
    obs_runtime::health::register(health);
}
