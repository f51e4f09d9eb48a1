use obs_runtime::observe;

#[observe(nmae = "typo")]
fn misspelled() {}

#[observe(target = "app")]
fn from_tracing() {}

#[observe(skipall)]
fn close_to_one_key() {}

fn main() {}
