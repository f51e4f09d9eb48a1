use obs_runtime::LabelValue;

#[derive(LabelValue)]
struct Tier {
    name: String,
}

#[derive(LabelValue)]
union Bits {
    a: u32,
}

fn main() {}
