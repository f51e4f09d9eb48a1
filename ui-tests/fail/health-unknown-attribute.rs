use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    #[health(optional)]
    db: TcpCheck,
}

fn main() {}
