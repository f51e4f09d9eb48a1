//! W3C Trace Context and W3C Baggage propagation over HTTP headers.
//!
//! * [`TraceContext`]: the `traceparent` header (version, trace id, parent id,
//!   flags) plus its companion [`TraceState`] (`tracestate`).
//! * [`Baggage`]: the `baggage` header, user key/value entries with optional
//!   properties.
//! * [`extract`] and [`inject`] read and write all three headers at once.
//!
//! Parsing never panics, whatever the header bytes (non-UTF-8 included), and
//! never fails loudly: what the specs call invalid is ignored, as they require.
//!
//! ```
//! use obs_runtime::propagation::{self, TraceContext};
//! use http::HeaderMap;
//!
//! let mut incoming = HeaderMap::new();
//! incoming.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
//! incoming.insert("baggage", "tenant=acme".parse().unwrap());
//!
//! let (parent, mut baggage) = propagation::extract(&incoming);
//! let parent = parent.expect("a valid traceparent");
//! // Continue the caller's trace under our own span id.
//! let ours = TraceContext { parent_id: [1, 2, 3, 4, 5, 6, 7, 8], ..parent };
//! baggage.insert("region", "eu west").unwrap();
//!
//! let mut outgoing = HeaderMap::new();
//! propagation::inject(&ours, &baggage, &mut outgoing);
//! assert_eq!(outgoing["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01");
//! assert_eq!(outgoing["baggage"], "tenant=acme,region=eu%20west");
//! ```
//!
//! # How the specs are read
//!
//! Trace Context (the Level 2 editor's draft; Level 1 is the W3C Recommendation):
//! * `traceparent` is `version-traceid-parentid-flags` in lowercase hex.
//!   Surrounding spaces and tabs are HTTP optional whitespace and are ignored
//!   (the W3C test suite expects this); anything else that is off makes the
//!   header invalid: wrong lengths, non-hex or uppercase hex, all-zero trace or
//!   parent id, version `ff`, more than one `traceparent` header.
//! * Version `00` must be exactly 55 characters. A higher version is accepted
//!   when its first 55 characters parse and are the whole value or are followed
//!   by `-`; its extra fields are ignored and it is re-sent as version `00`.
//! * Flags: bit 0 is `sampled`, bit 1 is Level 2's `random-trace-id`. The other
//!   six are reserved and "vendors MUST set those to zero": they are cleared on
//!   parsing and written as zero whatever a context holds, so nothing reserved
//!   is ever sent on.
//! * An invalid `traceparent` discards `tracestate` as well. Multiple
//!   `tracestate` headers are combined; empty members are allowed and not counted.
//! * `tracestate` keys follow Level 2's grammar: `( lcalpha / DIGIT ) 0*255
//!   ( keychar )`, `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
//!   The older `tenant@system` split with its 241/14 lengths is gone: `@` is one
//!   more key character, anywhere after the first, any number of times, and
//!   every key the grammar accepts is propagated.
//! * A repeated `tracestate` key no longer invalidates the header: "only one
//!   entry per key" is the sender's duty, and the receiver may keep the entries
//!   as they are or drop a duplicate that is not its own. They are kept as
//!   received (so a pass-through changes nothing); [`TraceState::get`] reads the
//!   left-most, and [`TraceState::insert`] leaves one entry for the key it
//!   writes. A member that breaks the grammar (bad key or value, no `=`), more
//!   than 32 members, or non-ASCII bytes still drop the whole `tracestate`
//!   while `traceparent` is kept.
//!
//! Baggage (W3C Baggage):
//! * Multiple `baggage` headers are combined. Invalid members are skipped and
//!   the valid ones kept; a member is invalid if any of its properties is.
//! * Values are percent-decoded (malformed escapes make the member invalid,
//!   undecodable UTF-8 becomes U+FFFD) and percent-encoded when sent.
//!   Property values are opaque and kept verbatim.
//! * Limits (the Candidate Recommendation text, which replaced the draft's
//!   180 members and 4096 bytes per member): a platform must propagate all
//!   list-members when the resulting `baggage-string` has at most 64 of them and
//!   at most 8192 bytes, and may drop members until both hold. Read here as: at
//!   most [`Baggage::MAX_MEMBERS`] members and [`Baggage::MAX_BYTES`] bytes of
//!   the header this module sends (commas included, no whitespace). Whole
//!   members are dropped from the end, never cut: parsing keeps the longest
//!   prefix of valid members that fits and stops reading at the first that does
//!   not, so the work and memory of a huge header are those of its first 64
//!   members. A member longer than 8192 bytes as received already breaks the
//!   limit on its own and ends parsing without being decoded; invalid members
//!   take no room. [`propagation::extract`](extract) is the only caller that
//!   reads baggage: `HttpLayer` continues the trace without parsing it.
//! * Duplicate keys are kept in order; [`Baggage::get`] returns the last one.

mod baggage;
mod traceparent;
mod tracestate;

use http::HeaderMap;

pub use baggage::{Baggage, BaggageEntry, BaggageError, BaggageProperty};
pub use traceparent::TraceContext;
pub use tracestate::{TraceState, TraceStateError};

/// The `traceparent` header name.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE_HEADER: &str = "tracestate";
/// The `baggage` header name.
pub const BAGGAGE_HEADER: &str = "baggage";

/// Reads the trace context and the baggage from request headers.
///
/// The context is `None` when there is no valid `traceparent` (see
/// [`TraceContext::from_headers`]); the baggage is read independently and may
/// be empty.
pub fn extract(headers: &HeaderMap) -> (Option<TraceContext>, Baggage) {
    (TraceContext::from_headers(headers), Baggage::from_headers(headers))
}

/// Writes `traceparent`, `tracestate` and `baggage`, replacing existing values.
///
/// Empty `tracestate` and `baggage` headers are never written (existing ones are
/// removed); see [`TraceContext::inject`] and [`Baggage::inject`].
pub fn inject(ctx: &TraceContext, baggage: &Baggage, headers: &mut HeaderMap) {
    ctx.inject(headers);
    baggage.inject(headers);
}

/// Strips HTTP optional whitespace (spaces and horizontal tabs) from both ends.
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    //! Cross-module tests: `extract`/`inject`, and a deterministic fuzz loop that
    //! throws random and near-valid headers at every parser.

    use super::*;
    use http::HeaderValue;

    /// xorshift64*: a small deterministic generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
        }

        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }

        fn string_from(&mut self, chars: &[u8], min: usize, max: usize) -> String {
            let len = min + self.below(max - min + 1);
            (0..len).map(|_| char::from(self.pick(chars))).collect()
        }
    }

    const ALPHABET: &[u8] = b"0123456789abcdefABCDEF-,;=%@ \t_*/!~.xyz\"\\\x7f\x80\xe9\xff";
    const LOWER_OR_DIGIT: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    const KEY_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-*/@";
    const TOKEN_CHARS: &[u8] = b"!#$%&'*+-.^_`|~azAZ09";
    const VALID_TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn random_bytes(rng: &mut Rng) -> Vec<u8> {
        let len = rng.below(90);
        if rng.chance(50) {
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            (0..len).map(|_| rng.pick(ALPHABET)).collect()
        }
    }

    fn mutate(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
        for _ in 0..rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(6) {
                0 if at < bytes.len() => bytes[at] = rng.pick(ALPHABET),
                1 => bytes.insert(at, rng.pick(ALPHABET)),
                2 if at < bytes.len() => drop(bytes.remove(at)),
                3 => bytes.truncate(at),
                4 => {
                    let copy = bytes[at..].to_vec();
                    bytes.extend_from_slice(&copy);
                }
                _ if at < bytes.len() => bytes[at] = bytes[at].to_ascii_uppercase(),
                _ => {}
            }
        }
        bytes
    }

    fn random_traceparent(rng: &mut Rng) -> String {
        let hex: &[u8] = b"0123456789abcdef";
        let id = |rng: &mut Rng, len| {
            let chars = if rng.chance(5) { b"0" } else { hex };
            rng.string_from(chars, len, len)
        };
        let version = if rng.chance(70) { "00".to_owned() } else { id(rng, 2) };
        let (trace_id, parent_id, flags) = (id(rng, 32), id(rng, 16), rng.string_from(hex, 2, 2));
        let mut value = format!("{version}-{trace_id}-{parent_id}-{flags}");
        if rng.chance(20) {
            value.push_str(&format!("-{}", rng.string_from(ALPHABET, 0, 10)));
        }
        value
    }

    /// A valid tracestate and its expected members (or near-limit variants).
    fn random_tracestate(rng: &mut Rng) -> (String, Vec<(String, String)>) {
        let count = rng.below(35);
        let mut members: Vec<(String, String)> = Vec::new();
        let mut parts = Vec::new();
        for _ in 0..count {
            let key = match rng.below(10) {
                // Repeat an earlier key: the sender's mistake, kept as received.
                0 if !members.is_empty() => members[rng.below(members.len())].0.clone(),
                _ => rng.string_from(LOWER_OR_DIGIT, 1, 1) + &rng.string_from(KEY_CHARS, 0, 12),
            };
            let value_chars: Vec<u8> = (0x20..=0x7e).filter(|&b| b != b',' && b != b'=').collect();
            let value = rng.string_from(&value_chars, 0, 20) + &rng.string_from(b"x!~", 1, 1);
            let ows = rng.string_from(b" \t", 0, 2);
            parts.push(format!("{ows}{key}={value}{ows}"));
            if rng.chance(10) {
                parts.push(ows);
            }
            members.push((key, value));
        }
        (parts.join(","), members)
    }

    /// A baggage value and its expected `(key, decoded value)` entries.
    fn random_baggage(rng: &mut Rng) -> (String, Vec<(String, String)>) {
        let mut expected: Vec<(String, String)> = Vec::new();
        let mut built = Baggage::new();
        for _ in 0..rng.below(12) {
            let key = rng.string_from(TOKEN_CHARS, 1, 8);
            let value: String =
                (0..rng.below(12)).map(|_| char::from_u32(rng.below(0x3000) as u32).unwrap_or('?')).collect();
            let mut props = Vec::new();
            for _ in 0..rng.below(3) {
                let value = rng.string_from(b"ab=%!", 0, 4);
                let value = rng.chance(50).then_some(value.as_str());
                props.push(BaggageProperty::new(rng.string_from(TOKEN_CHARS, 1, 4), value).unwrap());
            }
            built.insert_with_properties(key.clone(), value.clone(), props).unwrap();
            // An existing key keeps its place.
            match expected.iter().position(|(k, _)| *k == key) {
                Some(index) => expected[index].1 = value,
                None => expected.push((key, value)),
            }
        }
        let ows = rng.string_from(b" \t", 0, 2);
        let separator = format!("{ows},{ows}");
        (built.to_header_value().replace(',', &separator), expected)
    }

    /// The expected `to_traceparent()` of a single raw header, written
    /// independently of the real parser (field splitting instead of offsets).
    fn oracle(raw: &[u8]) -> Option<String> {
        let start = raw.iter().position(|b| !b" \t".contains(b))?;
        let end = raw.iter().rposition(|b| !b" \t".contains(b))? + 1;
        let fields: Vec<&[u8]> = raw[start..end].split(|&b| b == b'-').collect();
        let hex = |f: &[u8], len: usize| f.len() == len && f.iter().all(|b| b"0123456789abcdef".contains(b));
        let ok = fields.len() >= 4
            && hex(fields[0], 2)
            && fields[0] != b"ff"
            && (fields[0] != b"00" || fields.len() == 4)
            && hex(fields[1], 32)
            && fields[1].iter().any(|&b| b != b'0')
            && hex(fields[2], 16)
            && fields[2].iter().any(|&b| b != b'0')
            && hex(fields[3], 2);
        let text = |i: usize| String::from_utf8_lossy(fields[i]).into_owned();
        // Reserved flag bits are never sent on: only `sampled` and `random-trace-id` survive.
        let flags = |i: usize| u8::from_str_radix(&text(i), 16).map_or(0, |f| f & 0x03);
        ok.then(|| format!("00-{}-{}-{:02x}", text(1), text(2), flags(3)))
    }

    fn header_value(bytes: &[u8]) -> HeaderValue {
        // HeaderValue refuses controls other than tab; replace them.
        let clean = |&b: &u8| {
            if b.is_ascii_control() && b != b'\t' { b'~' } else { b }
        };
        let cleaned: Vec<u8> = bytes.iter().map(clean).collect();
        HeaderValue::from_bytes(&cleaned).unwrap()
    }

    fn check_invariants(ctx: &Option<TraceContext>, baggage: &Baggage) {
        if let Some(ctx) = ctx {
            assert!(ctx.is_valid());
            let reparsed = TraceContext::from_traceparent(&ctx.to_traceparent()).unwrap();
            assert_eq!(reparsed, TraceContext::new(ctx.trace_id, ctx.parent_id, ctx.flags));
            let state = &ctx.trace_state;
            assert!(state.len() <= TraceState::MAX_MEMBERS);
            assert_eq!(TraceState::parse(&state.to_header_value()).as_ref(), Some(state));
        }
        let header = baggage.to_header_value();
        assert!(baggage.len() <= Baggage::MAX_MEMBERS);
        assert!(header.len() <= Baggage::MAX_BYTES);
        assert_eq!(&Baggage::parse(&header), baggage);
        let mut map = HeaderMap::new();
        if let Some(ctx) = ctx {
            inject(ctx, baggage, &mut map);
        } else {
            baggage.inject(&mut map);
        }
        assert_eq!(&extract(&map), &(ctx.clone(), baggage.clone()));
    }

    #[test]
    fn fuzz_traceparent() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..30_000 {
            let raw = match round % 3 {
                0 => random_bytes(&mut rng),
                1 => random_traceparent(&mut rng).into_bytes(),
                _ => {
                    let base = rng.pick(&[VALID_TP, "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x"]);
                    mutate(&mut rng, base.as_bytes().to_vec())
                }
            };
            let value = header_value(&raw);
            let mut map = HeaderMap::new();
            map.append(TRACEPARENT_HEADER, value.clone());
            let ctx = TraceContext::from_headers(&map);
            let expected = oracle(value.as_bytes());
            assert_eq!(ctx.as_ref().map(TraceContext::to_traceparent), expected, "{value:?}");
            if let Ok(text) = std::str::from_utf8(value.as_bytes()) {
                assert_eq!(TraceContext::from_traceparent(text), ctx);
            }
            check_invariants(&ctx, &Baggage::new());
            // A second traceparent header, even an identical one, invalidates both.
            map.append(TRACEPARENT_HEADER, value);
            assert!(TraceContext::from_headers(&map).is_none());
        }
    }

    #[test]
    fn fuzz_tracestate() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        for round in 0..10_000 {
            let (valid, members) = random_tracestate(&mut rng);
            let raw = match round % 3 {
                0 => random_bytes(&mut rng),
                1 => valid.clone().into_bytes(),
                _ => mutate(&mut rng, valid.clone().into_bytes()),
            };
            if round % 3 == 1 {
                let parsed = TraceState::parse(&valid);
                if members.len() <= TraceState::MAX_MEMBERS {
                    let got: Vec<(&str, &str)> = parsed.as_ref().unwrap().iter().collect();
                    let want: Vec<(&str, &str)> = members.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    assert_eq!(got, want, "{valid:?}");
                } else {
                    assert!(parsed.is_none(), "{valid:?}");
                }
            }
            let mut map = HeaderMap::new();
            map.append(TRACEPARENT_HEADER, HeaderValue::from_static(VALID_TP));
            let value = header_value(&raw);
            map.append(TRACESTATE_HEADER, value.clone());
            let single = rng.chance(70);
            if !single {
                map.append(TRACESTATE_HEADER, header_value(&mutate(&mut rng, raw)));
            }
            let ctx = TraceContext::from_headers(&map);
            assert!(ctx.is_some(), "a bad tracestate never affects traceparent");
            if let (true, Ok(text)) = (single, std::str::from_utf8(value.as_bytes())) {
                let parsed = TraceState::parse(text).unwrap_or_default();
                assert_eq!(parsed, ctx.as_ref().unwrap().trace_state);
            }
            check_invariants(&ctx, &Baggage::new());
        }
    }

    #[test]
    fn fuzz_baggage() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        for round in 0..10_000 {
            let (valid, entries) = random_baggage(&mut rng);
            let raw = match round % 3 {
                0 => random_bytes(&mut rng),
                1 => valid.clone().into_bytes(),
                _ => mutate(&mut rng, valid.clone().into_bytes()),
            };
            if round % 3 == 1 {
                let parsed = Baggage::parse(&valid);
                let got: Vec<(&str, &str)> = parsed.iter().map(|e| (e.key(), e.value())).collect();
                let want: Vec<(&str, &str)> = entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                assert_eq!(got, want, "{valid:?}");
            }
            let mut map = HeaderMap::new();
            map.append(BAGGAGE_HEADER, header_value(&raw));
            if rng.chance(30) {
                map.append(BAGGAGE_HEADER, header_value(&mutate(&mut rng, raw.clone())));
            }
            let baggage = Baggage::from_headers(&map);
            if let Ok(text) = std::str::from_utf8(&raw) {
                check_invariants(&None, &Baggage::parse(text));
            }
            check_invariants(&None, &baggage);
        }
    }

    #[test]
    fn extract_and_inject_all_headers() {
        let mut incoming = HeaderMap::new();
        incoming.insert(TRACEPARENT_HEADER, HeaderValue::from_static(VALID_TP));
        let tracestate = HeaderValue::from_static("congo=t61rcWkgMzE");
        incoming.append(TRACESTATE_HEADER, tracestate);
        incoming.append(BAGGAGE_HEADER, HeaderValue::from_static("userId=alice"));
        let node = HeaderValue::from_static("serverNode=DF%2028");
        incoming.append(BAGGAGE_HEADER, node);
        let (ctx, baggage) = extract(&incoming);
        let ctx = ctx.unwrap();
        assert_eq!(ctx.trace_state.get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(baggage.get("serverNode"), Some("DF 28"));

        let mut outgoing = HeaderMap::new();
        inject(&ctx, &baggage, &mut outgoing);
        assert_eq!(outgoing.len(), 3);
        assert_eq!(outgoing[TRACEPARENT_HEADER], VALID_TP);
        assert_eq!(outgoing[TRACESTATE_HEADER], "congo=t61rcWkgMzE");
        assert_eq!(outgoing[BAGGAGE_HEADER], "userId=alice,serverNode=DF%2028");
        assert_eq!(extract(&outgoing), (Some(ctx), baggage));
    }

    #[test]
    fn extract_keeps_baggage_without_traceparent() {
        let mut map = HeaderMap::new();
        map.insert(TRACEPARENT_HEADER, HeaderValue::from_static("00-bad"));
        map.insert(TRACESTATE_HEADER, HeaderValue::from_static("a=1"));
        map.insert(BAGGAGE_HEADER, HeaderValue::from_static("k=v"));
        let (ctx, baggage) = extract(&map);
        assert!(ctx.is_none());
        assert_eq!(baggage.get("k"), Some("v"));
        assert_eq!(extract(&HeaderMap::new()), (None, Baggage::new()));
    }

    #[test]
    fn inject_never_writes_empty_headers() {
        let ctx = TraceContext::from_traceparent(VALID_TP).unwrap();
        let mut map = HeaderMap::new();
        for name in [TRACEPARENT_HEADER, TRACESTATE_HEADER, BAGGAGE_HEADER] {
            map.append(name, HeaderValue::from_static("old=1"));
            map.append(name, HeaderValue::from_static("old=2"));
        }
        inject(&ctx, &Baggage::new(), &mut map);
        assert_eq!(map.len(), 1);
        assert_eq!(map[TRACEPARENT_HEADER], VALID_TP);
        // Non-empty values replace all existing ones.
        let baggage = Baggage::parse("a=1 , b=%20");
        inject(&ctx, &baggage, &mut map);
        assert_eq!(map.get_all(BAGGAGE_HEADER).iter().count(), 1);
        assert_eq!(map[BAGGAGE_HEADER], "a=1,b=%20");
        assert_eq!(extract(&map), (Some(ctx), baggage));
    }

    #[test]
    fn module_docs_example() -> Result<(), Box<dyn std::error::Error>> {
        let mut request = HeaderMap::new();
        request.insert(TRACEPARENT_HEADER, HeaderValue::from_static(VALID_TP));
        let (my_span_id, new_trace_id) = ([7; 8], [9; 16]);
        let (parent, mut baggage) = extract(&request);
        let mut ctx = match parent {
            Some(parent) => TraceContext { parent_id: my_span_id, ..parent },
            None => TraceContext::new(new_trace_id, my_span_id, TraceContext::FLAG_SAMPLED),
        };
        ctx.trace_state.insert("obs", "s:1")?;
        baggage.insert("tenant", "acme corp")?;
        let mut outgoing = HeaderMap::new();
        inject(&ctx, &baggage, &mut outgoing);
        assert_eq!(outgoing[TRACEPARENT_HEADER], "00-4bf92f3577b34da6a3ce929d0e0e4736-0707070707070707-01");
        assert_eq!(outgoing[TRACESTATE_HEADER], "obs=s:1");
        assert_eq!(outgoing[BAGGAGE_HEADER], "tenant=acme%20corp");
        Ok(())
    }

    #[test]
    fn trim_ows_only_strips_space_and_tab() {
        assert_eq!(trim_ows(b" \t a b \t "), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(trim_ows(b"\na\r"), b"\na\r");
    }
}
