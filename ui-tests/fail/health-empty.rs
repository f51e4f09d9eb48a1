use obs_runtime::HealthCheck;

#[derive(HealthCheck)]
struct AppHealth {}

fn main() {}
