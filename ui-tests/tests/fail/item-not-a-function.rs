use obs_runtime::observe;

#[observe]
struct Config {
    port: u16,
}

#[observe]
impl Config {
    fn port(&self) -> u16 {
        self.port
    }
}

#[observe]
static LIMIT: u32 = 10;

fn main() {}
