//! The builder's side of OTLP export: what code asked for, before the
//! environment is read.

use std::time::Duration;

use super::metrics::Temporality;
use super::redact::{HeaderNames, redact_url};
use super::sampler::TraceSampler;
use super::tls::TlsOptions;
use crate::init_error::InitError;

/// The builder's OTLP options (code side); the environment is read in [`Settings::resolve`].
/// `Debug` shows header names and a redacted endpoint, never a header value.
#[derive(Clone)]
pub(crate) struct OtlpOptions {
    pub endpoint: Option<String>,
    pub headers: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub tls: TlsOptions,
    pub sampler: Option<TraceSampler>,
    pub queue_size: usize,
    pub batch_size: usize,
    pub batch_delay: Duration,
    pub shutdown_timeout: Duration,
    pub service_version: Option<String>,
    pub error_log_interval: Duration,
    pub keep: crate::export::otlp::tail::KeepRule,
    pub protocol: OtlpProtocol,
    /// Export log events too.
    pub logs: bool,
    /// Export metrics too, every `metric_interval`, with `temporality`.
    pub metrics: bool,
    pub metric_interval: Duration,
    pub temporality: Temporality,
    /// Export the spans of health evaluations (off: they start no trace).
    #[cfg_attr(not(feature = "health"), allow(dead_code))]
    pub trace_health: bool,
    /// Also export the code attributes under their pre-1.33 names.
    pub old_code_names: bool,
}

impl Default for OtlpOptions {
    fn default() -> Self {
        OtlpOptions {
            endpoint: None,
            headers: Vec::new(),
            timeout: None,
            tls: TlsOptions::default(),
            sampler: None,
            queue_size: 2048,
            batch_size: 512,
            batch_delay: Duration::from_millis(1000),
            shutdown_timeout: Duration::from_secs(5),
            service_version: None,
            error_log_interval: Duration::from_secs(60),
            keep: Default::default(),
            protocol: OtlpProtocol::HttpProtobuf,
            logs: false,
            metrics: false,
            metric_interval: Duration::from_secs(60),
            temporality: Temporality::Cumulative,
            trace_health: false,
            old_code_names: false,
        }
    }
}

impl std::fmt::Debug for OtlpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpOptions")
            .field("endpoint", &self.endpoint.as_deref().map(redact_url))
            .field("headers", &HeaderNames(&self.headers))
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("sampler", &self.sampler)
            .field("queue_size", &self.queue_size)
            .field("batch_size", &self.batch_size)
            .field("batch_delay", &self.batch_delay)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("service_version", &self.service_version)
            .field("error_log_interval", &self.error_log_interval)
            .field("keep", &self.keep)
            .field("protocol", &self.protocol)
            .field("logs", &self.logs)
            .field("metrics", &self.metrics)
            .field("metric_interval", &self.metric_interval)
            .field("temporality", &self.temporality)
            .field("trace_health", &self.trace_health)
            .field("old_code_names", &self.old_code_names)
            .finish()
    }
}

/// The wire protocol of OTLP export, as in `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `http/protobuf`: protobuf over HTTP `POST` to `/v1/traces` and `/v1/logs` (the default).
    #[default]
    HttpProtobuf,
    /// `grpc`: the OTLP gRPC service (cargo feature `otlp-grpc`).
    Grpc,
}

impl OtlpProtocol {
    /// `Err` says why, without the value.
    pub(super) fn parse(text: &str) -> Result<Self, &'static str> {
        match text.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "grpc" if cfg!(feature = "otlp-grpc") => Ok(OtlpProtocol::Grpc),
            "grpc" => Err("OTLP over gRPC needs the `otlp-grpc` feature of obs-runtime"),
            "http/json" => Err("obs exports OTLP as http/protobuf or grpc, not http/json"),
            _ => Err("not an OTLP protocol (http/protobuf or grpc)"),
        }
    }

    pub(super) fn check_compiled_in(self, source: &str) -> Result<Self, InitError> {
        if self == OtlpProtocol::Grpc && !cfg!(feature = "otlp-grpc") {
            return Err(InitError::Config(format!(
                "{source} asks for OTLP over gRPC, which needs the `otlp-grpc` feature of obs-runtime"
            )));
        }
        Ok(self)
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::Grpc => "grpc",
        }
    }
}
