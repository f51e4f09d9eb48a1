//! Generated code never produces a warning on the user's code: one-line
//! bodies (which a nested block would make `unused_braces`), early returns,
//! unit bodies, every attribute.
#![deny(warnings)]

use obs_runtime::{node, observe, workflow};

#[derive(Debug)]
pub struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

impl From<obs_runtime::workflow::TimeoutError> for Failed {
    fn from(_: obs_runtime::workflow::TimeoutError) -> Self {
        Failed
    }
}

impl From<obs_runtime::workflow::budget::BudgetExceeded> for Failed {
    fn from(_: obs_runtime::workflow::budget::BudgetExceeded) -> Self {
        Failed
    }
}

#[observe]
pub fn sync_one_line(n: u32) -> Result<u32, Failed> { Ok(n) }

#[observe]
pub fn sync_early(n: u32) -> Result<u32, Failed> {
    if n == 0 {
        return Err(Failed);
    }
    let doubled = n.checked_mul(2).ok_or(Failed)?;
    Ok(doubled)
}

#[observe]
pub fn sync_unit() {}

#[observe]
pub async fn async_one_line(n: u32) -> Result<u32, Failed> { Ok(n) }

#[observe]
pub async fn async_unit() {}

#[node]
pub async fn node_one_line(n: u32) -> Result<u32, Failed> { Ok(n) }

#[node(retries = 2, timeout = "1s")]
pub async fn retried_one_line(n: u32) -> Result<u32, Failed> { Ok(n) }

#[workflow]
pub async fn workflow_one_line(n: u32) -> Result<u32, Failed> { Ok(n) }

#[workflow(deadline = "5s")]
pub async fn workflow_calls_nodes(n: u32) -> Result<u32, Failed> {
    let a = node_one_line(n).await?;
    retried_one_line(a).await
}

fn main() {}
