// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use obs_runtime::observe;

#[observe]
async fn double(n: u64) -> u64 {
    n * 2
}

#[observe]
async fn fallible(n: u64) -> Result<u64, std::io::Error> {
    if n == 0 { Err(std::io::Error::other("zero")) } else { Ok(n) }
}

#[observe]
async fn borrows(text: &str) -> usize {
    text.len()
}

#[observe]
async fn calls_others() -> u64 {
    double(2).await + fallible(3).await.unwrap_or(0)
}

/// These futures never wait on anything, so one poll completes them.
fn block_on<F: Future>(fut: F) -> F::Output {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("nothing here waits"),
    }
}

fn main() {
    assert_eq!(block_on(double(21)), 42);
    assert!(block_on(fallible(0)).is_err());
    assert_eq!(block_on(borrows("four")), 4);
    assert_eq!(block_on(calls_others()), 7);
}
