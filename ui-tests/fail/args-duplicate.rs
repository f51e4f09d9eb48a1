use obs_runtime::observe;

#[observe(level = "info", level = "debug")]
fn twice() {}

#[observe(skip(a), err, skip(b))]
fn skip_twice(a: u32, b: u32) -> Result<(), ()> {
    let _ = (a, b);
    Ok(())
}

fn main() {}
