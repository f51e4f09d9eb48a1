//! A large `baggage` header costs what its first members cost, not what the
//! whole header holds: parsing stops at the W3C limits, and `HttpLayer`, which
//! has no use for baggage, does not parse it at all.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use http::{HeaderMap, HeaderValue, Request};
use obs_runtime::propagation::{self, Baggage};
use obs_runtime::trace::HttpLayer;
use tower_layer::Layer;
use tower_service::Service;

/// Counts the bytes allocated by the current thread, so that tests running in
/// parallel do not disturb each other.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised
// thread-local without destructor, so touching it does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|bytes| bytes.set(bytes.get() + layout.size()));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated on this thread while `f` runs, and its result.
fn allocated_by<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATED.with(Cell::get);
    let result = f();
    (ALLOCATED.with(Cell::get) - before, result)
}

/// A 64 KB `baggage` value of about 13 000 valid members.
fn huge_baggage() -> HeaderMap {
    let value: String = (0..13_000).map(|i| format!("k{i}=v,")).collect::<String>()[..65_536].to_owned();
    let mut headers = HeaderMap::new();
    headers.insert("baggage", HeaderValue::from_str(&value).unwrap());
    headers.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    headers
}

#[test]
fn parsing_a_huge_baggage_allocates_for_64_members_only() {
    let headers = huge_baggage();
    let (bytes, baggage) = allocated_by(|| Baggage::from_headers(&headers));
    assert_eq!(baggage.len(), Baggage::MAX_MEMBERS);
    assert_eq!(baggage.iter().last().unwrap().key(), "k63");
    // 64 small entries: a few kilobytes, whatever the header's size.
    assert!(bytes < 16 * 1024, "{bytes} bytes allocated to parse 64 members");

    let (bytes, (ctx, baggage)) = allocated_by(|| propagation::extract(&headers));
    assert!(ctx.is_some());
    assert_eq!(baggage.len(), Baggage::MAX_MEMBERS);
    assert!(bytes < 16 * 1024, "{bytes} bytes allocated by extract");
}

#[test]
fn a_single_member_over_the_byte_limit_is_not_decoded() {
    let mut headers = HeaderMap::new();
    let value = format!("a=1,big={},c=3", "%41".repeat(20_000));
    headers.insert("baggage", HeaderValue::from_str(&value).unwrap());
    let (bytes, baggage) = allocated_by(|| Baggage::from_headers(&headers));
    assert_eq!(baggage.to_header_value(), "a=1", "the prefix that fits");
    assert!(bytes < 4 * 1024, "{bytes} bytes allocated");
}

/// Completes at once with an empty response.
#[derive(Clone)]
struct Ok200;

impl<B> Service<Request<B>> for Ok200 {
    type Response = http::Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(String::new())))
    }
}

#[test]
fn http_layer_does_not_parse_baggage() {
    let mut service = HttpLayer::new().layer(Ok200);
    let mut small = Request::new(());
    small.headers_mut().insert("traceparent", huge_baggage()["traceparent"].clone());
    let mut large = Request::new(());
    *large.headers_mut() = huge_baggage();
    // Warm up what is set up once (metric descriptions, handles).
    drop(service.call(Request::new(())));
    let (without, _) = allocated_by(|| drop(service.call(small)));
    let (with, _) = allocated_by(|| drop(service.call(large)));
    // Parsing even the 64 members the limits keep would cost several kilobytes more.
    assert!(with <= without + 512, "{with} bytes with a 64 KB baggage header, {without} without");
}
