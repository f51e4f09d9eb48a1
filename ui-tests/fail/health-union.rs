use obs_runtime::HealthCheck;

#[derive(HealthCheck)]
union AppHealth {
    a: u32,
    b: f32,
}

fn main() {}
