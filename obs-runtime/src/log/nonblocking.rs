//! Log lines written off the application's threads.
//!
//! A log consumer that stops reading (a full pipe, a stalled terminal, a
//! shipper that fell behind) must not stall every thread that logs. When
//! [`init`](crate::init) writes to stdout (the default), each line is copied
//! into a bounded buffer and one writer thread moves the buffer to the file
//! descriptor. The calling thread holds a lock only for that copy, never while
//! writing; when the buffer is full the line is dropped and counted in
//! `obs_log_dropped_total`, and the caller carries on.
//!
//! * The buffer is bounded by bytes ([`CAPACITY`]); the writer swaps it with
//!   its own and writes the whole batch, so both buffers are reused and a line
//!   costs one copy, no allocation.
//! * Each `write` call is one line (the JSON layer and the pretty formatter
//!   write a whole event at once) and goes in whole or not at all, so lines
//!   never interleave and a consumer never sees a torn line, only missing ones.
//! * [`NonBlocking::flush`] waits for the lines accepted so far, never past a
//!   deadline; the guard stops the writer (draining what is pending) within
//!   [`SHUTDOWN_LIMIT`], so a stalled consumer cannot make its drop hang.
//!   Once the writer has drained and ended, lines are written on the caller
//!   again (nothing runs to write them otherwise); when it could not drain, they
//!   are dropped and counted as before.
//!
//! A writer given to `Builder::log_writer` or [`JsonLayer::new`](super::JsonLayer::new)
//! is called as given, on the logging thread: it may route by event (a
//! `MakeWriter` choosing by level), which cannot be replayed on another thread,
//! and an in-memory writer such as [`MemoryWriter`](super::MemoryWriter) must
//! hold a line as soon as the call that logged it returns. A destination that
//! can stall should be wrapped in a non-blocking writer of its own.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

use crate::worker::Worker;

/// The bytes of lines waiting for the writer thread, at most (besides the batch it is writing).
pub(crate) const CAPACITY: usize = 4 << 20;

/// The longest the guard waits for pending lines to be written.
pub(crate) const SHUTDOWN_LIMIT: Duration = Duration::from_secs(1);

type Destination = Mutex<Box<dyn Write + Send>>;

/// Lines waiting for the writer, and how far it got.
struct Pending {
    bytes: Vec<u8>,
    /// Lines accepted into `bytes` since the start.
    accepted: u64,
    /// Of those, the lines the writer has handed to the destination.
    written: u64,
    /// The writer waits for lines: the next caller wakes it.
    writer_idle: bool,
    /// The writer is asked to drain and end.
    stopping: bool,
    /// The writer drained everything and ended: callers write directly.
    direct: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake_writer: Condvar,
    drained: Condvar,
    destination: Destination,
    capacity: usize,
    dropped: metrics::Counter,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic elsewhere while the lock was held leaves consistent bytes: each push is one extend.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_direct(&self, bytes: &[u8]) -> io::Result<()> {
        let mut destination = self.destination.lock().unwrap_or_else(PoisonError::into_inner);
        destination.write_all(bytes)?;
        destination.flush()
    }

    /// Takes `line` whole or drops it; never waits for the destination.
    fn push(&self, line: &[u8]) {
        let mut pending = self.lock();
        if pending.direct {
            drop(pending);
            let _ = self.write_direct(line);
            return;
        }
        if pending.bytes.len() + line.len() > self.capacity {
            drop(pending);
            self.dropped.increment(1);
            return;
        }
        pending.bytes.extend_from_slice(line);
        pending.accepted += 1;
        let wake = std::mem::take(&mut pending.writer_idle);
        drop(pending);
        if wake {
            self.wake_writer.notify_one();
        }
    }

    /// The writer thread: takes the pending lines as one batch and writes them, until stopped.
    fn run(&self) {
        let mut batch = Vec::with_capacity(self.capacity);
        let mut written = 0;
        loop {
            let mut pending = self.lock();
            while pending.bytes.is_empty() && !pending.stopping {
                pending.writer_idle = true;
                pending = self.wake_writer.wait(pending).unwrap_or_else(PoisonError::into_inner);
            }
            if pending.bytes.is_empty() {
                pending.direct = true;
                drop(pending);
                self.drained.notify_all();
                return;
            }
            std::mem::swap(&mut batch, &mut pending.bytes);
            let through = pending.accepted;
            drop(pending);
            if self.write_direct(&batch).is_err() {
                // The consumer went away (a closed pipe): what the batch held is lost, and counted.
                self.dropped.increment(through - written);
            }
            batch.clear();
            written = through;
            self.lock().written = through;
            self.drained.notify_all();
        }
    }

    /// Waits until every line accepted before the call is written, or `deadline`.
    fn flush(&self, deadline: Instant) -> bool {
        let mut pending = self.lock();
        let target = pending.accepted;
        while pending.written < target && !pending.direct {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                return false;
            };
            pending = self.drained.wait_timeout(pending, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        true
    }

    fn stop(&self) {
        self.lock().stopping = true;
        self.wake_writer.notify_one();
    }
}

/// A `MakeWriter` whose lines a writer thread writes to the destination; see the module docs.
#[derive(Clone)]
pub(crate) struct NonBlocking(Arc<Shared>);

/// The writer thread of a [`NonBlocking`]; stopping it writes what is pending first.
pub(crate) struct WriterThread {
    shared: Arc<Shared>,
    worker: Worker,
}

impl NonBlocking {
    /// Lines to stdout, counting drops in `dropped`.
    pub(crate) fn stdout(dropped: metrics::Counter) -> io::Result<(NonBlocking, WriterThread)> {
        NonBlocking::spawn(Box::new(io::stdout()), CAPACITY, dropped)
    }

    /// Lines to `destination`, at most `capacity` bytes of them waiting.
    pub(crate) fn spawn(
        destination: Box<dyn Write + Send>,
        capacity: usize,
        dropped: metrics::Counter,
    ) -> io::Result<(NonBlocking, WriterThread)> {
        let shared = Arc::new(Shared {
            // Reserved up front (pages are touched only as lines arrive), so that
            // no caller copies the buffer into a larger one while holding the lock.
            pending: Mutex::new(Pending {
                bytes: Vec::with_capacity(capacity),
                accepted: 0,
                written: 0,
                writer_idle: false,
                stopping: false,
                direct: false,
            }),
            wake_writer: Condvar::new(),
            drained: Condvar::new(),
            destination: Mutex::new(destination),
            capacity,
            dropped,
        });
        let (signal, body) = (shared.clone(), shared.clone());
        let worker = Worker::spawn_stopped_by("obs-log-writer", move || signal.stop(), move || body.run())?;
        Ok((NonBlocking(shared.clone()), WriterThread { shared, worker }))
    }

    /// Waits until the lines accepted so far are written, or `deadline`; `true` when they are.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn flush(&self, deadline: Instant) -> bool {
        self.0.flush(deadline)
    }
}

impl WriterThread {
    /// Writes what is pending and ends the thread, returning by `deadline`
    /// (or [`SHUTDOWN_LIMIT`] from now, if sooner); `true` when all was written.
    pub(crate) fn stop(self, deadline: Instant) -> bool {
        let deadline = deadline.min(Instant::now() + SHUTDOWN_LIMIT);
        self.worker.stop(deadline) && self.shared.flush(deadline)
    }
}

/// One line on its way into the buffer.
pub(crate) struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.0.push(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// A destination that blocks while `stalled` is set, like a pipe nobody reads.
    #[derive(Clone, Default)]
    struct Stallable {
        stalled: Arc<AtomicBool>,
        out: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stallable {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            while self.stalled.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(writer: &NonBlocking, line: &str) {
        writer.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn lines_reach_the_destination_in_order_and_a_flush_waits_for_them() {
        let destination = Stallable::default();
        let (writer, thread) = NonBlocking::spawn(Box::new(destination.clone()), 1 << 20, metrics::Counter::noop())
            .expect("writer thread");
        for i in 0..1000 {
            log(&writer, &format!("line {i}\n"));
        }
        assert!(writer.flush(Instant::now() + Duration::from_secs(5)));
        let text = String::from_utf8(destination.out.lock().unwrap().clone()).unwrap();
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, expected);
        assert!(thread.stop(Instant::now() + Duration::from_secs(1)));
        log(&writer, "after the guard\n");
        assert!(destination.out.lock().unwrap().ends_with(b"after the guard\n"), "written directly once stopped");
    }

    #[test]
    fn a_stalled_destination_drops_whole_lines_instead_of_blocking_and_stop_returns_by_its_deadline() {
        let destination = Stallable::default();
        destination.stalled.store(true, Ordering::SeqCst);
        let (writer, thread) =
            NonBlocking::spawn(Box::new(destination.clone()), 1000, metrics::Counter::noop()).expect("writer thread");
        let started = Instant::now();
        for _ in 0..10_000 {
            log(&writer, &format!("{}\n", "x".repeat(99)));
        }
        assert!(started.elapsed() < Duration::from_secs(2), "logging never waits: {:?}", started.elapsed());
        assert!(!writer.flush(Instant::now() + Duration::from_millis(20)), "nothing is written while stalled");
        let stopping = Instant::now();
        assert!(!thread.stop(Instant::now() + Duration::from_millis(100)));
        assert!(stopping.elapsed() < Duration::from_millis(500));
        destination.stalled.store(false, Ordering::SeqCst);
        assert!(writer.flush(Instant::now() + Duration::from_secs(5)));
        let out = destination.out.lock().unwrap();
        assert!(!out.is_empty() && out.len() <= 2000, "at most two buffers' worth: {}", out.len());
        assert!(out.split(|b| *b == b'\n').all(|line| line.is_empty() || line.len() == 99), "no torn line");
    }
}
