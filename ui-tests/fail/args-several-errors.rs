use obs_runtime::observe;

#[observe(level = "loud", colour = "red", skip(nope), err, level = "info")]
fn everything_wrong(a: u32) -> u32 {
    a
}

fn main() {}
