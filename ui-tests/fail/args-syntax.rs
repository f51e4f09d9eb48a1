use obs_runtime::observe;

#[observe(level = )]
fn missing_value() {}

fn main() {
    // The function is still emitted, so calling it reports nothing more.
    missing_value();
}
