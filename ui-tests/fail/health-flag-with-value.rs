use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    #[health(critical = true)]
    db: TcpCheck,
    #[health]
    cache: TcpCheck,
}

fn main() {}
