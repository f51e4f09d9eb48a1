//! # obs: one attribute, three pillars
//!
//! Put [`#[observe]`](observe) on a function and call [`init`] once in `main`:
//! every call gets a `tracing` span, Prometheus metrics (calls by outcome,
//! errors by kind, a duration histogram, an in-flight gauge) and a JSON log
//! line carrying the trace id, all correlated.
//!
//! ```no_run
//! use obs_runtime::observe;
//!
//! #[derive(Debug)]
//! struct NotFound;
//! impl std::fmt::Display for NotFound {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("not found") }
//! }
//! impl std::error::Error for NotFound {}
//!
//! #[observe]
//! async fn fetch_user(id: u64) -> Result<String, NotFound> {
//!     if id == 0 { Err(NotFound) } else { Ok(format!("user {id}")) }
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let _guard = obs_runtime::init().expect("telemetry");
//!     let _ = fetch_user(7).await;
//!     // GET http://127.0.0.1:9464/metrics now shows obs_function_calls_total{function="fetch_user",...}
//! }
//! ```
//!
//! ## `#[observe]` arguments
//! | argument | effect |
//! |---|---|
//! | `name = "..."` | the `function` label and span name (default: the function's name, span `module::function`) |
//! | `level = "debug"` | the span's level and the success event's level (default: span `info`, success event `debug`) |
//! | `skip(a, b)`, `skip_all` | do not record these arguments (or any) on the span |
//! | `fields(key = expr, ...)` | extra span fields, evaluated at call time |
//! | `err`, `err(Debug)`, `err(Display)` | treat the return type as a `Result` and choose how errors are rendered |
//! | `ret`, `ret(Display)` | record the returned value on the end event |
//! | `metrics = false`, `log = false` | turn off metrics or the end-of-call log event |
//! | `reveal(token)` | record a parameter that looks like a credential (otherwise `[redacted]`) |
//! | `crate = path` | the path of `obs_runtime` when it is re-exported by another crate |
//!
//! Arguments are recorded on the span in their `Debug` form, as with
//! `tracing::instrument`; they never become metric labels.

mod call;
mod callsite;
mod config;
mod error;
pub mod export;
#[cfg(feature = "http")]
mod http;
pub mod log;
mod metrics;
pub mod propagation;
mod runtime;
#[cfg(feature = "otlp")]
pub mod trace;

#[doc(hidden)]
pub mod __private;

pub use callsite::{CallSite, Kind, catalog};
pub use config::{Builder, DEFAULT_BUCKETS, DEFAULT_HTTP_ADDR, InitError};
pub use error::{ErrorKind, short_type_name};
pub use metrics::{OVERFLOW, Status};
pub use obs_macros::{ErrorKind, observe};
pub use runtime::ObsGuard;
#[cfg(feature = "otlp")]
pub use trace::spawn;

/// Installs telemetry with defaults: the Prometheus recorder, JSON logs on
/// stdout filtered by `RUST_LOG` (default `info`), and `GET /metrics` on
/// `127.0.0.1:9464` (`OBS_HTTP_ADDR` overrides). A second call returns
/// [`InitError::AlreadyInitialized`].
///
/// Instrumented functions called before `init` run normally; their spans reach
/// any subscriber already installed, and their metrics are skipped.
pub fn init() -> Result<ObsGuard, InitError> {
    builder().init()
}

/// A [`Builder`] to configure what [`init`] installs.
pub fn builder() -> Builder {
    Builder::default()
}
