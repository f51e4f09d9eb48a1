//! Every macro and derive reaches the runtime through `crate = path` when
//! `obs_runtime` is re-exported by another crate.
#![deny(warnings)]

mod reexport {
    // What a crate that re-exports obs would offer its users.
    pub use obs_runtime as obs;
}

use reexport::obs::health::TcpCheck;
use reexport::obs::{ErrorKind, HealthCheck, node, observe, workflow};

#[derive(Debug, ErrorKind)]
#[error_kind(crate = reexport::obs)]
enum JobError {
    OverBudget,
    TimedOut,
}

#[derive(Debug, ErrorKind)]
#[error_kind(crate = crate::reexport::obs)]
struct PlainError;

impl From<reexport::obs::workflow::budget::BudgetExceeded> for JobError {
    fn from(_: reexport::obs::workflow::budget::BudgetExceeded) -> Self {
        JobError::OverBudget
    }
}

impl From<reexport::obs::workflow::TimeoutError> for JobError {
    fn from(_: reexport::obs::workflow::TimeoutError) -> Self {
        JobError::TimedOut
    }
}

#[observe(crate = reexport::obs)]
fn function(a: u32) -> u32 {
    a
}

#[workflow(crate = reexport::obs, deadline = "1h", max_hops = 3)]
async fn job(id: u64) -> Result<u64, JobError> {
    step(id).await
}

#[node(crate = reexport::obs, retries = 2, backoff = "250us", timeout = "1.5m")]
async fn step(id: u64) -> Result<u64, JobError> {
    Ok(id)
}

#[derive(HealthCheck)]
#[health(crate = reexport::obs)]
struct AppHealth {
    #[health(timeout = "1h")]
    db: TcpCheck,
    #[health(timeout = "1500us")]
    cache: TcpCheck,
}

fn main() {
    use reexport::obs::ErrorKind as _;
    assert_eq!(function(1), 1);
    assert_eq!(JobError::OverBudget.kind(), "over_budget");
    assert_eq!(PlainError.kind(), "plain_error");
    let _ = job(1);
    reexport::obs::health::register(AppHealth {
        db: TcpCheck::new("127.0.0.1:5432"),
        cache: TcpCheck::new("127.0.0.1:6379"),
    });
}
