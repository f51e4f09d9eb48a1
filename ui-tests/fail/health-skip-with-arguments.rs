use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    db: TcpCheck,
    #[health(skip, critical)]
    replica: TcpCheck,
}

fn main() {}
