use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    #[health(critical, non_critical)]
    db: TcpCheck,
}

fn main() {}
