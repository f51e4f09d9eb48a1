//! OTLP metrics as an exporter: every interval a collection thread renders
//! what `/metrics` would return (the `metrics` facade's recorder and obs's
//! own store, so both report the same values and bucket bounds), turns it
//! into one OTLP export request (`metric_points.rs`) and queues it for the
//! metrics pipeline's export thread (bounded; a collection that does not fit
//! is dropped and its data points counted). Dropping the guard takes one last
//! collection and exports it within the shutdown timeout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_http::HttpClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use prost::Message;

use super::build::{queue_config, thread_error, time_left};
use super::metric_points::Points;
use super::processor::{Executor, Pipeline, Sink};
use super::settings::{MetricExport, OtlpOptions, OtlpProtocol, Signal};
use super::transport::{self, Destination, LastCause};
use crate::export::seam::{Configured, Exporter, MetricsText, StartContext};
use crate::init_error::InitError;
use crate::worker::Worker;

/// Metrics export, configured.
pub(super) struct Metrics {
    pub export: MetricExport,
    pub resource: Vec<(String, String)>,
    pub options: OtlpOptions,
}

/// One collection, ready to send.
pub(super) struct Collected {
    request: ExportMetricsServiceRequest,
    points: u64,
}

impl super::weight::Weigh for Collected {
    fn weight(&self) -> usize {
        // About what it holds: its encoded size (a collection is a few per interval).
        self.request.encoded_len()
    }
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

impl Configured for Metrics {
    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        let Metrics { export, resource, options } = *self;
        let Some(render) = cx.metrics_text.clone() else {
            return Err(InitError::Config(
                "OTLP metrics export reads obs's Prometheus recorder, which Builder::prometheus(false) turned off"
                    .into(),
            ));
        };
        let endpoint = &export.endpoint;
        cx.exports.push(format!("metrics to {} every {:?}", endpoint.shown(), export.interval));
        let mut destination = Destination { host: transport::host_of(&endpoint.url), cause: None };
        let executor = Executor::Tokio(
            crate::worker::current_thread_runtime()
                .map_err(|e| InitError::Config(format!("OTLP export runtime: {e}")))?,
        );
        let sink = match endpoint.protocol {
            OtlpProtocol::HttpProtobuf => {
                let cause = Arc::new(LastCause::default());
                destination.cause = Some(cause.clone());
                let client = Box::new(transport::http_client(endpoint, cause)?);
                MetricRequests::Http { client, url: endpoint.url.clone(), headers: endpoint.headers.clone() }
            }
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => {
                MetricRequests::Grpc(Box::new(executor.enter(|| transport::grpc_metrics_client(endpoint))?))
            }
            #[cfg(not(feature = "otlp-grpc"))]
            OtlpProtocol::Grpc => unreachable!("rejected by Settings::resolve without the otlp-grpc feature"),
        };
        let mut config = queue_config(&options, destination);
        // A queued item is a whole collection: a few are plenty, and each goes out on its own.
        config.queue_size = config.queue_size.clamp(1, 8);
        config.batch_size = 1;
        config.batch_delay = Duration::from_millis(1);
        let pipeline = Arc::new(Pipeline::start(Signal::Metrics, sink, executor, &config).map_err(thread_error)?);
        let points = Arc::new(Mutex::new(Points::new(export.temporality, &resource, now_nanos())));
        let collect = Collect { render, points, pipeline: pipeline.clone() };
        let collector = {
            let collect = collect.clone();
            let interval = export.interval;
            Worker::spawn("obs-otlp-metrics", move |stop| {
                while !stop.wait(interval) {
                    collect.once();
                }
            })
            .map_err(thread_error)?
        };
        Ok(Box::new(RunningMetrics {
            collector: Some(collector),
            collect,
            pipeline,
            shutdown_timeout: options.shutdown_timeout,
        }))
    }
}

/// Takes a collection and queues it.
#[derive(Clone)]
struct Collect {
    render: MetricsText,
    points: Arc<Mutex<Points>>,
    pipeline: Arc<Pipeline<Collected>>,
}

impl Collect {
    fn once(&self) {
        // OpenMetrics: the rendering that carries exemplars.
        let text = (self.render)(crate::export::text_format::TextFormat::OpenMetrics);
        // Only this thread and shutdown take it, one after the other.
        let (request, points) = self.points.lock().unwrap_or_else(|e| e.into_inner()).request(&text, now_nanos());
        self.pipeline.enqueue(Collected { request, points });
    }
}

struct RunningMetrics {
    collector: Option<Worker>,
    collect: Collect,
    pipeline: Arc<Pipeline<Collected>>,
    shutdown_timeout: Duration,
}

impl Exporter for RunningMetrics {
    fn shutdown_limit(&self) -> Duration {
        self.shutdown_timeout
    }

    /// Stops collecting, then exports one last collection, waiting at most until `deadline`.
    fn shutdown(mut self: Box<Self>, deadline: Instant) {
        if let Some(collector) = self.collector.take() {
            collector.stop(deadline);
        }
        self.collect.once();
        let _ = self.pipeline.shutdown(time_left(deadline));
    }
}

/// How collections reach the collector.
pub(super) enum MetricRequests {
    Http {
        client: Box<transport::HttpTransport>,
        url: String,
        headers: Vec<(String, String)>,
    },
    #[cfg(feature = "otlp-grpc")]
    Grpc(Box<transport::GrpcMetrics>),
}

impl Sink for MetricRequests {
    type Item = Collected;

    fn counts_for(item: &Collected) -> u64 {
        item.points
    }

    fn export(&mut self, batch: Vec<Collected>, executor: &Executor) -> OTelSdkResult {
        let mut result = Ok(());
        for collected in batch {
            let sent = match self {
                MetricRequests::Http { client, url, headers } => {
                    let mut request =
                        http::Request::post(url.as_str()).header(http::header::CONTENT_TYPE, "application/x-protobuf");
                    for (key, value) in headers.iter() {
                        request = request.header(key.as_str(), value.as_str());
                    }
                    let request = request
                        .body(collected.request.encode_to_vec().into())
                        .map_err(|e| OTelSdkError::InternalFailure(format!("building the request: {e}")))?;
                    match executor.block_on(client.send_bytes(request)) {
                        Ok(response) if response.status().is_success() => Ok(()),
                        Ok(response) => {
                            Err(OTelSdkError::InternalFailure(format!("HTTP status {}", response.status())))
                        }
                        Err(e) => Err(OTelSdkError::InternalFailure(e.to_string())),
                    }
                }
                #[cfg(feature = "otlp-grpc")]
                MetricRequests::Grpc(client) => executor.block_on(client.export(collected.request)),
            };
            if sent.is_err() {
                result = sent;
            }
        }
        result
    }

    fn shutdown(&mut self) {}
}
