//! How export reaches the collector: the HTTP client (hyper on rustls with the
//! `ring` provider, driven by the pipeline's runtime; no OpenSSL) and the TLS of the
//! gRPC channel, both from the TLS material `settings/tls.rs` read in `init`,
//! and what an export failure line says: the endpoint's host and the cause
//! (DNS, refused, TLS, timeout), which opentelemetry-otlp's HTTP exporter
//! reduces to "network error".

use std::sync::{Arc, Mutex};

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

use super::settings::{Endpoint, Tls, redact_url};
use crate::init_error::InitError;

/// The cause of the last failed request, written by the HTTP client on the
/// export thread and read there by the pipeline when the export fails.
#[derive(Debug, Default)]
pub(crate) struct LastCause(Mutex<Option<String>>);

impl LastCause {
    fn set(&self, cause: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(cause);
    }

    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Where a pipeline sends, as its failure lines name it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Destination {
    /// `host:port` of the endpoint (no userinfo, path or query).
    pub host: String,
    /// Set by the HTTP client; gRPC errors carry their cause themselves.
    pub cause: Option<Arc<LastCause>>,
}

impl Destination {
    /// The failure as one line: the host, then the cause when the client recorded one.
    pub(crate) fn describe(&self, error: &opentelemetry_sdk::error::OTelSdkError) -> String {
        match self.cause.as_ref().and_then(|c| c.take()) {
            Some(cause) => format!("{}: {cause}", self.host),
            None => format!("{}: {error}", self.host),
        }
    }
}

/// `host:port` of `url`, for failure lines.
pub(crate) fn host_of(url: &str) -> String {
    let shown = redact_url(url);
    let uri: Option<http::Uri> = shown.parse().ok();
    match uri.as_ref().and_then(|u| u.authority()) {
        Some(authority) => authority.as_str().rsplit('@').next().unwrap_or_default().to_owned(),
        None => shown,
    }
}

/// The rustls client configuration of `tls`: its CA certificates or the
/// platform's verifier, and its client certificate for mutual TLS.
fn rustls_config(tls: &Tls) -> Result<rustls::ClientConfig, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &tls.roots {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            let (_, unusable) = roots.add_parsable_certificates(pem.parsed.clone());
            if roots.is_empty() {
                return Err(format!("none of its {unusable} certificate(s) is a usable CA certificate"));
            }
            builder.with_root_certificates(roots)
        }
        None => builder.with_platform_verifier().map_err(|e| format!("the platform's root certificates: {e}"))?,
    };
    match &tls.identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.parsed.clone(), id.key.parsed.clone_key())
            .map_err(|e| format!("the client certificate and key do not fit together: {e}")),
        None => Ok(builder.with_no_client_auth()),
    }
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// The HTTP client of one signal (`http://` and `https://`), with the endpoint's TLS
/// material and time limit. Its requests run on the pipeline's runtime.
pub(crate) fn http_client(endpoint: &Endpoint, cause: Arc<LastCause>) -> Result<HttpTransport, InitError> {
    let tls = rustls_config(&endpoint.tls).map_err(|why| InitError::Config(format!("OTLP TLS settings: {why}")))?;
    let connector =
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
    let connections = Connections::default();
    let client = hyper_util::client::legacy::Client::builder(connections.clone()).build(connector);
    Ok(HttpTransport { client, timeout: endpoint.timeout, connections, cause })
}

/// hyper's client, recording why a request failed.
pub(crate) struct HttpTransport {
    client: hyper_util::client::legacy::Client<Connector, http_body_util::Full<Bytes>>,
    timeout: std::time::Duration,
    connections: Connections,
    cause: Arc<LastCause>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// The largest response body read (the collector's answer is a few bytes).
const MAX_RESPONSE_BYTES: usize = 4 << 20;

#[async_trait::async_trait]
impl HttpClient for HttpTransport {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        use http_body_util::BodyExt as _;

        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, http_body_util::Full::new(body));
        let exchange = async {
            let response = self.client.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = http_body_util::Limited::new(body, MAX_RESPONSE_BYTES).collect().await?.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        let sent = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(sent) => sent,
            Err(elapsed) => {
                // The connection would go on writing the batch to a backend that does not
                // read it, holding it (megabytes) until the backend closes: end it now.
                self.connections.end_all();
                Err(Box::new(elapsed) as HttpError)
            }
        };
        if let Err(error) = &sent {
            self.cause.set(cause(error.as_ref()));
        }
        sent
    }
}

/// Runs the client's connection tasks where they can be ended: after a
/// request timed out, its connection is ended with its body.
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<Vec<tokio::task::AbortHandle>>>);

impl Connections {
    fn end_all(&self) {
        for task in self.0.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            task.abort();
        }
    }
}

impl<F> hyper::rt::Executor<F> for Connections
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        let task = tokio::spawn(future).abort_handle();
        let mut tasks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|task| !task.is_finished());
        tasks.push(task);
    }
}

/// Why a request failed, in a few words a reader can act on.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut io_kind = None;
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(why) => {
                    format!("TLS: the server's certificate is not trusted ({why:?})")
                }
                other => format!("TLS: {other}"),
            };
        }
        // `io::Error` hides the error it wraps from `source()` (it returns that error's source): look inside.
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => {
                io_kind = Some(io.kind());
                match io.get_ref() {
                    Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                    None => e.source(),
                }
            }
            None => e.source(),
        };
    }
    let text = chain(error);
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
        Some(std::io::ErrorKind::TimedOut) => "timed out".to_owned(),
        _ if text.contains("dns error") => format!("DNS lookup failed ({text})"),
        _ if text.to_ascii_lowercase().contains("timed out") || text.contains("deadline has elapsed") => {
            "timed out".to_owned()
        }
        _ => text,
    }
}

/// Every message of an error's source chain, joined.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut next = error.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// The gRPC client of metrics export (the span and log exporters bring their own).
#[cfg(feature = "otlp-grpc")]
pub(super) struct GrpcMetrics {
    client: opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient<
        tonic::transport::Channel,
    >,
    metadata: tonic::metadata::MetadataMap,
}

/// A lazily connecting channel to `endpoint`, with its TLS and metadata. Must run inside the runtime that drives it.
#[cfg(feature = "otlp-grpc")]
pub(super) fn grpc_metrics_client(endpoint: &Endpoint) -> Result<GrpcMetrics, InitError> {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    let shown = redact_url(&endpoint.url);
    let channel = tonic::transport::Endpoint::from_shared(endpoint.url.clone())
        .map_err(|_| InitError::Config(format!("OTLP metrics endpoint {shown}: not a gRPC endpoint")))?
        .timeout(endpoint.timeout);
    let tls = endpoint.url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
    let channel = if tls {
        channel
            .tls_config(grpc_tls(&endpoint.tls))
            .map_err(|e| InitError::Config(format!("OTLP metrics endpoint {shown}: TLS: {}", chain(&e))))?
    } else {
        channel
    };
    let headers: http::HeaderMap = endpoint
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.parse::<http::HeaderName>().ok()?, v.parse().ok()?)))
        .collect();
    Ok(GrpcMetrics {
        client: MetricsServiceClient::new(channel.connect_lazy()),
        metadata: tonic::metadata::MetadataMap::from_headers(headers),
    })
}

#[cfg(feature = "otlp-grpc")]
impl GrpcMetrics {
    pub(super) async fn export(
        &mut self,
        request: opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let mut request = tonic::Request::new(request);
        *request.metadata_mut() = self.metadata.clone();
        match self.client.export(request).await {
            Ok(_) => Ok(()),
            Err(status) => Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(format!(
                "gRPC status {:?}: {}",
                status.code(),
                cause(&status)
            ))),
        }
    }
}

/// The TLS of the gRPC channel: the endpoint's CA certificates (or the
/// platform's roots) and client certificate. HTTP/2 is assumed: a TLS
/// terminator in front of the collector may not negotiate ALPN.
#[cfg(feature = "otlp-grpc")]
pub(super) fn grpc_tls(tls: &Tls) -> opentelemetry_otlp::tonic_types::transport::ClientTlsConfig {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
    let config = ClientTlsConfig::new().assume_http2(true);
    let config = match &tls.roots {
        Some(pem) => config.ca_certificate(Certificate::from_pem(&pem.text)),
        None => config.with_native_roots(),
    };
    match &tls.identity {
        Some(id) => config.identity(Identity::from_pem(&id.chain.text, &id.key.text)),
        None => config,
    }
}
