//! One failure, one ERROR line. A failure is logged in full (at ERROR, with its
//! source chain) by the innermost instrumented unit it happened in; each unit
//! around it that then fails with the same error (same kind, or a message that
//! contains the inner one) logs its end at WARN, with `cause` naming the unit
//! that logged the error, instead of repeating it at ERROR. So a declined
//! payment is one ERROR (`function.error` of `charge_card`) and two WARNs
//! (`node.error` and `workflow.error`, `"cause": "charge_card"`), and an ERROR
//! alert counts failures, not the depth of the call tree.
//!
//! The marks live on the spans, in obs's span store or in the span extensions
//! of tracing-subscriber's registry (obs's subscriber with OTLP export, a test
//! capture, or the user's own registry-based one); with any other subscriber
//! every unit logs at ERROR as before. Only failing calls get here.

use tracing::Span;

use super::store::with_span;

/// The last failure logged at ERROR inside a span (by one of its descendants).
#[derive(Clone)]
struct LoggedInside {
    name: &'static str,
    kind: &'static str,
    message: String,
}

/// The unit whose ERROR line already reported the failure `span`'s call ends with, if any.
pub(crate) fn logged_inside(span: &Span, kind: &str, message: &str) -> Option<&'static str> {
    if span.is_disabled() {
        return None;
    }
    with_span(span, |span| {
        let inner = span.get::<LoggedInside>()?;
        let same = inner.kind == kind || (!inner.message.is_empty() && message.contains(inner.message.as_str()));
        same.then_some(inner.name)
    })
    .flatten()
}

/// Records on every span enclosing `span` that `name` logged a failure of `kind` at ERROR.
pub(crate) fn mark_enclosing(span: &Span, name: &'static str, kind: &'static str, message: &str) {
    if span.is_disabled() {
        return;
    }
    with_span(span, |span| {
        for parent in span.scope().skip(1) {
            parent.set(LoggedInside { name, kind, message: message.to_owned() });
        }
    });
}
