use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    #[health(name = "main db")]
    db: TcpCheck,
    #[health(name = "")]
    cache: TcpCheck,
}

fn main() {}
