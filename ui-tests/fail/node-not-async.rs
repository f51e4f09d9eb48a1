use obs_runtime::node;

#[node]
fn step(x: u32) -> u32 {
    x
}

fn main() {}
