//! A small application with obs annotations everywhere, built with and
//! without `obs-runtime/disabled` by `scripts/disabled-check.sh`: it must
//! print the same results both ways, and with the feature its binary has no
//! obs call sites and its catalog is empty.

use obs_runtime::workflow::TimeoutError;
use obs_runtime::{ErrorKind, HealthCheck, node, observe, workflow};

#[derive(Debug, ErrorKind)]
enum ShopError {
    Declined,
    Timeout,
}

impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for ShopError {}

impl From<TimeoutError> for ShopError {
    fn from(_: TimeoutError) -> Self {
        ShopError::Timeout
    }
}

impl From<obs_runtime::workflow::budget::BudgetExceeded> for ShopError {
    fn from(_: obs_runtime::workflow::budget::BudgetExceeded) -> Self {
        ShopError::Timeout
    }
}

#[observe(skip(secret), err(Display))]
fn price_with_tax(cents: u64, secret: &str) -> Result<u64, ShopError> {
    let _ = secret;
    if cents > 10_000 { Err(ShopError::Declined) } else { Ok(cents * 108 / 100) }
}

struct Cart;

#[observe]
impl Cart {
    fn total(&self, items: &[u64]) -> u64 {
        items.iter().sum()
    }

    #[observe(skip_method)]
    fn empty(&self) -> bool {
        false
    }
}

#[node(retries = 2, backoff = "1ms", timeout = "1s")]
async fn charge(cents: u64) -> Result<u64, ShopError> {
    price_with_tax(cents, "hunter2")
}

#[workflow(deadline = "5s", max_hops = 10)]
async fn checkout(items: Vec<u64>) -> Result<u64, ShopError> {
    let total = Cart.total(&items);
    charge(total).await
}

struct Up;

impl obs_runtime::health::Check for Up {
    async fn check(&self) -> obs_runtime::health::CheckResult {
        obs_runtime::health::CheckResult::healthy()
    }
}

#[derive(HealthCheck)]
struct Health {
    #[health(critical)]
    db: Up,
}

fn main() {
    let guard =
        obs_runtime::builder().without_http().log_format(obs_runtime::log::LogFormat::Off).init().expect("init");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    println!("checkout(1, 2) = {:?}", runtime.block_on(checkout(vec![1, 2])));
    println!("checkout(20000) = {:?}", runtime.block_on(checkout(vec![20_000])));
    println!("empty = {}", Cart.empty());
    println!("kind = {}", obs_runtime::ErrorKind::kind(&ShopError::Declined));
    let health = runtime.block_on(obs_runtime::health::check_group(&Health { db: Up }));
    println!("health = {:?}", health.status());
    println!("service = {}", guard.service_name());
    // What differs: the catalog of instrumented call sites.
    eprintln!("catalog = {}", obs_runtime::catalog().len());
}
