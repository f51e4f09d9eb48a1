// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use obs_runtime::observe;

trait Fetch {
    async fn fetch(&self, id: u64) -> Result<String, std::fmt::Error>;
    fn fetch_send(&self, id: u64) -> impl Future<Output = u64> + Send;
}

#[derive(Debug)]
struct Client;

impl Fetch for Client {
    #[observe]
    async fn fetch(&self, id: u64) -> Result<String, std::fmt::Error> {
        Ok(format!("item {id}"))
    }

    #[observe]
    fn fetch_send(&self, id: u64) -> impl Future<Output = u64> + Send {
        async move { id }
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("nothing here waits"),
    }
}

fn main() {
    assert_eq!(block_on(Client.fetch(1)).unwrap(), "item 1");
    assert_eq!(block_on(Client.fetch_send(2)), 2);
}
