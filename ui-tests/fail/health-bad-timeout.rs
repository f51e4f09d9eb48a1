use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    #[health(timeout = "1 second")]
    db: TcpCheck,
    #[health(timeout = 5)]
    cache: TcpCheck,
}

fn main() {}
