//! What of a setting may be shown in a message or `Debug` output: header
//! names but never their values, endpoints without userinfo or query values.
//! A leaf of `settings`.

/// Header names only: their values are credentials as often as not.
pub(super) struct HeaderNames<'a>(pub(super) &'a [(String, String)]);

impl std::fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, _)| (k, "<redacted>"))).finish()
    }
}

/// `url` fit to be shown in a message: the userinfo (`user:password@`) and
/// the query's values (`?token=...`) replaced, the fragment dropped.
pub(crate) fn redact_url(url: &str) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = match before_query.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, before_query),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("<redacted>@{host}"),
        None => authority.to_owned(),
    };
    // Userinfo-like text past the authority (`/v1/traces,user:pass@host` from a
    // malformed list) is not the URL's userinfo, but may still be a secret.
    let path = if path.contains('@') { "/<redacted>" } else { path };
    let mut out = match scheme {
        Some(scheme) => format!("{scheme}://{authority}{path}"),
        None => format!("{authority}{path}"),
    };
    if let Some(query) = query {
        let keys: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}=<redacted>"),
                None => "<redacted>".to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
}
