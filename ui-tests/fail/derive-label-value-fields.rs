use obs_runtime::LabelValue;

#[derive(LabelValue)]
enum Plan {
    Free,
    Paid { seats: u32 },
    Custom(String),
}

#[derive(LabelValue)]
enum Renamed {
    #[label(rename = "same")]
    First,
    #[label(rename = "same")]
    Second,
    #[label(renam = "x")]
    Third,
}

#[derive(LabelValue)]
enum Empty {}

fn main() {}
