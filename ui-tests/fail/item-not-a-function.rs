use obs_runtime::observe;

#[observe]
struct Config {
    port: u16,
}

#[observe]
enum Mode {
    Fast,
}

#[observe(level = "loud")]
static LIMIT: u16 = 10;

fn main() {
    // The items are still emitted: no follow-on errors here.
    let config = Config { port: LIMIT };
    let _ = (config.port, Mode::Fast);
}
