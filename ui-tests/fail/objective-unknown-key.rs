use obs_runtime::observe;

#[observe(objective(sucess = 99.9))]
fn typo() {}

#[observe(objective(success = 99.0, success = 99.9))]
fn twice() {}

#[observe(objective)]
fn bare() {}

fn main() {}
