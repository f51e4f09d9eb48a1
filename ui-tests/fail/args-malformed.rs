use obs_runtime::observe;

#[observe(level = 3)]
fn level_number() {}

#[observe(level = "loud")]
fn level_unknown() {}

#[observe(skip = x)]
fn skip_assign(x: u32) -> u32 {
    x
}

#[observe(skip("x"))]
fn skip_string(x: u32) -> u32 {
    x
}

#[observe(name = some_fn)]
fn name_not_string() {}

#[observe(metrics = "no")]
fn metrics_string() {}

#[observe(skip_all = true)]
fn skip_all_value() {}

#[observe(err(Json))]
fn err_format() -> Result<(), ()> {
    Ok(())
}

#[observe(crate = "obs_runtime")]
fn crate_string() {}

#[observe(fields(a))]
fn field_without_value() {}

#[observe(fields)]
fn fields_without_list() {}

fn main() {}
