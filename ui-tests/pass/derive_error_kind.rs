// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use obs_runtime::{ErrorKind, observe};

#[derive(Debug, ErrorKind)]
enum FetchError {
    NotFound,
    Timeout { after_ms: u64 },
    Io(std::io::Error),
    HTTPStatus(u16),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for FetchError {}

#[derive(Debug, ErrorKind)]
enum Generic<E: std::fmt::Debug> {
    Inner(E),
}

#[derive(Debug, ErrorKind)]
enum Never {}

#[derive(Debug, ErrorKind)]
struct RateLimited;

#[observe]
fn fetch(id: u64) -> Result<String, FetchError> {
    match id {
        0 => Err(FetchError::NotFound),
        1 => Err(FetchError::Timeout { after_ms: 5 }),
        _ => Ok(format!("item {id}")),
    }
}

fn main() {
    assert_eq!(FetchError::NotFound.kind(), "not_found");
    assert_eq!(FetchError::Timeout { after_ms: 1 }.kind(), "timeout");
    assert_eq!(FetchError::Io(std::io::Error::other("x")).kind(), "io");
    assert_eq!(FetchError::HTTPStatus(500).kind(), "http_status");
    assert_eq!(Generic::Inner(1).kind(), "inner");
    assert_eq!(RateLimited.kind(), "rate_limited");
    let _ = |never: &Never| never.kind();
    assert!(fetch(0).is_err());
    assert!(fetch(2).is_ok());
}
