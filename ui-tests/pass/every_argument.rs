// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use obs_runtime::observe;

#[derive(Debug)]
struct Request {
    id: u64,
    path: String,
}

#[observe(name = "renamed")]
fn name() {}

#[observe(level = "trace")]
fn level_trace() {}

#[observe(level = "WARN")]
fn level_upper_case() {}

#[observe(level = "warning")]
fn level_warning() {}

#[observe(skip(b, c))]
fn skip(a: u32, b: u32, c: u32) -> u32 {
    a + b + c
}

#[observe(skip_all)]
fn skip_all(a: u32, b: u32) -> u32 {
    a + b
}

#[observe(fields(answer = 42, request.id = request.id, "http.route" = request.path.as_str(), r#type = "get"))]
fn fields(request: &Request) -> u64 {
    request.id
}

#[observe(fields(doubled = obs_runtime::__private::debug(n * 2), shown = obs_runtime::__private::display(n)))]
fn fields_debug_display(n: u32) -> u32 {
    n
}

#[observe(err)]
fn err(n: u32) -> Result<u32, std::fmt::Error> {
    if n == 0 { Err(std::fmt::Error) } else { Ok(n) }
}

#[observe(err(Debug))]
fn err_debug() -> Result<(), Vec<u8>> {
    Err(vec![1])
}

#[observe(err(Display))]
fn err_display() -> std::io::Result<()> {
    Err(std::io::Error::other("gone"))
}

#[observe(ret)]
fn ret() -> Vec<u8> {
    vec![1, 2]
}

#[observe(ret(Display))]
fn ret_display() -> String {
    "shown".into()
}

#[observe(ret, err)]
fn ret_and_err() -> Result<u8, std::fmt::Error> {
    Ok(1)
}

#[observe(metrics = false, poll_metrics = false)]
fn no_metrics() {}

#[observe(log = false)]
fn no_log() {}

#[observe(metrics = true, log = true)]
fn explicit_defaults() {}

#[observe(reveal(token))]
fn reveal(user: &str, token: &str) -> usize {
    user.len() + token.len()
}

// Parameters named like credentials are recorded as `[redacted]`, so they need not be `Debug`.
struct Secret(String);

#[observe]
fn redacted(password: Secret, api_key: &str) -> usize {
    password.0.len() + api_key.len()
}

mod reexport {
    // What a crate that re-exports obs would offer its users.
    pub use obs_runtime as obs;
}

#[observe(crate = reexport::obs)]
fn crate_path() {}

#[observe(crate = crate::reexport::obs, name = "all", level = "info", skip(b), fields(extra = 1), err(Display), ret, metrics = false, log = false)]
fn all_at_once(a: u32, b: u32) -> Result<u32, std::fmt::Error> {
    Ok(a + b)
}

#[rustfmt::skip] // keeps the trailing comma under test
#[observe(name = "trailing", skip_all,)]
fn trailing_comma(a: u32) -> u32 {
    a
}

fn main() {
    name();
    level_trace();
    level_upper_case();
    level_warning();
    assert_eq!(skip(1, 2, 3), 6);
    assert_eq!(skip_all(1, 2), 3);
    assert_eq!(fields(&Request { id: 7, path: "/users".into() }), 7);
    assert_eq!(fields_debug_display(3), 3);
    assert!(err(0).is_err());
    assert!(err_debug().is_err());
    assert!(err_display().is_err());
    assert_eq!(ret(), vec![1, 2]);
    assert_eq!(ret_display(), "shown");
    assert_eq!(ret_and_err(), Ok(1));
    no_metrics();
    no_log();
    explicit_defaults();
    assert_eq!(reveal("ann", "t0k"), 6);
    assert_eq!(redacted(Secret("pw".into()), "key"), 5);
    crate_path();
    assert_eq!(all_at_once(1, 2), Ok(3));
    assert_eq!(trailing_comma(4), 4);
}
