//! Why `init` can fail: the one error type of start-up, shared by the
//! settings, the start-up sequence and every exporter.

use std::fmt;
use std::net::SocketAddr;

/// Why [`init`](crate::init) could not complete. Nothing panics; the
/// application can carry on without telemetry. `Debug` prints the same
/// readable message as `Display` (it is what `.expect(..)` and
/// `fn main() -> Result<..>` show); neither ever contains a secret value.
#[non_exhaustive]
pub enum InitError {
    /// `init` already ran in this process.
    AlreadyInitialized,
    /// Another `metrics` recorder is installed; use `Builder::prometheus(false)` to keep it.
    RecorderAlreadySet,
    /// Another global `tracing` subscriber is installed; use
    /// `Builder::install_subscriber(false)` and add [`JsonLayer`](crate::log::JsonLayer) to yours.
    SubscriberAlreadySet,
    /// A setting is invalid (the message says which and why).
    Config(String),
    /// The HTTP endpoint could not bind its address.
    Bind(SocketAddr, std::io::Error),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyInitialized => f.write_str("obs_runtime::init was already called in this process"),
            InitError::RecorderAlreadySet => f.write_str(
                "a global `metrics` recorder is already installed; call `.prometheus(false)` on the builder to keep it",
            ),
            InitError::SubscriberAlreadySet => f.write_str(
                "a global `tracing` subscriber is already installed; call `.install_subscriber(false)` and add \
                 `obs_runtime::log::JsonLayer` to your own subscriber",
            ),
            InitError::Config(message) => write!(f, "invalid obs configuration: {message}"),
            InitError::Bind(addr, err) => write!(f, "cannot serve obs endpoints on {addr}: {err}"),
        }
    }
}

impl fmt::Debug for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Bind(_, err) => Some(err),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_reads_like_display() {
        let err = InitError::Config("histogram buckets must be ascending".into());
        assert_eq!(format!("{err:?}"), "invalid obs configuration: histogram buckets must be ascending");
        let bind = InitError::Bind("127.0.0.1:1".parse().unwrap(), std::io::ErrorKind::AddrInUse.into());
        assert_eq!(format!("{bind:?}"), bind.to_string());
    }
}
