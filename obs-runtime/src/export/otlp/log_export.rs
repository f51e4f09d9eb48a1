//! OTLP logs as an exporter: the log layer hands every event to the sink this
//! adds to the subscriber, which queues it for the log pipeline's export thread.

use std::time::{Duration, Instant};

use opentelemetry::logs::LoggerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogExporter, SdkLoggerProvider};

use super::build::{build, log_exporter, queue_config, thread_error, time_left};
use super::logs::LogSink;
use super::processor::{LogQueue, Logs as LogRecords, Pipeline};
use super::settings::{Endpoint, OtlpOptions, Signal};
use crate::export::seam::{Configured, Exporter, StartContext};
use crate::init_error::InitError;

/// Log export, configured.
pub(super) struct Logs {
    pub endpoint: Endpoint,
    pub resource: Resource,
    pub options: OtlpOptions,
}

impl Configured for Logs {
    /// Builds the exporter, its queue and thread, and the log layer's sink. Nothing global changes here.
    fn start(self: Box<Self>, cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        let Logs { endpoint, resource, options } = *self;
        cx.exports.push(format!("logs to {}", endpoint.shown()));
        let (mut exporter, executor, destination) = build(&endpoint, log_exporter)?;
        exporter.set_resource(&resource);
        let pipeline =
            Pipeline::start(Signal::Logs, LogRecords(exporter), executor, &queue_config(&options, destination))
                .map_err(thread_error)?;
        let provider =
            SdkLoggerProvider::builder().with_log_processor(LogQueue(pipeline)).with_resource(resource).build();
        cx.log_sink = Some(LogSink::new(provider.logger("obs")));
        Ok(Box::new(RunningLogs { provider, shutdown_timeout: options.shutdown_timeout }))
    }
}

struct RunningLogs {
    provider: SdkLoggerProvider,
    shutdown_timeout: Duration,
}

impl Exporter for RunningLogs {
    fn shutdown_limit(&self) -> Duration {
        self.shutdown_timeout
    }

    /// Exports what is queued, waiting at most until `deadline`.
    fn shutdown(self: Box<Self>, deadline: Instant) {
        let _ = self.provider.shutdown_with_timeout(time_left(deadline));
    }
}
