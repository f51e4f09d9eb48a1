//! The one way obs runs work in the background: a named thread with a stop
//! signal and a bounded join, and the small current-thread tokio runtime the
//! threads that need one drive. The HTTP server, the health refresh, the
//! log writer and the OTLP export threads all use these.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A background thread. [`stop`](Self::stop) asks it to finish and waits for
/// it, but never past a deadline: a thread still busy then (a check bounded
/// by a longer timeout, an export to a stalled backend) is left to finish on
/// its own or end with the process. Dropping a worker asks it to stop without waiting.
pub(crate) struct Worker {
    signal: Option<Box<dyn FnOnce() + Send + Sync>>,
    thread: Option<JoinHandle<()>>,
}

/// The stop signal as a [`Worker::spawn`] thread sees it.
#[cfg_attr(not(feature = "health"), allow(dead_code))]
pub(crate) struct Stop(mpsc::Receiver<()>);

#[cfg_attr(not(feature = "health"), allow(dead_code))]
impl Stop {
    /// Waits at most `timeout`; `true` once the worker is asked to stop.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        !matches!(self.0.recv_timeout(timeout), Err(RecvTimeoutError::Timeout))
    }
}

impl Worker {
    #[cfg_attr(not(feature = "health"), allow(dead_code))]
    /// Runs `body` on a thread named `name`; it should return soon after
    /// [`Stop::wait`] says so.
    pub(crate) fn spawn(name: &str, body: impl FnOnce(Stop) + Send + 'static) -> std::io::Result<Worker> {
        let (stop, stopped) = mpsc::channel::<()>();
        Worker::spawn_stopped_by(name, move || drop(stop), move || body(Stop(stopped)))
    }

    /// Runs `body` on a thread named `name`, which returns once `signal` has
    /// run: for a body that waits on its own kind of signal (a graceful
    /// shutdown future, a control channel).
    pub(crate) fn spawn_stopped_by(
        name: &str,
        signal: impl FnOnce() + Send + Sync + 'static,
        body: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Worker> {
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn(body)?;
        Ok(Worker { signal: Some(Box::new(signal)), thread: Some(thread) })
    }

    /// Asks the thread to stop and waits until it has, or until `deadline`.
    /// `true` when it finished in time.
    pub(crate) fn stop(mut self, deadline: Instant) -> bool {
        self.signal();
        let Some(thread) = self.thread.take() else { return true };
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let finished = thread.is_finished();
        if finished {
            let _ = thread.join();
        }
        finished
    }

    fn signal(&mut self) {
        if let Some(signal) = self.signal.take() {
            signal();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.signal();
    }
}

/// A single-threaded tokio runtime with every driver the features compiled in,
/// for a background thread to `block_on`: obs's work runs the same in async
/// and sync applications, and never on the application's own runtime.
#[cfg(any(feature = "http", feature = "health", feature = "otlp"))]
pub(crate) fn current_thread_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_stops_when_asked_and_its_thread_is_joined() {
        let worker = Worker::spawn("obs-test", |stop| while !stop.wait(Duration::from_secs(60)) {}).unwrap();
        let started = Instant::now();
        assert!(worker.stop(Instant::now() + Duration::from_secs(5)));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn stopping_a_busy_worker_returns_at_the_deadline() {
        let worker = Worker::spawn("obs-test", |_| std::thread::sleep(Duration::from_secs(2))).unwrap();
        let started = Instant::now();
        assert!(!worker.stop(Instant::now() + Duration::from_millis(50)));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
