//! Distributed tracing glue: continuing a caller's trace, passing ours on,
//! and keeping spawned tasks inside the current span.
//!
//! * [`HttpLayer`] (feature `http`): a tower layer for axum servers that
//!   continues the incoming W3C trace, opens a server span and records HTTP
//!   server metrics.
//! * [`inject_current`], [`current_context`] and, with the `reqwest` feature,
//!   [`RequestBuilderExt`]: W3C headers for outgoing requests.
//! * [`spawn`]: `tokio::spawn` whose task stays a child of the current span.
//!
//! The ids come from the OpenTelemetry layer [`init`](crate::init) installs
//! when OTLP export is on. Without export they are the ids of the JSON log
//! lines: an incoming trace is still continued in the logs and passed on to
//! the next hop, so log correlation across services needs no tracing backend.

mod context;
#[cfg(feature = "http")]
mod request_id;
#[cfg(feature = "http")]
mod server;

#[cfg(feature = "reqwest")]
pub use context::RequestBuilderExt;
pub(crate) use context::is_local_root;
pub use context::{current_context, inject_current, set_parent};
#[cfg(feature = "http")]
pub use server::{HttpLayer, HttpService};

/// The context a request made from here carries: the current span's when
/// OpenTelemetry export is active, else `incoming`'s trace with a fresh parent
/// id, else a new sampled trace. For code that forwards a call by hand (a
/// proxy, a test server) rather than through [`inject_current`].
pub fn next_hop_context(incoming: Option<&crate::propagation::TraceContext>) -> crate::propagation::TraceContext {
    use crate::propagation::TraceContext;
    if let Some(current) = current_context() {
        return current;
    }
    let ids = crate::log::SpanIds::new_child_of(None);
    match incoming {
        Some(parent) => TraceContext { parent_id: ids.span_id.to_be_bytes(), ..parent.clone() },
        None => TraceContext::new(
            ids.trace_id.to_be_bytes(),
            ids.span_id.to_be_bytes(),
            TraceContext::FLAG_SAMPLED | TraceContext::FLAG_RANDOM,
        ),
    }
}

/// `tokio::spawn`, with the task inside the current span: spans it opens are
/// children of the caller's, and its log lines carry the same trace id.
///
/// ```no_run
/// # async fn work() {}
/// # async fn demo() {
/// let handle = obs_runtime::trace::spawn(async { work().await });
/// handle.await.unwrap();
/// # }
/// ```
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    use tracing::Instrument as _;
    tokio::spawn(future.in_current_span())
}
