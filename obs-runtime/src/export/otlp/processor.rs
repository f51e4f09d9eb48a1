//! The pipeline between the application and an OTLP exporter: a bounded
//! queue that never blocks the caller, and one dedicated thread that batches
//! and exports. Spans and log records each get one.
//!
//! Why not the SDK's batch processors: their drop counts are private, so
//! `obs_exporter_dropped_spans_total` could not be kept; and running the
//! exporter on a plain thread (the blocking HTTP client, or a current-thread
//! tokio runtime of its own for gRPC) means export works the same in tokio and
//! non-tokio applications (an async client outside a reactor loses spans).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::Counter;
use opentelemetry::trace::Status;
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use super::settings::Signal;
use super::weight::Weigh;
use crate::metrics::{EXPORTER_DROPPED_SPANS_TOTAL, EXPORTER_EXPORTED_SPANS_TOTAL, EXPORTER_FAILED_SPANS_TOTAL};
use crate::worker::Worker as Thread;

/// Counters of one pipeline, exposed through the `metrics` facade.
struct PipelineMetrics {
    dropped: Counter,
    exported: Counter,
    failed: Counter,
}

impl PipelineMetrics {
    /// Resolves `obs_exporter_*{signal}` (under the configured namespace; `init` described them).
    /// For logs the counts are of log records.
    fn new(signal: Signal) -> PipelineMetrics {
        let signal = signal.name();
        PipelineMetrics {
            dropped: metrics::counter!(EXPORTER_DROPPED_SPANS_TOTAL.name(), "signal" => signal),
            exported: metrics::counter!(EXPORTER_EXPORTED_SPANS_TOTAL.name(), "signal" => signal),
            failed: metrics::counter!(EXPORTER_FAILED_SPANS_TOTAL.name(), "signal" => signal),
        }
    }
}

/// Runs the exporter's futures on the export thread: the pipeline's own
/// current-thread tokio runtime (the HTTP and gRPC clients need one); a plain
/// executor for exporters that need none (the tests' in-memory ones).
pub(crate) enum Executor {
    #[cfg(test)]
    Plain,
    Tokio(tokio::runtime::Runtime),
}

impl Executor {
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        match self {
            #[cfg(test)]
            Executor::Plain => futures_executor::block_on(future),
            Executor::Tokio(runtime) => runtime.block_on(future),
        }
    }

    /// Runs `f` where the exporter may reach its runtime (a gRPC channel spawns a task when built).
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        match self {
            #[cfg(test)]
            Executor::Plain => f(),
            Executor::Tokio(runtime) => {
                let _entered = runtime.enter();
                f()
            }
        }
    }
}

/// What the export thread does with a batch of one signal.
pub(crate) trait Sink: Send + 'static {
    type Item: Send + 'static;
    /// What one item counts for in `obs_exporter_*_total` (a span, a log record, a collection's data points).
    fn counts_for(_item: &Self::Item) -> u64 {
        1
    }
    fn export(&mut self, batch: Vec<Self::Item>, executor: &Executor) -> OTelSdkResult;
    fn shutdown(&mut self);
}

/// Spans to a `SpanExporter`.
pub(crate) struct Spans<E> {
    pub exporter: E,
    /// Add the pre-1.33 names of the code attributes too (`OTEL_SEMCONV_STABILITY_OPT_IN=code/dup`).
    pub old_code_names: bool,
}

#[cfg(test)]
impl<E> Spans<E> {
    pub(crate) fn new(exporter: E) -> Spans<E> {
        Spans { exporter, old_code_names: false }
    }
}

impl<E: SpanExporter + 'static> Sink for Spans<E> {
    type Item = SpanData;

    fn export(&mut self, mut batch: Vec<SpanData>, executor: &Executor) -> OTelSdkResult {
        for span in &mut batch {
            add_exception_event(span);
            if self.old_code_names {
                add_old_code_names(span);
            }
        }
        executor.block_on(self.exporter.export(batch))
    }

    fn shutdown(&mut self) {
        let _ = self.exporter.shutdown();
    }
}

/// The code attributes' names before semantic conventions 1.33 made them
/// stable, for backends that only read those: each stable one's value under
/// its old name too, and the fully qualified `code.function.name` split into
/// `code.namespace` (the module path) and `code.function` (the last segment).
const OLD_CODE_NAMES: [(&str, &str); 2] = [("code.file.path", "code.filepath"), ("code.line.number", "code.lineno")];

fn add_old_code_names(span: &mut SpanData) {
    for (stable, old) in OLD_CODE_NAMES {
        let found = span.attributes.iter().find(|kv| kv.key.as_str() == stable).map(|kv| kv.value.clone());
        if let Some(value) = found {
            span.attributes.push(KeyValue::new(old, value));
        }
    }
    let path = span.attributes.iter().find(|kv| kv.key.as_str() == "code.function.name").map(|kv| kv.value.to_string());
    if let Some(path) = path {
        let (namespace, function) = split_function_path(&path);
        if let Some(namespace) = namespace {
            span.attributes.push(KeyValue::new("code.namespace", namespace.to_owned()));
        }
        span.attributes.push(KeyValue::new("code.function", function.to_owned()));
    }
}

/// The old conventions' parts of a Rust path: the namespace is everything before
/// the last `::` (`shop::Cart` of `shop::Cart::add`), the function the last segment.
fn split_function_path(path: &str) -> (Option<&str>, &str) {
    match path.rsplit_once("::") {
        Some((namespace, function)) => (Some(namespace), function),
        None => (None, path),
    }
}

/// A log record and the scope it was emitted in.
pub(crate) type LogItem = Box<(SdkLogRecord, InstrumentationScope)>;

impl Weigh for LogItem {
    fn weight(&self) -> usize {
        size_of::<Self>() + size_of::<InstrumentationScope>() + self.0.weight()
    }
}

/// Log records to a `LogExporter`.
pub(crate) struct Logs<E>(pub E);

impl<E: LogExporter + 'static> Sink for Logs<E> {
    type Item = LogItem;

    fn export(&mut self, batch: Vec<LogItem>, executor: &Executor) -> OTelSdkResult {
        let records: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            batch.iter().map(|item| (&item.0, &item.1)).collect();
        executor.block_on(self.0.export(LogBatch::new(&records)))
    }

    fn shutdown(&mut self) {
        let _ = self.0.shutdown();
    }
}

enum Control {
    Flush(mpsc::Sender<()>),
    Shutdown(mpsc::Sender<()>),
}

enum Item<T> {
    /// An item and its weight.
    Data(T, usize),
    /// Wakes the worker to read the control channel.
    Wake,
}

/// How long the export thread naps between looks at the queue while a batch
/// is open (see `Worker::next_of_open_batch`). The default queue of 2048 spans
/// then fills in one nap only above 400,000 spans a second; a flush or
/// shutdown waits at most this much longer.
const OPEN_BATCH_NAP: Duration = Duration::from_millis(5);

/// The bytes a pipeline holds at most (queued and in the batch being exported), by default.
pub(crate) const QUEUE_BYTES: usize = 32 << 20;

/// What one export batch weighs at most, whatever its item count.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Tuning of a pipeline.
pub(crate) struct QueueConfig {
    pub destination: super::transport::Destination,
    pub queue_size: usize,
    /// What the queued items and the batch being exported may weigh in all.
    pub queue_bytes: usize,
    pub batch_size: usize,
    pub batch_delay: Duration,
    pub shutdown_timeout: Duration,
    pub error_log_interval: Duration,
}

/// The application's side of a pipeline: a bounded queue in front of a dedicated export thread.
pub(crate) struct Pipeline<T> {
    signal: Signal,
    queue: SyncSender<Item<T>>,
    /// What the queued items and the batch being exported weigh.
    held: Arc<AtomicUsize>,
    max_bytes: usize,
    control: Mutex<mpsc::Sender<Control>>,
    thread: Mutex<Option<Thread>>,
    dropped: Counter,
    counts_for: fn(&T) -> u64,
    shutdown_timeout: Duration,
}

impl<T> std::fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("signal", &self.signal).finish_non_exhaustive()
    }
}

impl<T: Weigh + Send + 'static> Pipeline<T> {
    pub(crate) fn start<S>(signal: Signal, sink: S, executor: Executor, config: &QueueConfig) -> std::io::Result<Self>
    where
        S: Sink<Item = T>,
    {
        let (queue, items) = mpsc::sync_channel(config.queue_size.max(1));
        let (control, controls) = mpsc::channel();
        let metrics = PipelineMetrics::new(signal);
        let dropped = metrics.dropped.clone();
        let held = Arc::new(AtomicUsize::new(0));
        let worker = Worker {
            sink,
            held: held.clone(),
            batch_bytes: 0,
            executor,
            items,
            controls,
            batch: Vec::with_capacity(config.batch_size),
            batch_size: config.batch_size.max(1),
            batch_delay: config.batch_delay,
            napped: false,
            metrics,
            errors: ErrorLog {
                signal,
                destination: config.destination.clone(),
                interval: config.error_log_interval,
                last: None,
                suppressed: 0,
            },
        };
        let name = format!("obs-otlp-{}", signal.name());
        // Stopped through the control channel, which acknowledges (see `shutdown`), not by a signal of its own.
        let thread = Thread::spawn_stopped_by(&name, || {}, move || worker.run())?;
        Ok(Pipeline {
            signal,
            queue,
            held,
            max_bytes: config.queue_bytes,
            control: Mutex::new(control),
            thread: Mutex::new(Some(thread)),
            dropped,
            counts_for: S::counts_for,
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    /// Queues an item for export, or drops and counts it when the queue is
    /// full, by count or by weight.
    pub(crate) fn enqueue(&self, item: T) {
        let bytes = item.weight();
        let counts = (self.counts_for)(&item);
        if self.held.fetch_add(bytes, Ordering::Relaxed) + bytes > self.max_bytes {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            self.dropped.increment(counts);
            return;
        }
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send(Item::Data(item, bytes))
        {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            self.dropped.increment(counts);
        }
    }

    pub(crate) fn flush(&self) -> OTelSdkResult {
        self.command(Control::Flush, self.shutdown_timeout)
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let limit = timeout.min(self.shutdown_timeout);
        let deadline = Instant::now() + limit;
        let result = self.command(Control::Shutdown, limit);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        // On timeout the worker is left to finish (or die with the process): shutdown stays bounded.
        if let Some(thread) = thread {
            thread.stop(deadline);
        }
        result
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

/// The span pipeline as the SDK's tracer provider sees it, with the buffer of
/// traces that may still be kept after the head sampler said no.
pub(crate) struct SpanQueue {
    pub pipeline: Pipeline<SpanData>,
    pub tail: Option<super::tail::TailBuffer>,
}

impl std::fmt::Debug for SpanQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanQueue").field("pipeline", &self.pipeline).field("keeps", &self.tail.is_some()).finish()
    }
}

impl SpanProcessor for SpanQueue {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.pipeline.enqueue(span);
        } else if let Some(tail) = &self.tail {
            for span in tail.on_end(span) {
                self.pipeline.enqueue(span);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.pipeline.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.pipeline.shutdown(timeout)
    }
}

/// The log pipeline as the SDK's logger provider sees it.
#[derive(Debug)]
pub(crate) struct LogQueue(pub Pipeline<LogItem>);

impl LogProcessor for LogQueue {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.0.enqueue(Box::new((record.clone(), scope.clone())));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown(timeout)
    }
}

/// Logs export failures at most once per interval, saying how many were not logged.
struct ErrorLog {
    signal: Signal,
    destination: super::transport::Destination,
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    fn failed(&mut self, items: usize, error: &OTelSdkError) {
        // Taken on every failure, so a line never shows the cause of an older one.
        let error = self.destination.describe(error);
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
            signal = self.signal.name(),
            items,
            suppressed_errors = suppressed,
            endpoint = %self.destination.host,
            error = %error,
            "OTLP export of {} failed ({error}); they are dropped until the backend answers (logged at most once per {:?})",
            self.signal.name(),
            self.interval
        );
    }

    fn recovered(&mut self) {
        if self.last.take().is_some() {
            tracing::info!(
                target: "obs_runtime::export::otlp",
                event = "exporter.recovered",
                signal = self.signal.name(),
                "OTLP export of {} works again",
                self.signal.name()
            );
        }
        self.suppressed = 0;
    }
}

struct Worker<S: Sink> {
    sink: S,
    executor: Executor,
    items: Receiver<Item<S::Item>>,
    controls: mpsc::Receiver<Control>,
    batch: Vec<S::Item>,
    /// What the batch weighs; given back to `held` once it is exported.
    batch_bytes: usize,
    held: Arc<AtomicUsize>,
    batch_size: usize,
    batch_delay: Duration,
    /// The last look at the queue was a nap that may have found nothing yet
    /// (see `next_of_open_batch`).
    napped: bool,
    metrics: PipelineMetrics,
    errors: ErrorLog,
}

impl<S: Sink> Worker<S> {
    fn run(mut self) {
        let mut deadline = Instant::now() + self.batch_delay;
        loop {
            // An idle worker sleeps until something arrives (a control message
            // comes with a `Wake`): no timer ticks while there is nothing to
            // send, whatever the delay. A batch's delay starts with its first item.
            let received = if self.batch.is_empty() {
                self.items.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                self.next_of_open_batch(deadline)
            };
            match received {
                Ok(Item::Data(item, weight)) => {
                    if self.batch.is_empty() {
                        deadline = Instant::now() + self.batch_delay;
                    }
                    self.batch.push(item);
                    self.batch_bytes += weight;
                    if self.batch_full() {
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
                    self.shut_down();
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
                        self.shut_down();
                        let _ = done.send(());
                        return;
                    }
                }
            }
        }
    }

    /// The next item while a batch is open: what is queued, else a nap of at
    /// most [`OPEN_BATCH_NAP`] (never past the batch's deadline) and a `Wake`;
    /// when that nap brought nothing, a wait on the queue until the deadline.
    /// While spans keep coming, then, the thread naps instead of parking on
    /// the channel: a parked receiver turns every span the application queues
    /// into a futex wake on the application's thread and a context switch on
    /// this one (at 100,000 spans a second, the export thread spent its time
    /// being woken one span at a time and dropped spans). A trickle parks as
    /// before, so an open batch of a quiet application costs no timer ticks.
    fn next_of_open_batch(&mut self, deadline: Instant) -> Result<Item<S::Item>, RecvTimeoutError> {
        match self.items.try_recv() {
            Ok(item) => {
                self.napped = false;
                Ok(item)
            }
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(RecvTimeoutError::Timeout);
                }
                if std::mem::take(&mut self.napped) {
                    return self.items.recv_timeout(left);
                }
                self.napped = true;
                std::thread::sleep(left.min(OPEN_BATCH_NAP));
                Ok(Item::Wake)
            }
        }
    }

    /// A batch goes out at its size in items, or sooner at [`MAX_BATCH_BYTES`]:
    /// export copies it (request, encoding) while the next one fills.
    fn batch_full(&self) -> bool {
        self.batch.len() >= self.batch_size || self.batch_bytes >= MAX_BATCH_BYTES
    }

    fn shut_down(&mut self) {
        let sink = &mut self.sink;
        self.executor.enter(|| sink.shutdown());
    }

    /// Exports everything queued now.
    fn drain(&mut self) {
        while let Ok(item) = self.items.try_recv() {
            if let Item::Data(item, weight) = item {
                self.batch.push(item);
                self.batch_bytes += weight;
                if self.batch_full() {
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
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        let count: u64 = batch.iter().map(S::counts_for).sum();
        let items = batch.len();
        let weight = std::mem::take(&mut self.batch_bytes);
        // No scoped `NoSubscriber` around this: a scoped dispatcher anywhere in the
        // process takes every thread's `tracing` calls off their fast path (and
        // makes dispatcher look-ups inside layers fail). The HTTP and gRPC stacks
        // used here emit no spans.
        match self.sink.export(batch, &self.executor) {
            Ok(()) => {
                self.metrics.exported.increment(count);
                self.errors.recovered();
            }
            Err(error) => {
                self.metrics.failed.increment(count);
                self.errors.failed(items, &error);
            }
        }
        self.held.fetch_sub(weight, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Condvar, Mutex};

    use super::*;
    use crate::export::otlp::weight::tests::test_span;

    /// A backend that takes nothing until it is let go.
    #[derive(Clone, Default)]
    struct Stalled(Arc<(Mutex<(bool, usize)>, Condvar)>);

    impl Sink for Stalled {
        type Item = SpanData;

        fn export(&mut self, batch: Vec<SpanData>, _: &Executor) -> OTelSdkResult {
            let (state, changed) = &*self.0;
            let mut state = changed.wait_while(state.lock().unwrap(), |(open, _)| !*open).unwrap();
            state.1 += batch.len();
            Ok(())
        }

        fn shutdown(&mut self) {}
    }

    #[test]
    fn the_queue_is_bounded_by_weight_as_well_as_by_count() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let backend = Stalled::default();
        let config = QueueConfig {
            queue_size: 2048,
            queue_bytes: 1 << 20,
            batch_size: 1,
            batch_delay: Duration::from_millis(1),
            shutdown_timeout: Duration::from_secs(5),
            error_log_interval: Duration::from_secs(60),
            destination: Default::default(),
        };
        let pipeline = metrics::with_local_recorder(&recorder, || {
            Pipeline::start(Signal::Traces, backend.clone(), Executor::Plain, &config).unwrap()
        });
        let payload = "x".repeat(64 * 1024);
        for _ in 0..100 {
            pipeline.enqueue(test_span(vec![KeyValue::new("order", payload.clone())]));
        }
        let dropped = handle
            .render()
            .lines()
            .find_map(|line| line.strip_prefix("obs_exporter_dropped_spans_total{signal=\"traces\"} "))
            .map(|n| n.parse::<usize>().unwrap());
        // 1 MiB holds 15 spans of 64 KB (queued, or in the batch the backend holds).
        assert_eq!(dropped, Some(85), "{}", handle.render());
        let (state, changed) = &*backend.0;
        state.lock().unwrap().0 = true;
        changed.notify_all();
        pipeline.flush().unwrap();
        assert_eq!(state.lock().unwrap().1, 15, "what was queued is exported");
        assert_eq!(pipeline.held.load(Ordering::Relaxed), 0, "the weight is given back");
    }
}

#[cfg(test)]
mod code_name_tests {
    use super::split_function_path;

    #[test]
    fn the_old_names_split_a_path_at_its_last_segment() {
        assert_eq!(split_function_path("shop::cart::checkout"), (Some("shop::cart"), "checkout"));
        assert_eq!(split_function_path("shop::Cart::add"), (Some("shop::Cart"), "add"));
        assert_eq!(split_function_path("main"), (None, "main"));
    }
}
