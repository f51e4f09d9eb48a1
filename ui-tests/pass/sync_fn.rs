// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use obs_runtime::observe;

#[observe]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[observe]
fn nothing() {}

#[observe]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[observe]
fn early_return(n: i32) -> i32 {
    if n < 0 {
        return 0;
    }
    n
}

// Patterns are not recorded; `mut` bindings are.
#[observe]
fn patterns((a, b): (u32, u32), mut c: u32, _: u8) -> u32 {
    c += 1;
    a + b + c
}

#[observe]
fn question_mark(items: &[u32]) -> Option<u32> {
    let first = items.first()?;
    Some(*first)
}

fn main() {
    assert_eq!(patterns((1, 2), 3, 0), 7);
    assert_eq!(question_mark(&[]), None);
    assert_eq!(add(1, 2), 3);
    nothing();
    assert_eq!(parse("7"), Ok(7));
    assert!(parse("x").is_err());
    assert_eq!(early_return(-3), 0);
    assert_eq!(early_return(3), 3);
}
