use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    db: TcpCheck,
    #[health(name = "db")]
    replica: TcpCheck,
}

fn main() {}
