//! What both signals' exporters are built from: the resource, the queue
//! tuning, and the OTLP exporter with the executor its protocol needs.

use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;

use super::processor::{Executor, QueueConfig};
use super::settings::{Endpoint, OtlpOptions, OtlpProtocol, Settings};
use super::transport::{self, Destination, LastCause};
use crate::init_error::InitError;

/// The resource of every span and log record: resolved once, so both signals
/// carry the same attributes (`service.instance.id` included).
pub(super) fn resource(settings: &Settings) -> Resource {
    Resource::builder_empty()
        .with_attributes(settings.resource.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())))
        .build()
}

/// The tuning of one signal's pipeline, and where it sends (for its failure lines).
pub(super) fn queue_config(options: &OtlpOptions, destination: Destination) -> QueueConfig {
    QueueConfig {
        destination,
        queue_size: options.queue_size,
        queue_bytes: super::processor::QUEUE_BYTES,
        batch_size: options.batch_size,
        batch_delay: options.batch_delay,
        shutdown_timeout: options.shutdown_timeout,
        error_log_interval: options.error_log_interval,
    }
}

/// What is left until `deadline`, at least a millisecond (a zero timeout
/// would not even let a finished pipeline acknowledge).
pub(super) fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
}

/// An export thread could not start.
pub(super) fn thread_error(e: std::io::Error) -> InitError {
    InitError::Config(format!("OTLP export thread: {e}"))
}

/// Builds one exporter with the executor its protocol needs (a gRPC channel is
/// made inside the runtime that will drive it), and what its failure lines name.
pub(super) fn build<E>(
    endpoint: &Endpoint,
    make: fn(&Endpoint, Option<transport::HttpTransport>) -> Result<E, opentelemetry_otlp::ExporterBuildError>,
) -> Result<(E, Executor, Destination), InitError> {
    let mut destination = Destination { host: transport::host_of(&endpoint.url), cause: None };
    let executor = Executor::Tokio(
        crate::worker::current_thread_runtime().map_err(|e| InitError::Config(format!("OTLP export runtime: {e}")))?,
    );
    let client = match endpoint.protocol {
        OtlpProtocol::HttpProtobuf => {
            let cause = std::sync::Arc::new(LastCause::default());
            destination.cause = Some(cause.clone());
            Some(transport::http_client(endpoint, cause)?)
        }
        OtlpProtocol::Grpc => None,
    };
    let exporter = executor.enter(|| make(endpoint, client)).map_err(|e| {
        // The URL is shown redacted, the error may quote it too.
        let shown = super::settings::redact_url(&endpoint.url);
        InitError::Config(format!("OTLP exporter for {shown}: {}", e.to_string().replace(&endpoint.url, &shown)))
    })?;
    Ok((exporter, executor, destination))
}

/// Exporter builders of both signals share one shape; this writes it once per protocol.
macro_rules! exporter_for {
    ($name:ident, $exporter:ty) => {
        pub(super) fn $name(
            endpoint: &Endpoint,
            client: Option<transport::HttpTransport>,
        ) -> Result<$exporter, opentelemetry_otlp::ExporterBuildError> {
            match endpoint.protocol {
                #[cfg(feature = "otlp-grpc")]
                OtlpProtocol::Grpc => {
                    use opentelemetry_otlp::WithTonicConfig;
                    let _ = client;
                    let headers: http::HeaderMap = endpoint
                        .headers
                        .iter()
                        .filter_map(|(k, v)| Some((k.parse::<http::HeaderName>().ok()?, v.parse().ok()?)))
                        .collect();
                    let builder = <$exporter>::builder()
                        .with_tonic()
                        .with_endpoint(endpoint.url.clone())
                        .with_timeout(endpoint.timeout)
                        .with_metadata(opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers));
                    let tls = endpoint.url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
                    if tls {
                        builder.with_tls_config(transport::grpc_tls(&endpoint.tls)).build()
                    } else {
                        builder.build()
                    }
                }
                _ => {
                    let builder = <$exporter>::builder()
                        .with_http()
                        .with_endpoint(endpoint.url.clone())
                        .with_timeout(endpoint.timeout)
                        .with_headers(endpoint.headers.iter().cloned().collect());
                    match client {
                        Some(client) => builder.with_http_client(client).build(),
                        None => builder.build(),
                    }
                }
            }
        }
    };
}
exporter_for!(span_exporter, opentelemetry_otlp::SpanExporter);
exporter_for!(log_exporter, opentelemetry_otlp::LogExporter);
