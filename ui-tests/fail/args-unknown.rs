use obs_runtime::observe;

#[observe(nmae = "typo")]
fn misspelled() {}

#[observe(target = "app")]
fn from_tracing() {}

fn main() {}
