//! The `tracestate` header and [`TraceState`].

use std::fmt;

use http::HeaderMap;

use super::{TRACESTATE_HEADER, trim_ows};

/// The vendor-specific key/value list of the W3C `tracestate` header.
///
/// Members keep their order; the left-most member belongs to the vendor that
/// wrote the current `traceparent`. There are at most [`TraceState::MAX_MEMBERS`]
/// members. Keeping keys unique is the sender's duty: a received list that
/// repeats a key is kept as it came, [`TraceState::get`] reads the left-most
/// (most recent) entry and [`TraceState::insert`] leaves one entry per key it
/// writes. Every key and value held satisfies the spec grammar, so
/// [`TraceState::to_header_value`] always produces a valid header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TraceState {
    members: Vec<(String, String)>,
}

/// Why [`TraceState::insert`] refused a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceStateError {
    /// The key is not 1 to 256 characters of `a-z`, `0-9`, `_`, `-`, `*`, `/`
    /// and `@` starting with a letter or a digit.
    InvalidKey,
    /// The value is empty, longer than 256 characters, ends with a space, or holds
    /// a character outside printable ASCII (0x20–0x7E) or one of `,` and `=`.
    InvalidValue,
}

impl fmt::Display for TraceStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidKey => "invalid tracestate key",
            Self::InvalidValue => "invalid tracestate value",
        })
    }
}

impl std::error::Error for TraceStateError {}

impl TraceState {
    /// The most members a `tracestate` may have.
    pub const MAX_MEMBERS: usize = 32;

    /// An empty trace state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a combined `tracestate` value; `None` if any part of it is invalid.
    ///
    /// Empty and whitespace-only list members (`a=1,,b=2`, `a=1, ,b=2`) and
    /// optional whitespace around members are allowed and do not count towards
    /// the limit. The whole value is rejected for: more than 32 members, an
    /// invalid key, an invalid value, or any byte outside printable ASCII and
    /// tab. A repeated key is not an error: the entries are kept as received.
    pub fn parse(value: &str) -> Option<Self> {
        Self::parse_values(std::iter::once(value.as_bytes()))
    }

    /// Reads all `tracestate` headers, combined in order as if joined by commas.
    ///
    /// Returns an empty trace state when there is none or when the combined value
    /// is invalid (see [`TraceState::parse`]): the spec drops a bad `tracestate`
    /// as a whole, without affecting `traceparent`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let values = headers.get_all(TRACESTATE_HEADER).iter();
        Self::parse_values(values.map(|value| value.as_bytes())).unwrap_or_default()
    }

    /// Serialises the members as `key=value` pairs joined by commas without
    /// whitespace; the empty string when there are none.
    pub fn to_header_value(&self) -> String {
        let mut out = String::new();
        for (index, (key, value)) in self.members.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push('=');
            out.push_str(value);
        }
        out
    }

    /// The value stored for `key`, if any; the left-most one if the sender
    /// repeated the key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Adds or updates a member and moves it to the front (left), as the spec
    /// requires for new and modified keys.
    ///
    /// Every earlier entry for `key` is removed (a received list may repeat
    /// it), so the list holds one entry for it. When a new key would make the
    /// list exceed [`TraceState::MAX_MEMBERS`], the right-most member is
    /// removed. Invalid keys or values are refused and leave the trace state
    /// unchanged.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<(), TraceStateError> {
        let (key, value) = (key.into(), value.into());
        if !is_valid_key(key.as_bytes()) {
            return Err(TraceStateError::InvalidKey);
        }
        if !is_valid_value(value.as_bytes()) {
            return Err(TraceStateError::InvalidValue);
        }
        let before = self.members.len();
        self.members.retain(|(k, _)| *k != key);
        if self.members.len() == before && before >= Self::MAX_MEMBERS {
            self.members.pop();
        }
        self.members.insert(0, (key, value));
        Ok(())
    }

    /// Removes every member for `key` and returns the value of the left-most.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.members.iter().position(|(k, _)| k == key)?;
        let value = self.members.remove(index).1;
        self.members.retain(|(k, _)| k != key);
        Some(value)
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The members as `(key, value)` pairs, left-most first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Parses header values as one comma-separated list.
    fn parse_values<'a>(values: impl Iterator<Item = &'a [u8]>) -> Option<Self> {
        let mut members: Vec<(String, String)> = Vec::new();
        for value in values {
            for member in value.split(|&b| b == b',') {
                let member = trim_ows(member);
                if member.is_empty() {
                    continue;
                }
                let eq = member.iter().position(|&b| b == b'=')?;
                let (key, value) = (&member[..eq], &member[eq + 1..]);
                if !is_valid_key(key) || !is_valid_value(value) {
                    return None;
                }
                // Both are ASCII once validated.
                let key = std::str::from_utf8(key).ok()?;
                if members.len() >= Self::MAX_MEMBERS {
                    return None;
                }
                let value = std::str::from_utf8(value).ok()?;
                members.push((key.to_owned(), value.to_owned()));
            }
        }
        Some(Self { members })
    }
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )` with
/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"` (Trace Context
/// Level 2; `@` is an ordinary key character, no longer a tenant/system split).
fn is_valid_key(key: &[u8]) -> bool {
    let is_lc_or_digit = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match key.split_first() {
        Some((&head, tail)) if key.len() <= 256 && is_lc_or_digit(head) => {
            tail.iter().all(|&b| is_lc_or_digit(b) || b"_-*/@".contains(&b))
        }
        _ => false,
    }
}

/// `value = 0*255(chr) nblk-chr`, where `chr` is printable ASCII except `,` and `=`.
fn is_valid_value(value: &[u8]) -> bool {
    let is_nblk = |b: u8| (0x21..=0x7e).contains(&b) && b != b',' && b != b'=';
    match value.split_last() {
        Some((&last, rest)) if value.len() <= 256 && is_nblk(last) => rest.iter().all(|&b| b == b' ' || is_nblk(b)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(value: &str) -> Option<TraceState> {
        TraceState::parse(value)
    }

    fn keys(state: &TraceState) -> Vec<&str> {
        state.iter().map(|(k, _)| k).collect()
    }

    fn numbered(count: usize) -> String {
        (0..count).map(|i| format!("k{i}=v{i}")).collect::<Vec<_>>().join(",")
    }

    #[test]
    fn parses_and_serialises_in_order() {
        let state = parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").unwrap();
        assert_eq!(state.len(), 2);
        assert_eq!(keys(&state), ["rojo", "congo"]);
        assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(state.get("missing"), None);
        assert_eq!(state.to_header_value(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    }

    #[test]
    fn empty_members_and_whitespace_are_allowed() {
        assert_eq!(parse("").unwrap(), TraceState::new());
        assert_eq!(parse(" \t ,, , ").unwrap(), TraceState::new());
        let state = parse(",foo=1 \t , \t bar=2,,").unwrap();
        assert_eq!(state.to_header_value(), "foo=1,bar=2");
        // Empty members do not count towards the 32-member limit.
        let padded = format!(",,{},, ,", numbered(32));
        assert_eq!(parse(&padded).unwrap().len(), 32);
    }

    #[test]
    fn value_leading_spaces_are_kept_trailing_trimmed() {
        let state = parse("foo=  bar  ").unwrap();
        assert_eq!(state.get("foo"), Some("  bar"));
        assert_eq!(parse(&state.to_header_value()), Some(state));
    }

    #[test]
    fn member_limit() {
        assert_eq!(parse(&numbered(32)).unwrap().len(), 32);
        assert!(parse(&numbered(33)).is_none());
    }

    #[test]
    fn key_grammar() {
        let valid = [
            "a",
            "foo",
            "a0_-*/",
            &"a".repeat(256),
            "0tenant@sys",
            "t@s",
            "a@s",
            &format!("{}@{}", "t".repeat(241), "s".repeat(14)),
            "tenant_-*/@sys_-*/0",
            // Accepted since Level 2 dropped the tenant@system split.
            "0abc",
            "9",
            "tenant@0sys",
            "t@s@s",
            "a@",
            "a@@",
            &format!("{}@s", "t".repeat(242)),
            &format!("t@{}", "s".repeat(15)),
            &format!("0{}", "@".repeat(255)),
        ];
        for key in valid {
            assert!(parse(&format!("{key}=1")).is_some(), "{key}");
        }
        let invalid = [
            "",
            "_a",
            "-a",
            "*a",
            "/a",
            "A",
            "fOo",
            "foo.bar",
            "foo bar",
            "foo ",
            "ä",
            &"a".repeat(257),
            &format!("0{}", "@".repeat(256)),
            "@sys",
            "Tenant@sys",
            "t@Sys",
            "_t@sys",
        ];
        for key in invalid {
            assert!(parse(&format!("{key}=1")).is_none(), "{key:?}");
        }
    }

    #[test]
    fn value_grammar() {
        let all_allowed: String = (0x20u8..=0x7e).filter(|&b| b != b',' && b != b'=').map(char::from).collect();
        for value in [&all_allowed[1..], "x", " x", &"v".repeat(256)] {
            let state = parse(&format!("foo={value}")).unwrap_or_else(|| panic!("{value}"));
            assert_eq!(state.get("foo"), Some(value));
        }
        for value in ["", " ", "a=b", "a\u{7f}", "caf\u{e9}", &"v".repeat(257)] {
            assert!(parse(&format!("foo={value}")).is_none(), "{value:?}");
        }
        assert!(parse("foo=bar=baz").is_none());
        assert!(parse("foo=,bar=3").is_none());
        assert!(parse("foo").is_none());
        assert!(parse("foo=a\tb").is_none());
    }

    #[test]
    fn duplicate_keys_are_kept_as_received() {
        let state = parse("foo=1,bar=2,foo=3").unwrap();
        assert_eq!(state.to_header_value(), "foo=1,bar=2,foo=3");
        assert_eq!(state.get("foo"), Some("1"), "the left-most entry is the most recent");
        assert_eq!(parse("t@s=1,t@s=2").unwrap().len(), 2);
        // A duplicate does not save an entry that breaks the grammar.
        assert!(parse("foo=1,foo=2,Bad=3").is_none());
    }

    #[test]
    fn insert_and_remove_collapse_duplicates() {
        let mut state = parse("foo=1,bar=2,foo=3").unwrap();
        state.insert("foo", "4").unwrap();
        assert_eq!(state.to_header_value(), "foo=4,bar=2");
        let mut state = parse("foo=1,bar=2,foo=3").unwrap();
        assert_eq!(state.remove("foo"), Some("1".to_owned()));
        assert_eq!(state.to_header_value(), "bar=2");
        // Updating a repeated key in a full list frees room: nothing else is evicted.
        let full = format!("{},k0=again", numbered(31));
        let mut state = parse(&full).unwrap();
        state.insert("k0", "new").unwrap();
        assert_eq!(state.len(), 31);
        assert_eq!(state.get("k30"), Some("v30"));
    }

    #[test]
    fn multiple_headers_are_combined() {
        let mut map = HeaderMap::new();
        map.append(TRACESTATE_HEADER, HeaderValue::from_static("a=1,b=2"));
        map.append(TRACESTATE_HEADER, HeaderValue::from_static(""));
        map.append(TRACESTATE_HEADER, HeaderValue::from_static(" c=3 "));
        assert_eq!(TraceState::from_headers(&map).to_header_value(), "a=1,b=2,c=3");

        // Duplicates across headers are kept; the limit spans headers.
        map.append(TRACESTATE_HEADER, HeaderValue::from_static("a=4"));
        assert_eq!(TraceState::from_headers(&map).to_header_value(), "a=1,b=2,c=3,a=4");
        let mut map = HeaderMap::new();
        map.append(TRACESTATE_HEADER, numbered(20).parse().unwrap());
        let rest: String = (20..33).map(|i| format!("k{i}=v,")).collect();
        map.append(TRACESTATE_HEADER, rest.parse().unwrap());
        assert!(TraceState::from_headers(&map).is_empty());
    }

    #[test]
    fn non_utf8_header_drops_tracestate() {
        let mut map = HeaderMap::new();
        map.append(TRACESTATE_HEADER, HeaderValue::from_bytes(b"a=\xe9t\xe9").unwrap());
        assert!(TraceState::from_headers(&map).is_empty());
        assert!(TraceState::from_headers(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn insert_moves_key_to_front() {
        let mut state = parse("a=1,b=2,c=3").unwrap();
        state.insert("b", "20").unwrap();
        assert_eq!(state.to_header_value(), "b=20,a=1,c=3");
        state.insert("d", "4").unwrap();
        assert_eq!(state.to_header_value(), "d=4,b=20,a=1,c=3");
        state.insert("d", "4").unwrap();
        assert_eq!(state.to_header_value(), "d=4,b=20,a=1,c=3");
    }

    #[test]
    fn insert_evicts_right_most_when_full() {
        let mut state = parse(&numbered(32)).unwrap();
        state.insert("k5", "updated").unwrap();
        assert_eq!(state.len(), 32);
        assert_eq!(state.get("k31"), Some("v31"));
        state.insert("new", "x").unwrap();
        assert_eq!(state.len(), 32);
        assert_eq!(keys(&state)[..2], ["new", "k5"]);
        assert_eq!(state.get("k31"), None);
        assert_eq!(state.get("k30"), Some("v30"));
    }

    #[test]
    fn insert_validates() {
        let mut state = parse("a=1").unwrap();
        assert_eq!(state.insert("Bad", "x"), Err(TraceStateError::InvalidKey));
        assert_eq!(state.insert("ok", "x,y"), Err(TraceStateError::InvalidValue));
        assert_eq!(state.insert("ok", "x "), Err(TraceStateError::InvalidValue));
        assert_eq!(state.insert("ok", ""), Err(TraceStateError::InvalidValue));
        assert_eq!(state.to_header_value(), "a=1");
        assert_eq!(TraceStateError::InvalidKey.to_string(), "invalid tracestate key");
    }

    #[test]
    fn remove_and_empty() {
        let mut state = parse("a=1,b=2").unwrap();
        assert_eq!(state.remove("a"), Some("1".to_owned()));
        assert_eq!(state.remove("a"), None);
        assert_eq!(state.remove("b"), Some("2".to_owned()));
        assert!(state.is_empty());
        assert_eq!(state.to_header_value(), "");
    }
}
