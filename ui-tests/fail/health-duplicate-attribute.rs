use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    #[health(timeout = "1s")]
    #[health(timeout = "2s")]
    db: TcpCheck,
}

fn main() {}
