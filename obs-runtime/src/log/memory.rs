//! An in-memory log destination, for tests that assert on the lines an
//! application writes.

use std::sync::{Arc, Mutex, MutexGuard};

/// A log destination that keeps everything written to it in memory; clones
/// share the buffer. Hand a clone to [`Builder::log_writer`](crate::Builder::log_writer)
/// (or [`JsonLayer::new`](super::JsonLayer::new)) and read the lines back.
///
/// ```
/// use obs_runtime::log::{JsonLayer, MemoryWriter};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let logs = MemoryWriter::new();
/// let subscriber = tracing_subscriber::registry().with(JsonLayer::new("checkout", logs.clone()));
/// tracing::subscriber::with_default(subscriber, || tracing::info!(order = 7, "placed"));
/// let line = &logs.lines()[0];
/// assert_eq!(line["message"], "placed");
/// assert_eq!(line["order"], 7);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryWriter(Arc<Mutex<Vec<u8>>>);

impl MemoryWriter {
    /// An empty buffer.
    pub fn new() -> MemoryWriter {
        MemoryWriter::default()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer()).into_owned()
    }

    /// Every line written so far, each parsed as one JSON object (available
    /// with the `http` or `health` feature, which bring `serde_json`).
    ///
    /// # Panics
    /// When a line is not JSON, naming the line: the JSON log format promises one object per line.
    #[cfg(any(test, feature = "http", feature = "health"))]
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
            .collect()
    }

    fn buffer(&self) -> MutexGuard<'_, Vec<u8>> {
        // A test that panicked while writing still leaves readable lines.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::io::Write for MemoryWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MemoryWriter {
    type Writer = MemoryWriter;

    fn make_writer(&'a self) -> MemoryWriter {
        self.clone()
    }
}
