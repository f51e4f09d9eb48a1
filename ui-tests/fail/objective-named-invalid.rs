use obs_runtime::observe;
use obs_runtime::ops::Objective;

const PERFECT: Objective = Objective::new().success(100.0);
const NOT_AN_OBJECTIVE: u32 = 3;

#[observe(objective = PERFECT)]
fn perfect() {}

#[observe(objective = NOT_AN_OBJECTIVE)]
fn wrong_type() {}

fn main() {}
