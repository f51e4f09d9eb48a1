//! The `traceparent` header and [`TraceContext`].

use http::{HeaderMap, HeaderName, HeaderValue};

use super::tracestate::TraceState;
use super::{TRACEPARENT_HEADER, TRACESTATE_HEADER, trim_ows};

/// Length of a version-`00` `traceparent` value: `vv-<32 hex>-<16 hex>-ff`.
const TRACEPARENT_LEN: usize = 55;

/// A remote span context carried by the W3C `traceparent` and `tracestate` headers.
///
/// Values returned by [`TraceContext::from_headers`] and
/// [`TraceContext::from_traceparent`] always have non-zero ids. The fields are
/// public, so a hand-built value may not; [`TraceContext::is_valid`] checks this,
/// and [`TraceContext::inject`] writes nothing for an invalid context.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The 16-byte trace id. All zeroes is invalid.
    pub trace_id: [u8; 16],
    /// The 8-byte id of the caller's span (the `parent-id` field). All zeroes is invalid.
    pub parent_id: [u8; 8],
    /// The trace flags byte: bit 0 ([`TraceContext::FLAG_SAMPLED`]) is `sampled`,
    /// bit 1 ([`TraceContext::FLAG_RANDOM`]) is Trace Context Level 2's
    /// `random-trace-id`. The other six bits are reserved and the spec requires
    /// them to be zero: they are cleared when a header is parsed and never sent
    /// (see [`TraceContext::to_traceparent`]), whatever this field holds.
    pub flags: u8,
    /// The vendor-specific `tracestate` members that travel with this context.
    pub trace_state: TraceState,
}

impl TraceContext {
    /// The `sampled` bit of [`TraceContext::flags`].
    pub const FLAG_SAMPLED: u8 = 0x01;
    /// The Level 2 `random-trace-id` bit of [`TraceContext::flags`]: at least the
    /// right-most 7 bytes of the trace id were randomly generated.
    pub const FLAG_RANDOM: u8 = 0x02;
    /// The flag bits this version of the spec defines; the others are reserved.
    pub const KNOWN_FLAGS: u8 = Self::FLAG_SAMPLED | Self::FLAG_RANDOM;

    /// Builds a context with an empty [`TraceState`].
    pub fn new(trace_id: [u8; 16], parent_id: [u8; 8], flags: u8) -> Self {
        Self { trace_id, parent_id, flags, trace_state: TraceState::new() }
    }

    /// Whether the caller may have recorded trace data (bit 0 of the flags).
    pub fn is_sampled(&self) -> bool {
        self.flags & Self::FLAG_SAMPLED != 0
    }

    /// Whether the Level 2 `random-trace-id` flag (bit 1) is set.
    pub fn has_random_trace_id(&self) -> bool {
        self.flags & Self::FLAG_RANDOM != 0
    }

    /// Whether both ids are non-zero, i.e. whether the spec allows sending this context.
    pub fn is_valid(&self) -> bool {
        self.trace_id != [0; 16] && self.parent_id != [0; 8]
    }

    /// The trace id as 32 lowercase hex characters.
    pub fn trace_id_hex(&self) -> String {
        encode_hex(&self.trace_id)
    }

    /// The parent (span) id as 16 lowercase hex characters.
    pub fn span_id_hex(&self) -> String {
        encode_hex(&self.parent_id)
    }

    /// Parses one `traceparent` value. The returned context has an empty trace state.
    ///
    /// Leading and trailing optional whitespace (space, tab) is ignored, as HTTP
    /// does not count it as part of a field value. Everything else must follow the
    /// spec exactly: lowercase hex, non-zero ids, version other than `ff`, exactly
    /// 55 characters for version `00`, and for a higher version 55 characters
    /// that are either the whole value or followed by `-`.
    pub fn from_traceparent(value: &str) -> Option<Self> {
        parse_traceparent(value.as_bytes())
    }

    /// Extracts a context from the `traceparent` and `tracestate` headers.
    ///
    /// Returns `None` when `traceparent` is missing, repeated or invalid; the
    /// `tracestate` is then ignored too. An invalid `tracestate` does not affect
    /// the result beyond leaving [`TraceContext::trace_state`] empty (see
    /// [`TraceState::from_headers`]).
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(TRACEPARENT_HEADER).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        let mut ctx = parse_traceparent(value.as_bytes())?;
        ctx.trace_state = TraceState::from_headers(headers);
        Some(ctx)
    }

    /// Serialises the context as a version-`00` `traceparent` value, e.g.
    /// `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
    ///
    /// A context parsed from a higher version is written as version `00`, as
    /// the spec requires ("downgrade the version"), and reserved flag bits are
    /// written as zero.
    pub fn to_traceparent(&self) -> String {
        let mut out = String::with_capacity(TRACEPARENT_LEN);
        out.push_str("00-");
        push_hex(&mut out, &self.trace_id);
        out.push('-');
        push_hex(&mut out, &self.parent_id);
        out.push('-');
        push_hex(&mut out, &[self.flags & Self::KNOWN_FLAGS]);
        out
    }

    /// Writes `traceparent` and, when the trace state is not empty, `tracestate`,
    /// replacing any values already in `headers`.
    ///
    /// An empty `tracestate` is never inserted: a stale `tracestate` already in
    /// `headers` is removed instead, so it cannot be paired with this context.
    /// If the context is not [valid](TraceContext::is_valid), both headers are
    /// removed and nothing is written.
    pub fn inject(&self, headers: &mut HeaderMap) {
        let traceparent = HeaderName::from_static(TRACEPARENT_HEADER);
        let tracestate = HeaderName::from_static(TRACESTATE_HEADER);
        if !self.is_valid() {
            headers.remove(&traceparent);
            headers.remove(&tracestate);
            return;
        }
        match HeaderValue::from_str(&self.to_traceparent()) {
            Ok(value) => {
                headers.insert(traceparent, value);
            }
            Err(_) => {
                headers.remove(&traceparent);
            }
        }
        let state = self.trace_state.to_header_value();
        match HeaderValue::from_str(&state) {
            Ok(value) if !state.is_empty() => {
                headers.insert(tracestate, value);
            }
            _ => {
                headers.remove(&tracestate);
            }
        }
    }
}

impl std::fmt::Display for TraceContext {
    /// Formats the context as its `traceparent` value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_traceparent())
    }
}

/// Parses a raw `traceparent` value (any bytes; never panics).
fn parse_traceparent(raw: &[u8]) -> Option<TraceContext> {
    let value = trim_ows(raw);
    if value.len() < TRACEPARENT_LEN {
        return None;
    }
    let (head, rest) = value.split_at(TRACEPARENT_LEN);
    if head[2] != b'-' || head[35] != b'-' || head[52] != b'-' {
        return None;
    }
    let [version] = decode_hex::<1>(&head[..2])?;
    match version {
        0xff => return None,
        // Version 00 has exactly four fields.
        0x00 if !rest.is_empty() => return None,
        // Future versions may append fields, each introduced by a dash.
        _ if !rest.is_empty() && rest[0] != b'-' => return None,
        _ => {}
    }
    let trace_id = decode_hex::<16>(&head[3..35])?;
    let parent_id = decode_hex::<8>(&head[36..52])?;
    let [flags] = decode_hex::<1>(&head[53..55])?;
    let ctx = TraceContext::new(trace_id, parent_id, flags & TraceContext::KNOWN_FLAGS);
    ctx.is_valid().then_some(ctx)
}

/// Decodes exactly `2 * N` lowercase hex digits.
fn decode_hex<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (lower_hex_value(pair[0])? << 4) | lower_hex_value(pair[1])?;
    }
    Some(out)
}

/// The value of one `HEXDIGLC` (`0-9a-f`); uppercase is rejected as the spec requires.
fn lower_hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const TRACE_ID: [u8; 16] =
        [0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36];
    const PARENT_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];

    fn parse(value: &str) -> Option<TraceContext> {
        TraceContext::from_traceparent(value)
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn parses_spec_example() {
        let ctx = parse(VALID).unwrap();
        assert_eq!(ctx.trace_id, TRACE_ID);
        assert_eq!(ctx.parent_id, PARENT_ID);
        assert_eq!(ctx.flags, 0x01);
        assert!(ctx.is_sampled());
        assert!(!ctx.has_random_trace_id());
        assert!(ctx.trace_state.is_empty());
        assert_eq!(ctx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(ctx.to_traceparent(), VALID);
        assert_eq!(ctx.to_string(), VALID);
    }

    #[test]
    fn known_flags_are_kept_reserved_ones_cleared() {
        for (hex, sampled, random, sent) in [
            ("00", false, false, "00"),
            ("01", true, false, "01"),
            ("02", false, true, "02"),
            ("03", true, true, "03"),
            ("04", false, false, "00"),
            ("09", true, false, "01"),
            ("fe", false, true, "02"),
            ("ff", true, true, "03"),
        ] {
            let value = format!("{}{hex}", &VALID[..53]);
            let ctx = parse(&value).unwrap();
            assert_eq!(ctx.is_sampled(), sampled, "{value}");
            assert_eq!(ctx.has_random_trace_id(), random, "{value}");
            assert_eq!(ctx.flags & !TraceContext::KNOWN_FLAGS, 0, "{value}");
            assert_eq!(ctx.to_traceparent(), format!("{}{sent}", &VALID[..53]));
        }
    }

    #[test]
    fn reserved_flags_of_a_hand_built_context_are_never_sent() {
        let mut map = HeaderMap::new();
        TraceContext::new(TRACE_ID, PARENT_ID, 0xfd).inject(&mut map);
        assert_eq!(map["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    }

    #[test]
    fn rejects_wrong_lengths() {
        assert!(parse("").is_none());
        assert!(parse(&VALID[..54]).is_none());
        assert!(parse(&format!("{VALID}0")).is_none());
        // Each field one character short or long, total length kept at 55.
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01").is_none());
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-701").is_none());
        assert!(parse("0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_none());
        assert!(parse("00-12345678901234567890123456789012-1234567890123456-001").is_none());
        assert!(parse("00-12345678901234567890123456789012-1234567890123456-1").is_none());
    }

    #[test]
    fn rejects_bad_characters() {
        for (index, bad) in [(5, 'g'), (40, 'z'), (54, 'x'), (1, '.'), (10, ' ')] {
            let mut value = VALID.to_string();
            value.replace_range(index..=index, &bad.to_string());
            assert!(parse(&value).is_none(), "{value}");
        }
        // Wrong delimiters.
        assert!(parse("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_none());
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e4736.00f067aa0ba902b7-01").is_none());
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01").is_none());
    }

    #[test]
    fn rejects_uppercase_hex_in_every_field() {
        assert!(parse(&VALID.to_uppercase()).is_none());
        assert!(parse("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_none());
        assert!(parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01").is_none());
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A").is_none());
    }

    #[test]
    fn rejects_all_zero_ids() {
        assert!(parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01").is_none());
        assert!(parse("00-00000000000000000000000000000001-0000000000000001-00").is_some());
    }

    #[test]
    fn version_rules() {
        let body = &VALID[2..];
        assert!(parse(&format!("ff{body}")).is_none());
        assert!(parse(&format!("ff{body}-extra")).is_none());
        // Version 00 must not carry extra fields.
        assert!(parse(&format!("00{body}-")).is_none());
        assert!(parse(&format!("00{body}-what-the-future-will-not-be-like")).is_none());
        // Higher versions: exactly 55 characters, or followed by a dash.
        for version in ["01", "02", "cc", "fe"] {
            for suffix in ["", "-", "-what-the-future-will-be-like", "-\u{e9}"] {
                let value = format!("{version}{body}{suffix}");
                let ctx = parse(&value).unwrap_or_else(|| panic!("{value}"));
                assert_eq!(ctx.to_traceparent(), VALID, "downgraded to 00");
            }
            assert!(parse(&format!("{version}{body}.future")).is_none());
            assert!(parse(&format!("{version}{body}0")).is_none());
        }
        // A higher version still needs its first 55 characters valid.
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1").is_none());
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7").is_none());
        assert!(parse("01-00000000000000000000000000000000-00f067aa0ba902b7-01-x").is_none());
        assert!(parse("01-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01-x").is_none());
    }

    #[test]
    fn surrounding_optional_whitespace_is_ignored() {
        for value in [
            format!(" {VALID}"),
            format!("\t{VALID}"),
            format!("{VALID} "),
            format!("{VALID}\t"),
            format!(" \t {VALID} \t "),
        ] {
            assert_eq!(parse(&value).unwrap().to_traceparent(), VALID, "{value:?}");
        }
        assert!(parse(&VALID.replace("-00f0", "- 00f0")).is_none());
    }

    #[test]
    fn from_headers_reads_both_headers() {
        let map = headers(&[
            ("traceparent", VALID.as_bytes()),
            ("tracestate", b"rojo=00f067aa0ba902b7"),
            ("tracestate", b"congo=t61rcWkgMzE"),
        ]);
        let ctx = TraceContext::from_headers(&map).unwrap();
        assert_eq!(ctx.trace_id, TRACE_ID);
        assert_eq!(ctx.trace_state.to_header_value(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    }

    #[test]
    fn from_headers_header_name_is_case_insensitive() {
        let map = headers(&[("TraceParent", VALID.as_bytes())]);
        assert!(TraceContext::from_headers(&map).is_some());
    }

    #[test]
    fn from_headers_rejects_missing_duplicate_and_invalid() {
        assert!(TraceContext::from_headers(&HeaderMap::new()).is_none());
        let same = headers(&[("traceparent", VALID.as_bytes()), ("traceparent", VALID.as_bytes())]);
        assert!(TraceContext::from_headers(&same).is_none());
        let bad = headers(&[("traceparent", b"00-xyz"), ("tracestate", b"a=b")]);
        assert!(TraceContext::from_headers(&bad).is_none());
        let non_utf8 = headers(&[("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-\xff\xfe")]);
        assert!(TraceContext::from_headers(&non_utf8).is_none());
    }

    #[test]
    fn invalid_tracestate_keeps_traceparent() {
        let map = headers(&[("traceparent", VALID.as_bytes()), ("tracestate", b"a=1,B=2")]);
        let ctx = TraceContext::from_headers(&map).unwrap();
        assert_eq!(ctx.to_traceparent(), VALID);
        assert!(ctx.trace_state.is_empty());
        let map = headers(&[("traceparent", VALID.as_bytes()), ("tracestate", b"a=\xff")]);
        assert!(TraceContext::from_headers(&map).unwrap().trace_state.is_empty());
    }

    #[test]
    fn inject_round_trips_and_skips_empty_tracestate() {
        let mut ctx = TraceContext::new(TRACE_ID, PARENT_ID, 0x03);
        let mut map = headers(&[("tracestate", b"stale=1"), ("traceparent", b"stale")]);
        ctx.inject(&mut map);
        assert_eq!(map.get_all("traceparent").iter().count(), 1);
        assert_eq!(map["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
        assert!(map.get("tracestate").is_none(), "empty tracestate never sent");

        ctx.trace_state.insert("congo", "t61rcWkgMzE").unwrap();
        ctx.inject(&mut map);
        assert_eq!(map["tracestate"], "congo=t61rcWkgMzE");
        assert_eq!(TraceContext::from_headers(&map), Some(ctx));
    }

    #[test]
    fn inject_writes_nothing_for_invalid_context() {
        let mut map = headers(&[("traceparent", VALID.as_bytes()), ("tracestate", b"a=b")]);
        TraceContext::new([0; 16], PARENT_ID, 1).inject(&mut map);
        assert!(map.is_empty());
        TraceContext::new(TRACE_ID, [0; 8], 1).inject(&mut map);
        assert!(map.is_empty());
    }

    #[test]
    fn hex_helpers() {
        assert_eq!(decode_hex::<2>(b"0aff"), Some([0x0a, 0xff]));
        assert_eq!(decode_hex::<2>(b"0aFF"), None);
        assert_eq!(decode_hex::<2>(b"0af"), None);
        assert_eq!(encode_hex(&[0x00, 0x9f, 0xa0]), "009fa0");
    }
}
