#![deny(warnings)]

use obs_runtime::{LabelValue, node, workflow};

#[derive(Clone, Copy, Debug, LabelValue)]
enum Tier {
    Free,
    Pro,
}

#[derive(Clone, Debug)]
struct Order {
    tier: Tier,
    region: String,
}

#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl From<obs_runtime::workflow::budget::BudgetExceeded> for Failed {
    fn from(_: obs_runtime::workflow::budget::BudgetExceeded) -> Failed {
        Failed
    }
}

impl From<obs_runtime::workflow::TimeoutError> for Failed {
    fn from(_: obs_runtime::workflow::TimeoutError) -> Failed {
        Failed
    }
}

// Labels beside budgets, MLflow tracking and skipped arguments; the body moves what the labels read.
#[workflow(skip(order), max_hops = 10, mlflow(params(region)), labels(tier = order.tier, region = region.as_str()))]
async fn place(order: Order, region: String) -> Result<u32, Failed> {
    let packed = pack(order.clone(), order.tier).await?;
    drop(order);
    Ok(packed + region.len() as u32)
}

// Retries clone the arguments for each attempt; an argument only a label reads is still used.
#[node(retries = 2, timeout = "1s", labels(tier = tier, region = order.region.clone()))]
async fn pack(order: Order, tier: Tier) -> Result<u32, Failed> {
    Ok(order.region.len() as u32)
}

#[node(labels(tier = tier))]
async fn once(tier: Tier) {}

fn main() {
    let _ = place(Order { tier: Tier::Pro, region: "eu".into() }, "eu".into());
    let _ = once(Tier::Free);
}
