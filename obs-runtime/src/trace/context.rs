//! Between the W3C [`TraceContext`] of the propagation module and the
//! OpenTelemetry context of `tracing` spans.

use http::HeaderMap;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState as OtelTraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::propagation::{TraceContext, TraceState};

/// The W3C context of the current span (trace id, the span's own id, flags and
/// trace state): from OpenTelemetry when export is on, else from the log ids
/// obs's JSON layer keeps; `None` outside any span.
pub fn current_context() -> Option<TraceContext> {
    context_of(&tracing::Span::current())
}

pub(crate) fn context_of(span: &tracing::Span) -> Option<TraceContext> {
    if span.is_disabled() {
        return None;
    }
    let caller = crate::log::with_span(span, |span| span.scope().find_map(|span| span.get::<RemoteCaller>())).flatten();
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    if !sc.is_valid() {
        // No OpenTelemetry layer (no export configured): the ids of the log lines,
        // with the caller's flags and trace state when the trace came from one.
        let mut ctx = crate::log::with_log_ids(span, |ids| {
            TraceContext::new(ids.trace_id.to_be_bytes(), ids.span_id.to_be_bytes(), TraceContext::FLAG_SAMPLED)
        })?;
        match caller {
            Some(caller) => {
                ctx.flags = caller.flags;
                ctx.trace_state = caller.trace_state;
            }
            // Started here, with a random id (Trace Context Level 2's flag says so).
            None => ctx.flags |= TraceContext::FLAG_RANDOM,
        }
        return Some(ctx);
    }
    let mut ctx = TraceContext::new(sc.trace_id().to_bytes(), sc.span_id().to_bytes(), sc.trace_flags().to_u8());
    match caller {
        Some(caller) => {
            // The sampler decides `sampled`; the other bits (Level 2's
            // `random-trace-id`, reserved ones) are the caller's, which
            // OpenTelemetry clears on a span it does not sample.
            ctx.flags = (caller.flags & !TraceContext::FLAG_SAMPLED) | (ctx.flags & TraceContext::FLAG_SAMPLED);
            // OpenTelemetry's TraceState refuses keys the spec allows (Level 2 lets
            // `@` appear anywhere; even a 14-character system id is too long for
            // it) and then holds nothing: send on the caller's as parsed.
            ctx.trace_state = caller.trace_state;
        }
        None => {
            // Started here: OpenTelemetry's id generator draws trace ids at random.
            ctx.flags |= TraceContext::FLAG_RANDOM;
            ctx.trace_state = TraceState::parse(&sc.trace_state().header()).unwrap_or_default();
        }
    }
    Some(ctx)
}

/// Writes `traceparent` (and `tracestate` when not empty) for the current
/// span into outgoing request headers, and the correlation id of the request
/// being served through [`HttpLayer`](super::HttpLayer) (`X-Request-Id`, or
/// the header the layer names). Returns whether a trace context was written.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// obs_runtime::trace::inject_current(&mut headers); // no-op outside any span
/// ```
pub fn inject_current(headers: &mut HeaderMap) -> bool {
    #[cfg(feature = "http")]
    if let Some(id) = super::request_id::current() {
        headers.insert(id.header, id.value);
    }
    match current_context() {
        Some(ctx) => {
            ctx.inject(headers);
            true
        }
        None => false,
    }
}

/// Makes `span` a child of the remote caller's `parent`. Call it before the
/// span is first entered; returns whether the parent was set (on the exported
/// span when OpenTelemetry is active, on the span's log lines otherwise).
pub fn set_parent(span: &tracing::Span, parent: &TraceContext) -> bool {
    if !parent.is_valid() {
        return false;
    }
    let state = OtelTraceState::from_key_value(parent.trace_state.iter()).unwrap_or_default();
    let remote = SpanContext::new(
        TraceId::from_bytes(parent.trace_id),
        SpanId::from_bytes(parent.parent_id),
        TraceFlags::new(parent.flags),
        true,
        state,
    );
    let otel = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote)).is_ok();
    // Without an OpenTelemetry layer the caller's trace id still reaches the log
    // lines of this span and of the spans opened inside it.
    let logs = crate::log::with_log_ids(span, |ids| ids.trace_id = u128::from_be_bytes(parent.trace_id)).is_some();
    let caller = RemoteCaller { flags: parent.flags, trace_state: parent.trace_state.clone() };
    crate::log::with_span(span, |span| span.set(caller));
    otel || logs
}

/// Whether `span` starts its trace in this process: no parent span here and no
/// remote caller given to [`set_parent`] (the tail sampler records only such
/// traces when the head sampler drops them).
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) fn is_local_root(span: &tracing::Span) -> bool {
    crate::log::with_span(span, |span| span.parent().is_none() && !span.has::<RemoteCaller>()).unwrap_or(false)
}

/// What neither the log ids nor OpenTelemetry's context keep faithfully of a
/// remote parent: its flags (the log ids have none; its sampling decision
/// stands) and its `tracestate`, which the spec requires to be passed on
/// unchanged. Kept on the span given to [`set_parent`] and found by its
/// descendants.
#[derive(Clone)]
struct RemoteCaller {
    flags: u8,
    trace_state: TraceState,
}

/// Propagates the current trace on outgoing `reqwest` requests.
///
/// ```no_run
/// use obs_runtime::trace::RequestBuilderExt;
/// # async fn demo(client: reqwest::Client) -> reqwest::Result<()> {
/// let response = client.get("http://inventory/items").with_trace_context().send().await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "reqwest")]
pub trait RequestBuilderExt {
    /// Adds `traceparent` and `tracestate` for the current span, and the request id.
    fn with_trace_context(self) -> Self;
}

#[cfg(feature = "reqwest")]
impl RequestBuilderExt for reqwest::RequestBuilder {
    fn with_trace_context(self) -> Self {
        let mut headers = HeaderMap::new();
        inject_current(&mut headers);
        self.headers(headers)
    }
}

#[cfg(feature = "reqwest")]
impl RequestBuilderExt for reqwest::blocking::RequestBuilder {
    fn with_trace_context(self) -> Self {
        let mut headers = HeaderMap::new();
        inject_current(&mut headers);
        self.headers(headers)
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn with_otel(f: impl FnOnce()) {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    }

    /// The headers a call made inside a child of a server span continuing `caller` sends on.
    fn sent_on_from_a_child_of(caller: &TraceContext) -> HeaderMap {
        let server = tracing::info_span!("server");
        assert!(set_parent(&server, caller));
        let _entered = server.enter();
        let _child = tracing::info_span!("child").entered();
        let mut headers = HeaderMap::new();
        assert!(inject_current(&mut headers));
        headers
    }

    #[test]
    fn a_remote_parent_is_continued_by_children() {
        with_otel(|| {
            let server = tracing::info_span!("server");
            assert!(set_parent(&server, &TraceContext::from_traceparent(CALLER).unwrap()));
            let _entered = server.enter();
            let child = tracing::info_span!("child");
            let _child = child.enter();
            let ctx = current_context().expect("a context");
            assert_eq!(ctx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(ctx.span_id_hex(), "00f067aa0ba902b7", "our own span id is sent on");
            assert!(ctx.is_sampled());
            let mut headers = HeaderMap::new();
            assert!(inject_current(&mut headers));
            assert!(headers["traceparent"].to_str().unwrap().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
            assert!(headers.get("tracestate").is_none(), "an empty tracestate is never sent");
        });
    }

    #[test]
    fn log_lines_carry_the_opentelemetry_ids_even_under_a_scoped_dispatcher() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let lines = crate::log::MemoryWriter::new();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(crate::log::JsonLayer::new("svc", lines.clone()));
        let expected = tracing::subscriber::with_default(subscriber, || {
            let server = tracing::info_span!("server");
            set_parent(&server, &TraceContext::from_traceparent(CALLER).unwrap());
            let _entered = server.enter();
            // Another thread with its own scoped dispatcher must not matter.
            let (go, wait_go) = std::sync::mpsc::channel::<()>();
            let (ready, wait_ready) = std::sync::mpsc::channel::<()>();
            let other = std::thread::spawn(move || {
                tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
                    ready.send(()).unwrap();
                    let _ = wait_go.recv();
                });
            });
            wait_ready.recv().unwrap();
            tracing::info!("inside");
            go.send(()).unwrap();
            other.join().unwrap();
            current_context().unwrap()
        });
        let line = &lines.lines()[0];
        assert_eq!(line["trace_id"], expected.trace_id_hex());
        assert_eq!(line["span_id"], expected.span_id_hex());
    }

    #[test]
    fn with_opentelemetry_the_callers_flags_are_kept_but_sampled() {
        // Reserved bits (0x08) are cleared: the spec requires them to be sent as zero.
        for (received, sent) in [("00", "00"), ("01", "01"), ("02", "02"), ("03", "03"), ("08", "00"), ("09", "01")] {
            with_otel(|| {
                let caller = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{received}");
                let headers = sent_on_from_a_child_of(&TraceContext::from_traceparent(&caller).unwrap());
                let traceparent = headers["traceparent"].to_str().unwrap();
                assert!(traceparent.ends_with(&format!("-{sent}")), "{caller} sent on as {traceparent}");
            });
        }
    }

    #[test]
    fn a_trace_started_here_says_its_id_is_random() {
        with_otel(|| {
            let _root = tracing::info_span!("root").entered();
            let mut headers = HeaderMap::new();
            assert!(inject_current(&mut headers));
            let traceparent = headers["traceparent"].to_str().unwrap();
            assert!(traceparent.ends_with("-03"), "sampled and random: {traceparent}");
        });
    }

    #[test]
    fn a_tracestate_opentelemetry_refuses_is_still_sent_on() {
        with_otel(|| {
            let mut caller = TraceContext::from_traceparent(CALLER).unwrap();
            // A 241-character tenant id and a 14-character system id: the longest key
            // the Level 1 split allowed, and one Level 2 still allows.
            let longest = format!("{}@{}", "t".repeat(241), "v".repeat(14));
            caller.trace_state = TraceState::parse(&format!("foo=1,{longest}=1")).unwrap();
            assert!(OtelTraceState::from_key_value(caller.trace_state.iter()).is_err(), "OpenTelemetry refuses it");
            let headers = sent_on_from_a_child_of(&caller);
            assert!(headers["traceparent"].to_str().unwrap().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
            assert_eq!(headers["tracestate"], format!("foo=1,{longest}=1").as_str());
        });
    }

    #[test]
    fn with_opentelemetry_a_level_2_tracestate_with_repeated_keys_is_sent_on_unchanged() {
        with_otel(|| {
            let mut caller = TraceContext::from_traceparent(CALLER).unwrap();
            // Keys only Level 2's grammar allows, and a key the sender repeated.
            let received = "0vendor=1,a@b@c=2,x@=3,0vendor=4";
            caller.trace_state = TraceState::parse(received).unwrap();
            assert_eq!(caller.trace_state.len(), 4);
            let headers = sent_on_from_a_child_of(&caller);
            assert_eq!(headers["tracestate"], received);
        });
    }

    #[test]
    fn without_opentelemetry_the_callers_flags_and_tracestate_reach_the_next_hop() {
        let subscriber = tracing_subscriber::registry().with(crate::log::JsonLayer::new("svc", std::io::sink));
        tracing::subscriber::with_default(subscriber, || {
            let mut caller =
                TraceContext::from_traceparent("00-12345678901234567890123456789012-1234567890123456-00").unwrap();
            caller.trace_state = TraceState::parse("foo=1,bar=2").unwrap();
            let headers = sent_on_from_a_child_of(&caller);
            let traceparent = headers["traceparent"].to_str().unwrap();
            assert!(traceparent.starts_with("00-12345678901234567890123456789012-"), "{traceparent}");
            assert!(traceparent.ends_with("-00"), "not sampled by the caller, so not by us: {traceparent}");
            assert_ne!(&traceparent[36..52], "1234567890123456", "our own span id is sent on");
            assert_eq!(headers["tracestate"], "foo=1,bar=2");
        });
        // A trace started here has no caller to take them from.
        let subscriber = tracing_subscriber::registry().with(crate::log::JsonLayer::new("svc", std::io::sink));
        tracing::subscriber::with_default(subscriber, || {
            let _entered = tracing::info_span!("root").entered();
            let ctx = current_context().unwrap();
            assert_eq!(ctx.flags, TraceContext::FLAG_SAMPLED | TraceContext::FLAG_RANDOM, "a random id of our own");
            assert!(ctx.trace_state.is_empty());
        });
    }

    #[test]
    fn nothing_is_injected_without_opentelemetry() {
        let mut headers = HeaderMap::new();
        assert!(!inject_current(&mut headers));
        assert!(headers.is_empty());
    }
}
