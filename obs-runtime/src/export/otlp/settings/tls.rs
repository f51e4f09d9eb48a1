//! TLS of export: which certificates to trust and which to present, read
//! and checked in `init`. `https://` endpoints use the platform's roots
//! unless `OTEL_EXPORTER_OTLP_CERTIFICATE` (or the builder) names a CA file,
//! which then replaces them, as the exporters of other OpenTelemetry SDKs do.
//!
//! How the specification's rules were read:
//! - `..._CERTIFICATE`, `..._CLIENT_CERTIFICATE`, `..._CLIENT_KEY` are paths
//!   to PEM files; the signal's own variable wins over the general one, and
//!   either wins over the builder;
//! - unlike other variables, a file that cannot be read or parsed is an
//!   `init` error naming the variable (and the path, never the content): a
//!   silently ignored CA would send telemetry somewhere unverified or nowhere;
//! - `OTEL_EXPORTER_OTLP_INSECURE` only applies to OTLP/gRPC endpoints given
//!   without a scheme (`collector:4317`): `true` makes them `http://`,
//!   anything else (the default) `https://`. A scheme always wins.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::env::{Signal, var_either};
use crate::env::warn_env;
use crate::init_error::InitError;

/// The builder's TLS settings (paths to PEM files).
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsOptions {
    /// CA certificates to trust instead of the platform's roots.
    pub certificate: Option<PathBuf>,
    /// The client certificate (chain) for mutual TLS.
    pub client_certificate: Option<PathBuf>,
    /// The client certificate's private key.
    pub client_key: Option<PathBuf>,
    /// Plain-text gRPC for endpoints without a scheme.
    pub insecure: Option<bool>,
}

/// The TLS material of one signal, read and parsed. `Debug` says what is
/// there, never the key.
#[derive(Clone, Default)]
pub(crate) struct Tls {
    /// The trusted CA certificates (PEM as read, and parsed); `None`: the platform's roots.
    pub roots: Option<Pem<Vec<CertificateDer<'static>>>>,
    /// The client certificate chain and its key.
    pub identity: Option<Identity>,
}

/// A client certificate chain and its private key, read and parsed.
pub(crate) struct Identity {
    pub chain: Pem<Vec<CertificateDer<'static>>>,
    pub key: Pem<PrivateKeyDer<'static>>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        let key = Pem { text: self.key.text.clone(), parsed: self.key.parsed.clone_key() };
        Identity { chain: self.chain.clone(), key }
    }
}

/// A PEM file as read (tonic takes the text) and as parsed (rustls takes the DER).
pub(crate) struct Pem<T> {
    pub text: Vec<u8>,
    pub parsed: T,
}

impl Clone for Pem<Vec<CertificateDer<'static>>> {
    fn clone(&self) -> Self {
        Pem { text: self.text.clone(), parsed: self.parsed.clone() }
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roots = match &self.roots {
            Some(pem) => format!("{} custom CA certificate(s)", pem.parsed.len()),
            None => "platform".to_owned(),
        };
        f.debug_struct("Tls")
            .field("roots", &roots)
            .field("client_certificate", &self.identity.as_ref().map(|id| id.chain.parsed.len()))
            .field("client_key", &self.identity.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where a setting came from: a variable's name or the builder method.
struct Source {
    name: String,
    path: PathBuf,
}

impl Source {
    /// The signal's variable, the general one, then the builder's path.
    fn find(signal: Signal, suffix: &str, builder: &Option<PathBuf>, method: &str) -> Option<Source> {
        match var_either(signal, suffix) {
            Some((name, text)) => Some(Source { name, path: PathBuf::from(text.trim()) }),
            None => builder.clone().map(|path| Source { name: format!("Builder::{method}"), path }),
        }
    }

    fn read(&self) -> Result<Vec<u8>, InitError> {
        std::fs::read(&self.path).map_err(|e| self.error(&format!("cannot read {}: {}", shown(&self.path), io_why(&e))))
    }

    fn error(&self, why: &str) -> InitError {
        InitError::Config(format!("{}: {why}", self.name))
    }
}

fn shown(path: &Path) -> String {
    format!("the file {:?}", path.display().to_string())
}

/// The I/O error without the OS's decoration.
fn io_why(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Certificates of a PEM file; `Err` never quotes the file (a mis-named key file would be shown).
fn certificates(source: &Source) -> Result<Pem<Vec<CertificateDer<'static>>>, InitError> {
    let text = source.read()?;
    let parsed: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&text).collect();
    match parsed {
        Ok(certs) if !certs.is_empty() => Ok(Pem { text, parsed: certs }),
        Ok(_) => Err(source.error(&format!("{} holds no PEM certificate", shown(&source.path)))),
        Err(_) => Err(source.error(&format!("{} is not a readable PEM certificate file", shown(&source.path)))),
    }
}

fn private_key(source: &Source) -> Result<Pem<PrivateKeyDer<'static>>, InitError> {
    let text = source.read()?;
    match PrivateKeyDer::from_pem_slice(&text) {
        Ok(key) => Ok(Pem { text, parsed: key }),
        Err(_) => {
            Err(source.error(&format!("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", shown(&source.path))))
        }
    }
}

impl Tls {
    /// The TLS material of `signal`, every file read and parsed now.
    pub(super) fn resolve(signal: Signal, options: &TlsOptions) -> Result<Tls, InitError> {
        let ca = Source::find(signal, "CERTIFICATE", &options.certificate, "otlp_certificate");
        let cert = Source::find(signal, "CLIENT_CERTIFICATE", &options.client_certificate, "otlp_client_certificate");
        let key = Source::find(signal, "CLIENT_KEY", &options.client_key, "otlp_client_certificate");
        let roots = ca.as_ref().map(certificates).transpose()?;
        let identity = match (cert, key) {
            (Some(cert), Some(key)) => Some(Identity { chain: certificates(&cert)?, key: private_key(&key)? }),
            (Some(cert), None) => {
                return Err(cert.error("a client certificate needs its key (OTEL_EXPORTER_OTLP_CLIENT_KEY)"));
            }
            (None, Some(key)) => {
                return Err(key.error("a client key needs its certificate (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)"));
            }
            (None, None) => None,
        };
        Ok(Tls { roots, identity })
    }
}

/// `OTEL_EXPORTER_OTLP_INSECURE` (or the signal's own), else the builder's, else false.
pub(super) fn insecure(signal: Signal, options: &TlsOptions) -> bool {
    let from_code = options.insecure.unwrap_or(false);
    let Some((name, text)) = var_either(signal, "INSECURE") else { return from_code };
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") => true,
        t if t.eq_ignore_ascii_case("false") => false,
        _ => {
            warn_env(&name, "neither true nor false", if from_code { "true" } else { "false" });
            from_code
        }
    }
}
