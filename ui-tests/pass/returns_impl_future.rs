// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use obs_runtime::observe;

#[observe]
fn later(n: u32) -> impl Future<Output = u32> {
    async move { n + 1 }
}

#[observe]
fn later_result(n: u32) -> impl Future<Output = Result<u32, std::fmt::Error>> + Send {
    let ready = std::future::ready(Ok(n));
    ready
}

#[observe]
fn boxed(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { n * 2 })
}

fn block_on<F: Future>(fut: F) -> F::Output {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("nothing here waits"),
    }
}

fn main() {
    assert_eq!(block_on(later(1)), 2);
    assert_eq!(block_on(later_result(1)), Ok(1));
    assert_eq!(block_on(boxed(2)), 4);
}
