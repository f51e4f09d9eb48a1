use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
struct AppHealth {
    #[health(timeout = "250us")]
    db: TcpCheck,
    #[health(timeout = "2h")]
    cache: TcpCheck,
}

fn main() {}
