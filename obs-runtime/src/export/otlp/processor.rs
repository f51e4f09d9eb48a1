//! The span pipeline between the application and the OTLP exporter: a
//! bounded queue that never blocks the caller, and one dedicated thread that
//! batches and exports.
//!
//! Why not the SDK's `BatchSpanProcessor`: its drop count is private, so
//! `obs_exporter_dropped_spans_total` could not be kept; and running the
//! exporter on a plain thread with the blocking HTTP client means export works
//! the same in tokio and non-tokio applications (an async client outside a
//! reactor loses spans).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use metrics::Counter;
use opentelemetry::trace::Status;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// Counters of the pipeline, exposed through the `metrics` facade.
pub(crate) struct PipelineMetrics {
    pub dropped: Counter,
    pub exported: Counter,
    pub failed: Counter,
}

impl PipelineMetrics {
    /// Describes and resolves `obs_exporter_*{signal="traces"}` (under the configured namespace).
    pub(crate) fn traces() -> PipelineMetrics {
        let name = crate::metrics::name;
        let (dropped, exported, failed) = (
            name("exporter_dropped_spans_total"),
            name("exporter_exported_spans_total"),
            name("exporter_failed_spans_total"),
        );
        metrics::describe_counter!(
            dropped.clone(),
            metrics::Unit::Count,
            "Spans dropped before export because the export queue was full."
        );
        metrics::describe_counter!(exported.clone(), metrics::Unit::Count, "Spans the backend accepted.");
        metrics::describe_counter!(
            failed.clone(),
            metrics::Unit::Count,
            "Spans lost because their export failed (backend down, slow or refusing)."
        );
        PipelineMetrics {
            dropped: metrics::counter!(dropped, "signal" => "traces"),
            exported: metrics::counter!(exported, "signal" => "traces"),
            failed: metrics::counter!(failed, "signal" => "traces"),
        }
    }
}

enum Control {
    Flush(mpsc::Sender<()>),
    Shutdown(mpsc::Sender<()>),
}

enum Item {
    Span(Box<SpanData>),
    /// Wakes the worker to read the control channel.
    Wake,
}

/// Tuning of the pipeline.
pub(crate) struct QueueConfig {
    pub queue_size: usize,
    pub batch_size: usize,
    pub batch_delay: Duration,
    pub shutdown_timeout: Duration,
    pub error_log_interval: Duration,
    pub keep: super::tail::KeepRule,
}

/// A `SpanProcessor` with a bounded queue and a dedicated export thread.
pub(crate) struct QueueProcessor {
    queue: SyncSender<Item>,
    control: Mutex<mpsc::Sender<Control>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    dropped: Counter,
    dropped_total: Arc<AtomicU64>,
    shutdown_timeout: Duration,
    tail: Option<super::tail::TailBuffer>,
}

impl std::fmt::Debug for QueueProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueProcessor").field("dropped", &self.dropped_total.load(Ordering::Relaxed)).finish()
    }
}

impl QueueProcessor {
    pub(crate) fn start<E>(exporter: E, config: QueueConfig, metrics: PipelineMetrics) -> std::io::Result<Self>
    where
        E: SpanExporter + 'static,
    {
        let (queue, items) = mpsc::sync_channel(config.queue_size.max(1));
        let (control, controls) = mpsc::channel();
        let worker = Worker {
            exporter,
            items,
            controls,
            batch: Vec::with_capacity(config.batch_size),
            batch_size: config.batch_size.max(1),
            batch_delay: config.batch_delay,
            metrics: PipelineMetrics {
                dropped: metrics.dropped.clone(),
                exported: metrics.exported,
                failed: metrics.failed,
            },
            errors: ErrorLog { interval: config.error_log_interval, last: None, suppressed: 0 },
        };
        let handle = std::thread::Builder::new().name("obs-otlp-export".into()).spawn(move || worker.run())?;
        Ok(QueueProcessor {
            queue,
            control: Mutex::new(control),
            worker: Mutex::new(Some(handle)),
            dropped: metrics.dropped,
            dropped_total: Arc::new(AtomicU64::new(0)),
            shutdown_timeout: config.shutdown_timeout,
            tail: config.keep.active().then(|| super::tail::TailBuffer::new(config.keep)),
        })
    }

    /// Sends a control message and waits at most `limit` for the worker to act on it.
    fn command(&self, make: impl FnOnce(mpsc::Sender<()>) -> Control, limit: Duration) -> OTelSdkResult {
        let (done, wait) = mpsc::channel();
        let sent = self.control.lock().unwrap_or_else(|e| e.into_inner()).send(make(done));
        if sent.is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        // When the queue is full the worker is busy and reads the control channel after this batch.
        let _ = self.queue.try_send(Item::Wake);
        match wait.recv_timeout(limit) {
            Ok(()) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(limit)),
            Err(RecvTimeoutError::Disconnected) => Err(OTelSdkError::AlreadyShutdown),
        }
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.enqueue(span);
        } else if let Some(tail) = &self.tail {
            for span in tail.on_end(span) {
                self.enqueue(span);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.command(Control::Flush, self.shutdown_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.command(Control::Shutdown, timeout.min(self.shutdown_timeout));
        let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(worker) = worker
            && result.is_ok()
        {
            let _ = worker.join();
        }
        // On timeout the worker is left to finish (or die with the process): shutdown stays bounded.
        result
    }
}

impl QueueProcessor {
    /// Queues a span for export, or drops and counts it when the queue is full.
    fn enqueue(&self, span: SpanData) {
        match self.queue.try_send(Item::Span(Box::new(span))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.increment(1);
                self.dropped_total.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Logs export failures at most once per interval, saying how many were not logged.
struct ErrorLog {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    fn failed(&mut self, spans: usize, error: &OTelSdkError) {
        let now = Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < self.interval) {
            self.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut self.suppressed);
        self.last = Some(now);
        tracing::warn!(
            target: "obs_runtime::export::otlp",
            event = "exporter.error",
            signal = "traces",
            spans,
            suppressed_errors = suppressed,
            error = %error,
            "OTLP span export failed; spans are dropped until the backend answers (logged at most once per {:?})",
            self.interval
        );
    }

    fn recovered(&mut self) {
        if self.last.take().is_some() {
            tracing::info!(
                target: "obs_runtime::export::otlp",
                event = "exporter.recovered",
                signal = "traces",
                "OTLP span export works again"
            );
        }
        self.suppressed = 0;
    }
}

struct Worker<E> {
    exporter: E,
    items: Receiver<Item>,
    controls: mpsc::Receiver<Control>,
    batch: Vec<SpanData>,
    batch_size: usize,
    batch_delay: Duration,
    metrics: PipelineMetrics,
    errors: ErrorLog,
}

impl<E: SpanExporter> Worker<E> {
    fn run(mut self) {
        let mut deadline = Instant::now() + self.batch_delay;
        loop {
            match self.items.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Item::Span(span)) => {
                    self.batch.push(*span);
                    if self.batch.len() >= self.batch_size {
                        self.export();
                        deadline = Instant::now() + self.batch_delay;
                    }
                }
                Ok(Item::Wake) => {}
                Err(RecvTimeoutError::Timeout) => {
                    self.export();
                    deadline = Instant::now() + self.batch_delay;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.drain();
                    let _ = self.exporter.shutdown();
                    return;
                }
            }
            while let Ok(control) = self.controls.try_recv() {
                match control {
                    Control::Flush(done) => {
                        self.drain();
                        let _ = done.send(());
                    }
                    Control::Shutdown(done) => {
                        self.drain();
                        let _ = self.exporter.shutdown();
                        let _ = done.send(());
                        return;
                    }
                }
            }
        }
    }

    /// Exports everything queued now.
    fn drain(&mut self) {
        while let Ok(item) = self.items.try_recv() {
            if let Item::Span(span) = item {
                self.batch.push(*span);
                if self.batch.len() >= self.batch_size {
                    self.export();
                }
            }
        }
        self.export();
    }

    fn export(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let mut batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        batch.iter_mut().for_each(add_exception_event);
        let count = batch.len();
        // No scoped `NoSubscriber` around this: a scoped dispatcher anywhere in the
        // process takes every thread's `tracing` calls off their fast path (and
        // makes dispatcher look-ups inside layers fail). The HTTP stack used here
        // emits no spans.
        let result = futures_executor::block_on(self.exporter.export(batch));
        match result {
            Ok(()) => {
                self.metrics.exported.increment(count as u64);
                self.errors.recovered();
            }
            Err(error) => {
                self.metrics.failed.increment(count as u64);
                self.errors.failed(count, &error);
            }
        }
    }
}

/// A span that ended in error gets the OpenTelemetry `exception` event (from the
/// `error.type` and `error.message` attributes obs records) and a status description.
/// Done here, on the export thread, so the application's thread does no extra work.
fn add_exception_event(span: &mut SpanData) {
    if !matches!(span.status, Status::Error { .. }) {
        return;
    }
    let attr =
        |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.as_str().into_owned());
    let Some(kind) = attr("error.type") else { return };
    if span.events.iter().any(|e| e.name == "exception") {
        return;
    }
    let message = attr("error.message").unwrap_or_default();
    let mut attributes = vec![KeyValue::new("exception.type", kind)];
    if !message.is_empty() {
        attributes.push(KeyValue::new("exception.message", message.clone()));
        if matches!(&span.status, Status::Error { description } if description.is_empty()) {
            span.status = Status::error(message);
        }
    }
    span.events.events.push(opentelemetry::trace::Event::new("exception", span.end_time, attributes, 0));
}
