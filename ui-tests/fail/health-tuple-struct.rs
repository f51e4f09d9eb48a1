use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth(TcpCheck);

fn main() {}
