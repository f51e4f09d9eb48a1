//! The W3C `baggage` header and [`Baggage`].

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{BAGGAGE_HEADER, trim_ows};

/// User-defined key/value entries propagated by the W3C `baggage` header.
///
/// Entries keep their order. Keys are HTTP tokens (RFC 7230 §3.2.6); values are
/// any strings, percent-encoded on the wire. Duplicate keys are kept as parsed;
/// [`Baggage::get`] returns the last one and [`Baggage::insert`] collapses them.
///
/// Limits: [`Baggage::MAX_MEMBERS`] members and [`Baggage::MAX_BYTES`] bytes of
/// serialised header (commas included). Parsing and [`Baggage::to_header_value`]
/// keep the longest prefix of entries that fits, dropping whole members from
/// the end; parsing stops reading at the first valid member that does not fit,
/// so a huge header costs no more than its first members. Entries inserted past
/// the limits stay readable but are not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Baggage {
    entries: Vec<BaggageEntry>,
}

/// One baggage list-member: a key, its decoded value and its properties.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BaggageEntry {
    key: String,
    value: String,
    properties: Vec<BaggageProperty>,
}

/// Opaque metadata attached to a baggage entry: `;key` or `;key=value`.
///
/// The spec gives properties no semantics, so their values are kept exactly as
/// received (not percent-decoded) and must consist of `baggage-octet`s.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BaggageProperty {
    key: String,
    value: Option<String>,
}

/// Why a baggage entry or property was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BaggageError {
    /// The key is empty or not an RFC 7230 token.
    InvalidKey,
    /// A property value holds a character outside `baggage-octet` (whitespace,
    /// controls, non-ASCII, `"`, `,`, `;` and `\` are not allowed).
    InvalidPropertyValue,
}

impl fmt::Display for BaggageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidKey => "invalid baggage key",
            Self::InvalidPropertyValue => "invalid baggage property value",
        })
    }
}

impl std::error::Error for BaggageError {}

impl Baggage {
    /// The most list-members propagated.
    pub const MAX_MEMBERS: usize = 64;
    /// The most bytes of serialised `baggage` propagated, commas included.
    pub const MAX_BYTES: usize = 8192;

    /// An empty baggage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a `baggage` value, skipping invalid list-members and keeping the
    /// valid ones, within the limits. Never fails.
    ///
    /// Empty members and optional whitespace are ignored. A member is invalid if
    /// its key is not a token, it has no `=`, its value has a non-`baggage-octet`
    /// or a malformed percent-escape, or a property is empty or invalid. Values
    /// are percent-decoded; undecodable UTF-8 becomes U+FFFD.
    pub fn parse(value: &str) -> Self {
        Self::parse_values(std::iter::once(value.as_bytes()))
    }

    /// Reads all `baggage` headers, combined in order as if joined by commas.
    /// Non-UTF-8 bytes only invalidate the members that contain them.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let values = headers.get_all(BAGGAGE_HEADER).iter();
        Self::parse_values(values.map(|value| value.as_bytes()))
    }

    /// Serialises the entries as `key=value;prop=x` members joined by commas,
    /// percent-encoding values, and within the limits; `""` when empty.
    pub fn to_header_value(&self) -> String {
        let mut out = String::new();
        for (index, entry) in self.entries[..fitting(&self.entries)].iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            entry.write_to(&mut out);
        }
        out
    }

    /// Writes the `baggage` header, replacing any existing one; when there is
    /// nothing to send, an existing `baggage` header is removed and none is added.
    pub fn inject(&self, headers: &mut HeaderMap) {
        let name = HeaderName::from_static(BAGGAGE_HEADER);
        let value = self.to_header_value();
        match HeaderValue::from_str(&value) {
            Ok(header) if !value.is_empty() => {
                headers.insert(name, header);
            }
            _ => {
                headers.remove(&name);
            }
        }
    }

    /// The decoded value of the last entry with this key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entry(key).map(BaggageEntry::value)
    }

    /// The last entry with this key.
    pub fn entry(&self, key: &str) -> Option<&BaggageEntry> {
        self.entries.iter().rev().find(|entry| entry.key == key)
    }

    /// Sets `key` to `value` with no properties; see [`Baggage::insert_with_properties`].
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<(), BaggageError> {
        self.insert_with_properties(key, value, Vec::new())
    }

    /// Sets `key` to `value` (any string; it is percent-encoded when sent).
    ///
    /// An existing key keeps its position (its first one, if duplicated; the
    /// other duplicates are removed); a new key is appended. Fails, changing
    /// nothing, if `key` is not an RFC 7230 token.
    pub fn insert_with_properties(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
        properties: Vec<BaggageProperty>,
    ) -> Result<(), BaggageError> {
        let key = key.into();
        if !is_token(key.as_bytes()) {
            return Err(BaggageError::InvalidKey);
        }
        let entry = BaggageEntry { key, value: value.into(), properties };
        let first = self.entries.iter().position(|e| e.key == entry.key);
        // Duplicates all sit at or after `first`, so it stays a valid index.
        self.entries.retain(|e| e.key != entry.key);
        match first {
            Some(index) => self.entries.insert(index, entry),
            None => self.entries.push(entry),
        }
        Ok(())
    }

    /// Removes every entry with this key and returns the last one's value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let value = self.get(key)?.to_owned();
        self.entries.retain(|entry| entry.key != key);
        Some(value)
    }

    /// The number of entries (duplicates included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageEntry> {
        self.entries.iter()
    }

    /// Parses members lazily and stops at the limits: nothing past the 64th
    /// valid member, or past the first valid one that would overflow 8192 bytes,
    /// is decoded or kept.
    fn parse_values<'a>(values: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut entries = Vec::new();
        let (mut size, mut encoded) = (0, String::new());
        for member in values.flat_map(|value| value.split(|&b| b == b',')) {
            if entries.len() >= Self::MAX_MEMBERS {
                break;
            }
            let member = trim_ows(member);
            if member.len() > Self::MAX_BYTES {
                // Alone over the limit as received, so the header is too: it
                // ends the prefix that fits, undecoded.
                break;
            }
            let Some(entry) = parse_member(member) else { continue };
            encoded.clear();
            entry.write_to(&mut encoded);
            size += encoded.len() + usize::from(!entries.is_empty());
            if size > Self::MAX_BYTES {
                break;
            }
            entries.push(entry);
        }
        Self { entries }
    }
}

/// How many leading entries fit within the member and byte limits.
fn fitting(entries: &[BaggageEntry]) -> usize {
    let (mut size, mut member) = (0, String::new());
    for (count, entry) in entries.iter().enumerate() {
        member.clear();
        entry.write_to(&mut member);
        size += member.len() + usize::from(count > 0);
        if count >= Baggage::MAX_MEMBERS || size > Baggage::MAX_BYTES {
            return count;
        }
    }
    entries.len()
}

impl BaggageEntry {
    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, percent-decoded.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties, in order.
    pub fn properties(&self) -> &[BaggageProperty] {
        &self.properties
    }

    fn write_to(&self, out: &mut String) {
        out.push_str(&self.key);
        out.push('=');
        for &byte in self.value.as_bytes() {
            if is_baggage_octet(byte) && byte != b'%' {
                out.push(char::from(byte));
            } else {
                const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(DIGITS[usize::from(byte >> 4)]));
                out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
            }
        }
        for property in &self.properties {
            out.push(';');
            out.push_str(&property.key);
            if let Some(value) = &property.value {
                out.push('=');
                out.push_str(value);
            }
        }
    }
}

impl BaggageProperty {
    /// A property `key` (when `value` is `None`) or `key=value`.
    ///
    /// The key must be an RFC 7230 token and the value made of `baggage-octet`s
    /// (it may be empty); it is sent as given, without percent-encoding.
    pub fn new(key: impl Into<String>, value: Option<&str>) -> Result<Self, BaggageError> {
        let key = key.into();
        if !is_token(key.as_bytes()) {
            return Err(BaggageError::InvalidKey);
        }
        if value.is_some_and(|v| !v.bytes().all(is_baggage_octet)) {
            return Err(BaggageError::InvalidPropertyValue);
        }
        Ok(Self { key, value: value.map(str::to_owned) })
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, if the property has one.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

/// `list-member = key OWS "=" OWS value *( OWS ";" OWS property )`, already trimmed.
fn parse_member(member: &[u8]) -> Option<BaggageEntry> {
    let mut parts = member.split(|&b| b == b';');
    let (key, value) = split_pair(parts.next()?);
    Some(BaggageEntry {
        key: token(key)?,
        value: percent_decode(value?)?,
        properties: parts.map(|part| parse_property(trim_ows(part))).collect::<Option<_>>()?,
    })
}

/// `property = key OWS "=" OWS value / key OWS`, already trimmed.
fn parse_property(property: &[u8]) -> Option<BaggageProperty> {
    let (key, value) = split_pair(property);
    let value = match value {
        Some(value) if !value.iter().all(|&b| is_baggage_octet(b)) => return None,
        value => value.map(|v| v.iter().map(|&b| char::from(b)).collect()),
    };
    Some(BaggageProperty { key: token(key)?, value })
}

/// Splits at the first `=` (values may contain more), trimming both sides.
fn split_pair(pair: &[u8]) -> (&[u8], Option<&[u8]>) {
    match pair.iter().position(|&b| b == b'=') {
        Some(eq) => (trim_ows(&pair[..eq]), Some(trim_ows(&pair[eq + 1..]))),
        None => (pair, None),
    }
}

/// The bytes as a string if they form a token.
fn token(bytes: &[u8]) -> Option<String> {
    is_token(bytes).then(|| bytes.iter().map(|&b| char::from(b)).collect())
}

/// `token = 1*tchar` (RFC 7230 §3.2.6).
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Decodes a value of `baggage-octet`s with `%XX` escapes (either case).
/// `None` for any other byte or a malformed escape.
fn percent_decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        if !is_baggage_octet(byte) {
            return None;
        }
        if byte == b'%' {
            let high = char::from(*bytes.next()?).to_digit(16)?;
            let low = char::from(*bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(high * 16 + low).ok()?);
        } else {
            out.push(byte);
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(baggage: &Baggage) -> Vec<&str> {
        baggage.iter().map(BaggageEntry::key).collect()
    }

    #[test]
    fn parses_spec_example() {
        let baggage =
            Baggage::parse("key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue");
        assert_eq!(keys(&baggage), ["key1", "key2", "key3"]);
        assert_eq!(baggage.get("key2"), Some("value2"));
        let props = |key| {
            let entry = baggage.entry(key).unwrap();
            entry.properties().iter().map(|p| (p.key(), p.value())).collect::<Vec<_>>()
        };
        assert_eq!(props("key1"), [("property1", None), ("property2", None)]);
        assert_eq!(props("key3"), [("propertyKey", Some("propertyValue"))]);
        assert_eq!(
            baggage.to_header_value(),
            "key1=value1;property1;property2,key2=value2,key3=value3;propertyKey=propertyValue"
        );
    }

    #[test]
    fn percent_decoding_and_encoding() {
        let baggage =
            Baggage::parse("userId=alice,serverNode=DF%2028,euro=%E2%82%AC,lower=%e2%82%ac,bad=%FF,eq=a=b,empty=");
        let decoded = ["alice", "DF 28", "\u{20ac}", "\u{20ac}", "\u{fffd}", "a=b", ""];
        assert_eq!(baggage.iter().map(BaggageEntry::value).collect::<Vec<_>>(), decoded);

        let mut baggage = Baggage::new();
        let value = "a b,c;d%e\"f\\g\u{20ac}\t=";
        baggage.insert("k", value).unwrap();
        let header = baggage.to_header_value();
        assert_eq!(header, "k=a%20b%2Cc%3Bd%25e%22f%5Cg%E2%82%AC%09=");
        assert_eq!(Baggage::parse(&header), baggage);
    }

    #[test]
    fn invalid_members_are_skipped_valid_kept() {
        let baggage = Baggage::parse(
            "good=1, bad key=2,=3,novalue,sp=a b,q=\"x\",bs=a\\b,pct=%zz,pct2=%4,pct3=%,\
             noprop=1;,badprop=1;p=a b,emptyprop=1;;p, also=ok ,pk=1;k@y=v,ctl=\u{7f}",
        );
        assert_eq!(keys(&baggage), ["good", "also"]);
        assert_eq!(baggage.get("also"), Some("ok"));
    }

    #[test]
    fn whitespace_and_empty_members_are_ignored() {
        let baggage = Baggage::parse(" ,, userId =   alice\t;\tp = v ; q ,,\t,");
        assert_eq!(baggage.to_header_value(), "userId=alice;p=v;q");
        assert!(Baggage::parse("").is_empty());
        assert!(Baggage::parse(" , ").is_empty());
    }

    #[test]
    fn multiple_headers_and_non_utf8() {
        let mut map = HeaderMap::new();
        map.append(BAGGAGE_HEADER, HeaderValue::from_static("userId=alice"));
        map.append(BAGGAGE_HEADER, HeaderValue::from_static(""));
        let mixed = HeaderValue::from_bytes(b"bad=\xe9t\xe9,serverNode=DF%2028,b\xffd=1").unwrap();
        map.append(BAGGAGE_HEADER, mixed);
        let baggage = Baggage::from_headers(&map);
        assert_eq!(baggage.to_header_value(), "userId=alice,serverNode=DF%2028");
        assert!(Baggage::from_headers(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn member_limit_drops_from_the_end() {
        let header: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let baggage = Baggage::parse(&header.join(","));
        assert_eq!(baggage.len(), Baggage::MAX_MEMBERS);
        assert_eq!(baggage.iter().last().unwrap().key(), "k63");

        let mut built = Baggage::new();
        for i in 0..70 {
            built.insert(format!("k{i}"), "v").unwrap();
        }
        assert_eq!(built.len(), 70);
        assert_eq!(built.to_header_value(), header[..64].join(","));
    }

    #[test]
    fn byte_limit_drops_whole_members() {
        // Seven members of 1023 bytes and one of 1021, plus 7 commas: 8189 bytes.
        let mut members: Vec<String> = (0..7).map(|i| format!("k{i}={}", "v".repeat(1020))).collect();
        members.push(format!("f={}", "v".repeat(1019)));
        let header = members.join(",");
        assert_eq!(header.len(), 8189);
        // ",x=" brings it to exactly 8192 bytes.
        let full = Baggage::parse(&format!("{header},x="));
        assert_eq!(full.len(), 9);
        assert_eq!(full.to_header_value().len(), Baggage::MAX_BYTES);
        let skipped = Baggage::parse(&format!("{header},invalid,x="));
        assert_eq!(skipped.len(), 9, "an invalid member takes no room");
        // ",x=1" would make 8193 bytes: it is dropped whole, and so is everything
        // after it, even a member that would still fit.
        let over = Baggage::parse(&format!("{header},x=1,y="));
        assert_eq!(over.len(), 8);
        assert_eq!(over.get("x"), None);
        assert_eq!(over.get("y"), None);
        assert_eq!(over.to_header_value(), header);
    }

    #[test]
    fn byte_limit_counts_encoded_size() {
        let mut baggage = Baggage::new();
        baggage.insert("a", " ".repeat(2730)).unwrap();
        baggage.insert("b", "x").unwrap();
        // 2 + 3 * 2730 = 8192 bytes: the first member fits alone.
        assert_eq!(baggage.to_header_value().len(), 8192);
        assert_eq!(Baggage::parse(&baggage.to_header_value()).len(), 1);
        baggage.insert("a", " ".repeat(2731)).unwrap();
        assert_eq!(baggage.to_header_value(), "");
    }

    #[test]
    fn duplicates_are_kept_last_wins_insert_collapses() {
        let mut baggage = Baggage::parse("k=1,other=x,k=2");
        assert_eq!(baggage.len(), 3);
        assert_eq!(baggage.get("k"), Some("2"));
        assert_eq!(baggage.to_header_value(), "k=1,other=x,k=2");
        baggage.insert("k", "3").unwrap();
        assert_eq!(baggage.to_header_value(), "k=3,other=x");
        baggage.insert("new", "4").unwrap();
        assert_eq!(baggage.to_header_value(), "k=3,other=x,new=4");
        assert_eq!(baggage.remove("k"), Some("3".to_owned()));
        assert_eq!(baggage.remove("k"), None);
        let mut dup = Baggage::parse("k=1,k=2,k=3");
        assert_eq!(dup.remove("k"), Some("3".to_owned()));
        assert!(dup.is_empty());
    }

    #[test]
    fn insert_with_properties_and_validation() {
        let mut baggage = Baggage::new();
        let props = vec![
            BaggageProperty::new("ttl", Some("30")).unwrap(),
            BaggageProperty::new("secret", None).unwrap(),
            BaggageProperty::new("empty", Some("")).unwrap(),
        ];
        let inserted = baggage.insert_with_properties("user", "alice", props);
        assert_eq!(inserted, Ok(()));
        let header = baggage.to_header_value();
        assert_eq!(header, "user=alice;ttl=30;secret;empty=");
        assert_eq!(Baggage::parse(&header), baggage);

        for key in ["bad key", "", "k\u{e9}", "a;b"] {
            assert_eq!(baggage.insert(key, "x"), Err(BaggageError::InvalidKey));
            assert!(BaggageProperty::new(key, None).is_err());
        }
        let bad_value = BaggageProperty::new("p", Some("a b"));
        assert_eq!(bad_value, Err(BaggageError::InvalidPropertyValue));
        assert_eq!(baggage.len(), 1);
        assert_eq!(BaggageError::InvalidKey.to_string(), "invalid baggage key");
    }

    #[test]
    fn token_and_octet_tables() {
        assert!(is_token(b"!#$%&'*+-.^_`|~azAZ09"));
        assert!(!is_token(b""));
        for bad in "\"(),/:;<=>?@[\\]{} \t\u{7f}\u{e9}".bytes() {
            assert!(!is_token(&[b'a', bad]), "{bad:?}");
        }
        let octets = (0..=255u8).filter(|&b| is_baggage_octet(b)).count();
        assert_eq!(octets, 0x7e - 0x21 + 1 - 4);
        let excluded = [b' ', b'"', b',', b';', b'\\', 0x7f, 0x80];
        assert!(!excluded.into_iter().any(is_baggage_octet));
    }
}
