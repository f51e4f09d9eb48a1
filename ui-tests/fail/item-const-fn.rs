use obs_runtime::observe;

#[observe]
const fn answer() -> u32 {
    42
}

fn main() {
    // The function is still emitted: no follow-on error here.
    let _ = answer();
}
