//! What is kept out of spans and log lines because it looks like a secret.
//!
//! * **Names.** An argument or `fields(...)` entry whose name contains one of
//!   [`CREDENTIAL_WORDS`] (or has `auth` as one of its `_`-separated words) is
//!   recorded as `[redacted]`, unless `reveal(name)` asks for it. The check is a
//!   `const fn`, evaluated at compile time for each recorded name.
//! * **Fields inside values.** An argument recorded through `Debug` (a struct,
//!   `self` when `reveal(self)` records it, `ret`) is written through a filter
//!   that replaces the value of every field whose name is credential-like:
//!   `PaymentClient { api_key: "[redacted]", region: "eu" }`. It reads Rust's
//!   `Debug` layout (`name: value`, values nested in `{}`, `()`, `[]` and quoted
//!   strings); a hand-written `Debug` that prints secrets without a field name
//!   is not caught.
//! * **URLs in text.** In recorded strings (`&str`/`String` arguments) and in
//!   error messages, the userinfo of a URL (`https://user:pass@host`) and the
//!   value of every query parameter (`?token=...`) are replaced.
//!
//! Not redacted: values inside `fields(...)` expressions with neutral names, and
//! text that carries a secret in another shape (a bare token in a message).

use std::fmt::{self, Write};

/// Substrings that make a name credential-like (lowercase).
pub const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "accesskey",
    "private_key",
    "privatekey",
    "credential",
    "authorization",
    "cookie",
    "dsn",
    "database_url",
    "db_url",
    "connection_string",
    "conn_str",
    "session_key",
    "signature",
];

/// The value recorded in place of a secret.
pub const REDACTED: &str = "[redacted]";

const fn lower(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

/// Whether `haystack` (any case) contains `needle` (lowercase) at `at`.
const fn matches_at(haystack: &[u8], at: usize, needle: &[u8]) -> bool {
    if at + needle.len() > haystack.len() {
        return false;
    }
    let mut i = 0;
    while i < needle.len() {
        if lower(haystack[at + i]) != needle[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let mut at = 0;
    while at + needle.len() <= haystack.len() {
        if matches_at(haystack, at, needle) {
            return true;
        }
        at += 1;
    }
    false
}

/// Whether `auth` is one of the `_`- or `-`-separated words of `name`
/// (`auth`, `auth_header`, `x-auth`, but not `author`).
const fn has_auth_word(name: &[u8]) -> bool {
    let mut start = 0;
    while start < name.len() {
        let mut end = start;
        while end < name.len() && name[end] != b'_' && name[end] != b'-' {
            end += 1;
        }
        if end - start == 4 && matches_at(name, start, b"auth") {
            return true;
        }
        start = end + 1;
    }
    false
}

/// Whether a field or argument name looks like it holds a credential.
///
/// ```
/// use obs_runtime::log::redact::is_credential_name;
/// assert!(is_credential_name("api_token"));
/// assert!(is_credential_name("DATABASE_URL"));
/// assert!(is_credential_name("auth"));
/// assert!(!is_credential_name("author"));
/// assert!(!is_credential_name("order_id"));
/// ```
pub const fn is_credential_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < CREDENTIAL_WORDS.len() {
        if contains(bytes, CREDENTIAL_WORDS[i].as_bytes()) {
            return true;
        }
        i += 1;
    }
    has_auth_word(bytes)
}

// ---- fields inside Debug output ----

/// A value's `Debug` form with the values of credential-like fields replaced.
pub struct RedactFields<'a, T: ?Sized>(pub &'a T);

impl<T: fmt::Debug + ?Sized> fmt::Debug for RedactFields<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut filter = FieldFilter::new(f);
        write!(filter, "{:?}", self.0)
    }
}

/// A streaming filter over `Debug` output: no allocation, constant memory.
struct FieldFilter<'f, 'a> {
    out: &'f mut fmt::Formatter<'a>,
    /// The identifier being read (truncated; long names are never credential words alone).
    ident: [u8; 64],
    ident_len: usize,
    /// Inside a quoted string or char literal, and whether the last char was a backslash.
    quote: Option<u8>,
    escaped: bool,
    state: State,
    /// Whitespace seen after a skipped value, written back before what ends it.
    trailing: [u8; 32],
    trailing_len: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Copying.
    Copy,
    /// Just read a credential-like identifier followed by `:`.
    Colon,
    /// Swallowing a redacted value; the nesting depth inside it.
    Skip(u32),
}

impl<'f, 'a> FieldFilter<'f, 'a> {
    fn new(out: &'f mut fmt::Formatter<'a>) -> Self {
        FieldFilter {
            out,
            ident: [0; 64],
            ident_len: 0,
            quote: None,
            escaped: false,
            state: State::Copy,
            trailing: [0; 32],
            trailing_len: 0,
        }
    }

    fn ident_is_credential(&self) -> bool {
        std::str::from_utf8(&self.ident[..self.ident_len]).is_ok_and(is_credential_name)
    }

    fn push(&mut self, c: char) -> fmt::Result {
        match self.state {
            State::Skip(depth) => self.skip(c, depth),
            State::Colon => {
                if c == ':' {
                    // A path (`a::b`), not a field.
                    self.state = State::Copy;
                    self.out.write_str("::")
                } else {
                    self.out.write_char(':')?;
                    self.out.write_char(c)?;
                    if c.is_whitespace() {
                        self.out.write_str("\"[redacted]\"")?;
                        self.state = State::Skip(0);
                        Ok(())
                    } else {
                        self.state = State::Copy;
                        Ok(())
                    }
                }
            }
            State::Copy => self.copy(c),
        }
    }

    /// Inside a quoted string: follows escapes and the closing quote; `false` outside one.
    fn in_quote(&mut self, c: char) -> bool {
        let Some(q) = self.quote else { return false };
        if self.escaped {
            self.escaped = false;
        } else if c == '\\' {
            self.escaped = true;
        } else if c as u32 == u32::from(q) {
            self.quote = None;
        }
        true
    }

    fn copy(&mut self, c: char) -> fmt::Result {
        if self.in_quote(c) {
            return self.out.write_char(c);
        }
        if c == '"' {
            self.quote = Some(b'"');
            self.ident_len = 0;
            return self.out.write_char(c);
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            if self.ident_len < self.ident.len() {
                self.ident[self.ident_len] = c as u8;
                self.ident_len += 1;
            }
            return self.out.write_char(c);
        }
        if c == ':' && self.ident_len > 0 && self.ident_is_credential() {
            self.ident_len = 0;
            self.state = State::Colon;
            return Ok(());
        }
        self.ident_len = 0;
        self.out.write_char(c)
    }

    /// Swallows the redacted value up to the `,` or closing bracket that ends it.
    fn skip(&mut self, c: char, depth: u32) -> fmt::Result {
        if self.in_quote(c) {
            return Ok(());
        }
        match c {
            '"' => self.quote = Some(b'"'),
            '{' | '(' | '[' => self.state = State::Skip(depth + 1),
            '}' | ')' | ']' if depth > 0 => self.state = State::Skip(depth - 1),
            ',' if depth > 0 => {}
            '}' | ')' | ']' | ',' => {
                self.state = State::Copy;
                self.ident_len = 0;
                let trailing = std::str::from_utf8(&self.trailing[..self.trailing_len]).unwrap_or_default();
                self.out.write_str(trailing)?;
                self.trailing_len = 0;
                return self.out.write_char(c);
            }
            c if depth == 0 && c.is_ascii_whitespace() => {
                if self.trailing_len < self.trailing.len() {
                    self.trailing[self.trailing_len] = c as u8;
                    self.trailing_len += 1;
                }
                return Ok(());
            }
            _ => {}
        }
        self.trailing_len = 0;
        Ok(())
    }
}

impl Write for FieldFilter<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            self.push(c)?;
        }
        Ok(())
    }
}

// ---- URLs in text ----

/// Text with the userinfo and query values of its URLs replaced.
pub struct RedactUrls<'a>(pub &'a str);

impl fmt::Display for RedactUrls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_redacted_urls(f, self.0)
    }
}

impl fmt::Debug for RedactUrls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Whether `text` has a URL whose userinfo or query would be redacted.
pub fn has_url_secrets(text: &str) -> bool {
    text.contains("://") && (text.contains('@') || text.contains('?'))
}

/// Writes `text` with every URL's userinfo (`user:pass@`) and query values replaced.
pub fn write_redacted_urls(out: &mut impl Write, text: &str) -> fmt::Result {
    if !has_url_secrets(text) {
        return out.write_str(text);
    }
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (before, after) = rest.split_at(scheme_end + 3);
        out.write_str(before)?;
        // The URL runs to the next whitespace or quote.
        let url_len =
            after.find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '>').unwrap_or(after.len());
        let (url, tail) = after.split_at(url_len);
        // Userinfo ends at the last `@` before the query: a password may hold a `/`.
        let query_start = url.find(['?', '#']).unwrap_or(url.len());
        let path = match url[..query_start].rfind('@') {
            Some(at) => {
                out.write_str(REDACTED)?;
                &url[at..]
            }
            None => url,
        };
        match path.find('?') {
            Some(q) => {
                out.write_str(&path[..=q])?;
                let query = &path[q + 1..];
                let (query, fragment) = query.split_at(query.find('#').unwrap_or(query.len()));
                for (i, pair) in query.split('&').enumerate() {
                    if i > 0 {
                        out.write_char('&')?;
                    }
                    match pair.split_once('=') {
                        Some((key, value)) if !value.is_empty() => {
                            out.write_str(key)?;
                            out.write_char('=')?;
                            out.write_str(REDACTED)?;
                        }
                        _ => out.write_str(pair)?,
                    }
                }
                out.write_str(fragment)?;
            }
            None => out.write_str(path)?,
        }
        rest = tail;
    }
    out.write_str(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Client {
        api_key: String,
        region: &'static str,
        inner: Inner,
        tags: Vec<&'static str>,
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Inner {
        password: Option<String>,
        retries: u32,
        auth: (u8, u8),
    }

    fn client() -> Client {
        Client {
            api_key: "sk_live_CANARY, with \"quotes\" and } braces".into(),
            region: "eu",
            inner: Inner { password: Some("CANARY".into()), retries: 3, auth: (1, 2) },
            tags: vec!["token: not a field"],
        }
    }

    #[test]
    fn credential_fields_are_replaced_at_any_depth_and_the_rest_is_kept() {
        let text = format!("{:?}", RedactFields(&client()));
        assert!(!text.contains("CANARY"), "{text}");
        assert_eq!(
            text,
            "Client { api_key: \"[redacted]\", region: \"eu\", inner: Inner { password: \"[redacted]\", retries: 3, \
             auth: \"[redacted]\" }, tags: [\"token: not a field\"] }"
        );
    }

    #[test]
    fn pretty_debug_is_filtered_too() {
        let text = format!("{:?}", RedactFields(&format_args!("{:#?}", client())));
        assert!(!text.contains("CANARY"), "{text}");
        assert!(text.contains("region: \"eu\""), "{text}");
    }

    #[test]
    fn names_are_judged_by_words() {
        for name in ["password", "db_password", "API_TOKEN", "database_url", "dsn", "access_key", "private_key"] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in ["auth", "auth_header", "x-auth", "cookie", "credentials", "client_secret"] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in ["author", "order_id", "user", "authority", "region"] {
            assert!(!is_credential_name(name), "{name}");
        }
    }

    #[test]
    fn urls_lose_userinfo_and_query_values() {
        let cases = [
            ("postgres://app:CANARY@db:5432/shop", "postgres://[redacted]@db:5432/shop"),
            (
                "GET https://api.example/x?token=CANARY&page=2#top failed",
                "GET https://api.example/x?token=[redacted]&page=[redacted]#top failed",
            ),
            ("redis://:CANARY/with/slash@host/0 down", "redis://[redacted]@host/0 down"),
            ("no url here, user@example.com?", "no url here, user@example.com?"),
            ("http://host/path?flag&x=", "http://host/path?flag&x="),
        ];
        for (input, expected) in cases {
            let got = RedactUrls(input).to_string();
            assert_eq!(got, expected);
            assert!(!got.contains("CANARY"));
        }
    }
}
