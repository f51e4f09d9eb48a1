//! Property tests of the W3C parsers, through the public API: whatever the
//! header bytes (up to 64 KB, several headers), parsing never panics, stays
//! within the limits, and every accepted value round-trips through `inject`.
//!
//! The default run is short (proptest's 256 cases per property). For a long
//! run, set `PROPTEST_CASES`, e.g.
//! `PROPTEST_CASES=200000 cargo test -p obs-runtime --release --test propagation_props`.

use http::{HeaderMap, HeaderValue};
use obs_runtime::propagation::{self, Baggage, TraceContext, TraceState};
use proptest::prelude::*;

/// Bytes a `HeaderValue` accepts (visible ASCII, space, tab, obs-text).
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(b"0123456789abcdef-,;=%@ \t_*/!~.xyzABF\"\\".to_vec()),
        1 => 0x20u8..=0x7e,
        1 => 0x80u8..=0xff,
        1 => Just(b'\t'),
    ]
}

/// Junk from a few bytes up to 64 KB.
fn junk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(header_byte(), 0..128),
        2 => prop::collection::vec(header_byte(), 0..4096),
        // Up to 64 KB, built from a short random pattern so that generating it stays cheap.
        1 => (prop::collection::vec(header_byte(), 1..64), 60_000..=65_536usize)
            .prop_map(|(pattern, len)| pattern.iter().copied().cycle().take(len).collect()),
    ]
}

/// A near-valid `traceparent`: right shape, random fields and suffixes.
fn traceparent() -> impl Strategy<Value = Vec<u8>> {
    ("[0-9a-f]{2}", "[0-9a-f]{32}", "[0-9a-f]{16}", "[0-9a-f]{2}", prop::option::of("-[ -~]{0,20}"), " {0,2}").prop_map(
        |(v, t, p, f, rest, ows)| format!("{ows}{v}-{t}-{p}-{f}{}{ows}", rest.unwrap_or_default()).into_bytes(),
    )
}

/// A near-valid `tracestate`: Level 2 keys (`@` anywhere after the first
/// character), values, repeated keys, empty members, sometimes too many.
fn tracestate() -> impl Strategy<Value = Vec<u8>> {
    let key = "[a-z0-9][a-z0-9_*/@-]{0,20}";
    let value = "[ -+--<>-~]{0,30}[!-+--<>-~]";
    prop::collection::vec((key, value, " {0,1}"), 0..40).prop_map(|members| {
        let mut parts: Vec<String> = Vec::new();
        for (i, (key, value, ows)) in members.iter().enumerate() {
            // Every fifth member repeats the first key.
            let key = if i % 5 == 4 { &members[0].0 } else { key };
            parts.push(format!("{ows}{key}={value}{ows}"));
        }
        parts.join(",").into_bytes()
    })
}

/// A near-valid `baggage`: tokens, percent-encoded values, properties, and
/// sometimes long enough to pass the 64-member and 8192-byte limits.
fn baggage() -> impl Strategy<Value = Vec<u8>> {
    let member = (
        "[!#-'*+.^_`|~0-9A-Za-z-]{1,12}",
        "([!#-+.-:<-\\[\\]-~]|%[0-9a-fA-F]{2}){0,40}",
        "(;[a-z]{1,4}(=[a-z0-9]{0,4})?){0,2}",
    )
        .prop_map(|(k, v, p)| format!("{k} = {v}{p}"));
    // Past the limits by repetition rather than by generating hundreds of members.
    (prop::collection::vec(member, 0..40), 1..=5usize)
        .prop_map(|(members, times)| vec![members.join(" ,"); times].join(" ,").into_bytes())
}

fn any_header(structured: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => structured, 1 => junk()]
}

fn value(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).expect("strategies only produce header bytes")
}

/// What `extract` gives must stay within the limits and survive `inject` unchanged.
fn check(ctx: &Option<TraceContext>, baggage: &Baggage) -> Result<(), TestCaseError> {
    if let Some(ctx) = ctx {
        prop_assert!(ctx.is_valid());
        prop_assert_eq!(ctx.flags & !TraceContext::KNOWN_FLAGS, 0, "no reserved flag bit survives");
        prop_assert!(ctx.trace_state.len() <= TraceState::MAX_MEMBERS);
        let sent = ctx.trace_state.to_header_value();
        prop_assert_eq!(TraceState::parse(&sent), Some(ctx.trace_state.clone()));
        prop_assert_eq!(TraceContext::from_traceparent(&ctx.to_traceparent()).map(|c| c.flags), Some(ctx.flags));
    }
    let header = baggage.to_header_value();
    prop_assert!(baggage.len() <= Baggage::MAX_MEMBERS);
    prop_assert!(header.len() <= Baggage::MAX_BYTES);
    prop_assert_eq!(&Baggage::parse(&header), baggage);
    let mut map = HeaderMap::new();
    match ctx {
        Some(ctx) => propagation::inject(ctx, baggage, &mut map),
        None => baggage.inject(&mut map),
    }
    prop_assert_eq!(&propagation::extract(&map), &(ctx.clone(), baggage.clone()));
    Ok(())
}

proptest! {
    #[test]
    fn traceparent_parsing(raw in any_header(traceparent())) {
        let mut map = HeaderMap::new();
        map.insert("traceparent", value(&raw));
        let ctx = TraceContext::from_headers(&map);
        if let Ok(text) = std::str::from_utf8(&raw) {
            prop_assert_eq!(&TraceContext::from_traceparent(text), &ctx);
        }
        check(&ctx, &Baggage::new())?;
    }

    #[test]
    fn tracestate_parsing(raws in prop::collection::vec(any_header(tracestate()), 1..4)) {
        let mut map = HeaderMap::new();
        map.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        for raw in &raws {
            map.append("tracestate", value(raw));
        }
        let ctx = TraceContext::from_headers(&map);
        prop_assert!(ctx.is_some(), "a bad tracestate never affects traceparent");
        if let [raw] = raws.as_slice()
            && let Ok(text) = std::str::from_utf8(raw)
        {
            let parsed = TraceState::parse(text);
            prop_assert_eq!(parsed.clone().unwrap_or_default(), ctx.clone().unwrap().trace_state);
            if let Some(state) = parsed {
                // Every non-empty member is kept, repeated keys included.
                let members = text.split(',').filter(|m| !m.trim_matches([' ', '\t']).is_empty()).count();
                prop_assert_eq!(state.len(), members);
            }
        }
        check(&ctx, &Baggage::new())?;
    }

    #[test]
    fn baggage_parsing(raws in prop::collection::vec(any_header(baggage()), 1..4)) {
        let mut map = HeaderMap::new();
        for raw in &raws {
            map.append("baggage", value(raw));
        }
        let parsed = Baggage::from_headers(&map);
        if let Ok(text) = std::str::from_utf8(&raws[0]) {
            check(&None, &Baggage::parse(text))?;
        }
        check(&None, &parsed)?;
    }

    #[test]
    fn extract_over_header_maps(
        traceparents in prop::collection::vec(any_header(traceparent()), 0..3),
        tracestates in prop::collection::vec(any_header(tracestate()), 0..3),
        baggages in prop::collection::vec(any_header(baggage()), 0..3),
    ) {
        let mut map = HeaderMap::new();
        for (name, raws) in [("traceparent", &traceparents), ("tracestate", &tracestates), ("baggage", &baggages)] {
            for raw in raws {
                map.append(name, value(raw));
            }
        }
        let (ctx, baggage) = propagation::extract(&map);
        if traceparents.len() != 1 {
            prop_assert!(ctx.is_none(), "zero or several traceparent headers: no context");
        }
        check(&ctx, &baggage)?;
    }
}
