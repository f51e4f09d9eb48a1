use std::sync::Arc;

use obs_runtime::HealthCheck;

#[derive(HealthCheck)]
struct AppHealth {
    #[health(skip)]
    config: Arc<String>,
}

fn main() {}
