// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use std::fmt::Debug;

use obs_runtime::observe;

#[observe]
fn largest<T>(items: &[T]) -> Option<&T>
where
    T: Ord + Debug,
{
    items.iter().max()
}

#[observe]
fn convert<'a, T: Debug + Clone, const N: usize>(items: &'a [T; N]) -> Vec<T>
where
    T: 'a,
{
    items.to_vec()
}

#[observe(skip(f))]
fn apply<F, T>(value: T, f: F) -> T
where
    F: FnOnce(T) -> T,
    T: Debug,
{
    f(value)
}

#[observe]
fn parse_all<E>(items: &[&str]) -> Result<Vec<u32>, E>
where
    E: From<std::num::ParseIntError> + Debug,
{
    Ok(items.iter().map(|s| s.parse()).collect::<Result<_, _>>()?)
}

#[observe]
fn uses_impl_trait(value: impl Debug) -> String {
    format!("{value:?}")
}

#[observe]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

fn main() {
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(largest(&[1, 3, 2]), Some(&3));
    assert_eq!(convert(&[1u8, 2]), vec![1, 2]);
    assert_eq!(apply(2, |x| x * 3), 6);
    assert_eq!(parse_all::<std::num::ParseIntError>(&["1", "2"]), Ok(vec![1, 2]));
    assert_eq!(uses_impl_trait("x"), "\"x\"");
}
