use obs_runtime::HealthCheck;
use obs_runtime::health::TcpCheck;

#[derive(HealthCheck)]
#[health(crate = "obs_runtime")]
struct NotAPath {
    db: TcpCheck,
}

#[derive(HealthCheck)]
#[health(crate = obs_runtime, version = "1")]
struct UnknownKey {
    db: TcpCheck,
}

#[derive(HealthCheck)]
#[health(crate = obs_runtime)]
#[health(crate = obs_runtime)]
struct Duplicate {
    db: TcpCheck,
}

#[derive(HealthCheck)]
struct OnAField {
    #[health(crate = obs_runtime)]
    db: TcpCheck,
}

#[derive(HealthCheck)]
#[health(crate = obs_runtime, critical)]
struct FieldKeyOnTheStruct {
    db: TcpCheck,
}

fn main() {}
