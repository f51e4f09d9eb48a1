//! Correlation ids: the request id a caller sent (`X-Request-Id` unless the
//! layer names another header), or one made here, kept on the request's
//! server span so that every log line of the request carries `request_id`,
//! sent back in the response and on to the next hop.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header carrying the id unless [`HttpLayer::request_id_header`](super::HttpLayer::request_id_header) names another.
pub(crate) static DEFAULT_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id accepted from a caller; a longer one is replaced.
pub(crate) const MAX_LEN: usize = 128;

/// The id of the request being served, in the extensions of its server span.
#[derive(Clone, Debug)]
pub(crate) struct RequestId {
    pub header: HeaderName,
    pub value: HeaderValue,
}

impl RequestId {
    /// The caller's id when it is one (1 to [`MAX_LEN`] printable ASCII
    /// characters, no spaces), else a new one (32 hex digits).
    pub(crate) fn accept_or_make(headers: &HeaderMap, header: &HeaderName) -> RequestId {
        let value = headers.get(header).filter(|v| acceptable(v.as_bytes())).cloned().unwrap_or_else(make);
        RequestId { header: header.clone(), value }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Accepted or made here, it is visible ASCII.
        self.value.to_str().unwrap_or_default()
    }
}

fn acceptable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

fn make() -> HeaderValue {
    let mut hex = String::with_capacity(32);
    crate::log::format::write_hex(&mut hex, crate::log::SpanIds::new_child_of(None).trace_id, 32);
    HeaderValue::from_str(&hex).unwrap_or(HeaderValue::from_static("0"))
}

/// Keeps `id` on `span`, for [`current`] to find below it.
pub(crate) fn attach(span: &tracing::Span, id: RequestId) {
    crate::log::with_span(span, |span| span.set(id));
}

/// The id of the request the current span belongs to.
pub(crate) fn current() -> Option<RequestId> {
    crate::log::with_span(&tracing::Span::current(), |span| span.scope().find_map(|span| span.get::<RequestId>()))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_id_is_kept_when_it_is_short_and_printable_and_replaced_otherwise() {
        let with = |value: &[u8]| {
            let mut headers = HeaderMap::new();
            headers.insert(&DEFAULT_HEADER, HeaderValue::from_bytes(value).unwrap());
            RequestId::accept_or_make(&headers, &DEFAULT_HEADER).as_str().to_owned()
        };
        assert_eq!(with(b"req-42/abc"), "req-42/abc");
        for bad in [&b"has space"[..], &[b'x'; MAX_LEN + 1][..], "é".as_bytes(), b"tab\there"] {
            let made = with(bad);
            assert_eq!(made.len(), 32, "{bad:?} was replaced by {made}");
            assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        let none = RequestId::accept_or_make(&HeaderMap::new(), &DEFAULT_HEADER);
        assert_eq!(none.as_str().len(), 32);
        assert_ne!(none.as_str(), RequestId::accept_or_make(&HeaderMap::new(), &DEFAULT_HEADER).as_str());
    }
}
