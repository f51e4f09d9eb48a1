//! The tracking server's REST API, as the worker calls it: one request, its
//! answer as JSON, or why there was none. Sent through obs's own HTTP client
//! (`export/otlp/transport.rs`: hyper on rustls with the `ring` provider, the
//! platform's roots), so an `https://` tracking URI works as OTLP endpoints do.
//! The credentials go in the `Authorization` header only: never in a URL, a
//! message or a `Debug` output.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, Request};
use opentelemetry_http::{Bytes, HttpClient as _};
use serde_json::Value;

use crate::export::otlp::settings::{Endpoint, Tls};
use crate::export::otlp::transport::{HttpTransport, LastCause, host_of, http_client};
use crate::init_error::InitError;

/// How to reach the tracking server, resolved in `init`.
pub(crate) struct Connection {
    /// `scheme://host[:port][/prefix]`, without userinfo or a trailing `/`.
    pub base: String,
    /// `host:port`, for messages.
    pub host: String,
    /// `Bearer <token>` or `Basic <user:password>`, marked sensitive.
    pub auth: Option<HeaderValue>,
    pub timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.host)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// `uri` checked: `http://` or `https://`; userinfo in it becomes Basic credentials
    /// (unless `auth` is given). The error never shows the userinfo or the query.
    pub(crate) fn new(uri: &str, auth: Option<HeaderValue>, timeout: Duration) -> Result<Connection, String> {
        // Only the scheme is ever shown: the rest may hold credentials wherever it puts them.
        let parsed: http::Uri = uri.trim().parse().map_err(|_| "is not a URI".to_owned())?;
        match parsed.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
            scheme => {
                return Err(format!(
                    "has the scheme `{}:`; obs tracks through the tracking server's REST API and needs http:// or https://",
                    scheme.unwrap_or_default()
                ));
            }
        }
        let authority = parsed.authority().ok_or_else(|| "names no host".to_owned())?;
        let (userinfo, host) = match authority.as_str().rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority.as_str()),
        };
        let auth = match (auth, userinfo) {
            (Some(auth), _) => Some(auth),
            (None, Some(userinfo)) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                Some(basic(&percent_decode(user), &percent_decode(password))?)
            }
            (None, None) => None,
        };
        let path = parsed.path().trim_end_matches('/');
        let base = format!("{}://{host}{path}", parsed.scheme_str().unwrap_or("http"));
        Ok(Connection { host: host_of(&base), base, auth, timeout })
    }
}

/// `Authorization: Bearer <token>`.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue, String> {
    sensitive(format!("Bearer {}", token.trim()))
}

/// `Authorization: Basic <base64(user:password)>`.
pub(crate) fn basic(user: &str, password: &str) -> Result<HeaderValue, String> {
    sensitive(format!("Basic {}", base64(format!("{user}:{password}").as_bytes())))
}

fn sensitive(text: String) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::from_str(&text)
        .map_err(|_| "the MLflow credentials contain characters a header cannot carry".to_owned())?;
    value.set_sensitive(true);
    Ok(value)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered with an error that sending again will not change (4xx but 429).
    Refused { status: u16, code: String, message: String },
    /// No answer, or one worth trying again (connection refused, timeout, 5xx, 429).
    Unavailable(String),
}

impl Failure {
    pub(crate) fn code(&self) -> &str {
        match self {
            Failure::Refused { code, .. } => code,
            Failure::Unavailable(_) => "",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused { status, code, message } => write!(f, "HTTP {status} {code}: {message}"),
            Failure::Unavailable(cause) => f.write_str(cause),
        }
    }
}

/// The client of one tracking server. Its requests run on the worker's runtime.
pub(crate) struct Client {
    pub connection: Connection,
    http: HttpTransport,
    cause: Arc<LastCause>,
}

/// The most of an error message a line shows (the server may echo the request).
const MESSAGE_CHARS: usize = 200;

impl Client {
    pub(crate) fn new(connection: Connection) -> Result<Client, InitError> {
        let cause = Arc::new(LastCause::default());
        let endpoint = Endpoint {
            url: connection.base.clone(),
            protocol: Default::default(),
            headers: Vec::new(),
            timeout: connection.timeout,
            tls: Tls::default(),
        };
        let http = http_client(&endpoint, cause.clone())
            .map_err(|e| InitError::Config(format!("MLflow tracking: {}", e.to_string().replace("OTLP ", ""))))?;
        Ok(Client { connection, http, cause })
    }

    /// `POST /api/2.0/mlflow/<path>` with a JSON body.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let body = serde_json::to_vec(body).unwrap_or_default();
        self.send(Method::POST, &format!("/api/2.0/mlflow/{path}"), "application/json", body).await
    }

    /// `GET /api/2.0/mlflow/<path_and_query>`.
    pub(crate) async fn get(&self, path_and_query: &str) -> Result<Value, Failure> {
        self.send(Method::GET, &format!("/api/2.0/mlflow/{path_and_query}"), "application/json", Vec::new()).await
    }

    /// `PUT /api/2.0/mlflow-artifacts/artifacts/<path>` with the file's bytes.
    pub(crate) async fn put_artifact(&self, path: &str, bytes: Bytes) -> Result<Value, Failure> {
        let path = format!("/api/2.0/mlflow-artifacts/artifacts/{}", encode_path(path));
        self.send(Method::PUT, &path, "application/octet-stream", bytes).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<Value, Failure> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.connection.base))
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body.into())
            .map_err(|e| Failure::Refused { status: 0, code: "BAD_REQUEST".into(), message: e.to_string() })?;
        if let Some(auth) = &self.connection.auth {
            request.headers_mut().insert(http::header::AUTHORIZATION, auth.clone());
        }
        let response = match self.http.send_bytes(request).await {
            Ok(response) => response,
            Err(error) => {
                let cause = self.cause.take().unwrap_or_else(|| error.to_string());
                return Err(Failure::Unavailable(format!("{}: {cause}", self.connection.host)));
            }
        };
        let status = response.status().as_u16();
        let json: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(json);
        }
        let code = json["error_code"].as_str().unwrap_or_default().to_owned();
        let message: String = json["message"].as_str().unwrap_or_default().chars().take(MESSAGE_CHARS).collect();
        if status == 429 || status >= 500 {
            let text = if code.is_empty() { String::new() } else { format!(" {code}") };
            return Err(Failure::Unavailable(format!("{}: HTTP {status}{text}", self.connection.host)));
        }
        Err(Failure::Refused { status, code, message })
    }
}

/// An artifact path with each segment percent-encoded (file names may hold spaces, `#`, `?`).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_of_user_and_password() {
        let value = basic("Aladdin", "open sesame").unwrap();
        assert_eq!(value.to_str().unwrap(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(value.is_sensitive());
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn userinfo_in_the_uri_becomes_credentials_and_never_shows() {
        let c = Connection::new("https://me:p%40ss@mlflow.example:5000/prefix/", None, Duration::from_secs(1)).unwrap();
        assert_eq!(c.base, "https://mlflow.example:5000/prefix");
        assert_eq!(c.host, "mlflow.example:5000");
        assert_eq!(c.auth.as_ref().unwrap(), &basic("me", "p@ss").unwrap());
        assert!(!format!("{c:?}").contains("p@ss") && !format!("{c:?}").contains("cDBzcw"));
        let error = Connection::new("sqlite:///me:secret@x", None, Duration::from_secs(1)).unwrap_err();
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn artifact_paths_are_encoded_by_segment() {
        assert_eq!(encode_path("1/abc/artifacts/my model/a#b.json"), "1/abc/artifacts/my%20model/a%23b.json");
    }
}
