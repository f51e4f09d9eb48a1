use obs_runtime::HealthCheck;

#[derive(HealthCheck)]
enum AppHealth {
    Db,
}

fn main() {}
