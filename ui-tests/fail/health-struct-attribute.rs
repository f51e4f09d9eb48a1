use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
#[health(critical)]
struct AppHealth {
    db: TcpCheck,
}

fn main() {}
