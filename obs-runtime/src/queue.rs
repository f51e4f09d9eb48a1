//! Queues that say how full they are: [`channel`] is tokio's bounded mpsc
//! channel with its depth, capacity, the time items wait in it and the sends
//! it refused on `/metrics`, so a stage that falls behind shows before it
//! becomes an outage.
//!
//! ```no_run
//! # async fn demo() {
//! let _guard = obs_runtime::init().expect("telemetry");
//! let (tx, mut rx) = obs_runtime::queue::channel::<u64>("documents", 32);
//! tokio::spawn(async move {
//!     for id in 0..100 {
//!         if tx.send(id).await.is_err() {
//!             break; // the receiver is gone
//!         }
//!     }
//! });
//! while let Some(id) = rx.recv().await {
//!     println!("document {id}");
//! }
//! // /metrics: obs_queue_depth{queue="documents"}, obs_queue_capacity, obs_queue_wait_seconds, obs_queue_rejected_total
//! # }
//! ```
//!
//! The series are resolved once per channel, when it is made, through the
//! `metrics` facade: make queues after [`init`](crate::init), or their
//! metrics go nowhere. The name is a `&'static str` so that queue labels stay
//! a bounded set.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram};
use quanta::Instant;
use tokio::sync::mpsc;

pub use tokio::sync::mpsc::error::{SendError, TryRecvError, TrySendError};

use crate::metrics::{QUEUE_CAPACITY, QUEUE_DEPTH, QUEUE_REJECTED_TOTAL, QUEUE_WAIT_SECONDS};

/// The series of one queue name.
struct Meters {
    depth: Gauge,
    wait: Histogram,
    rejected: Counter,
}

/// A bounded queue named `name` holding at most `capacity` items (0 is taken as 1).
/// Its `obs_queue_depth` and `obs_queue_capacity` gauges, `obs_queue_wait_seconds`
/// histogram and `obs_queue_rejected_total` counter carry `queue="{name}"`;
/// channels made with the same name share them.
pub fn channel<T>(name: &'static str, capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity.max(1);
    let meters = Arc::new(Meters {
        depth: metrics::gauge!(QUEUE_DEPTH.name(), "queue" => name),
        wait: metrics::histogram!(QUEUE_WAIT_SECONDS.name(), "queue" => name),
        rejected: metrics::counter!(QUEUE_REJECTED_TOTAL.name(), "queue" => name),
    });
    metrics::gauge!(QUEUE_CAPACITY.name(), "queue" => name).set(capacity as f64);
    // Registered at zero, so the queue shows before its first item.
    meters.depth.increment(0.0);
    meters.rejected.increment(0);
    let (tx, rx) = mpsc::channel(capacity);
    (Sender { inner: tx, meters: meters.clone() }, Receiver { inner: rx, meters })
}

/// The sending half of a [`channel`]; clone it for more producers.
pub struct Sender<T> {
    inner: mpsc::Sender<(T, Instant)>,
    meters: Arc<Meters>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { inner: self.inner.clone(), meters: self.meters.clone() }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("capacity", &self.inner.max_capacity()).finish_non_exhaustive()
    }
}

impl<T> Sender<T> {
    /// Waits for room, then queues `item`; the item comes back when the receiver is gone.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        match self.inner.reserve().await {
            Ok(permit) => {
                // Counted before the item is visible, so a receiver never takes the depth below zero.
                self.meters.depth.increment(1.0);
                permit.send((item, Instant::now()));
                Ok(())
            }
            Err(_) => Err(SendError(item)),
        }
    }

    /// Queues `item` if there is room now. A full queue refuses it (counted in
    /// `obs_queue_rejected_total`) and hands it back, as does a closed one.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        match self.inner.try_reserve() {
            Ok(permit) => {
                self.meters.depth.increment(1.0);
                permit.send((item, Instant::now()));
                Ok(())
            }
            Err(TrySendError::Full(())) => {
                self.meters.rejected.increment(1);
                Err(TrySendError::Full(item))
            }
            Err(TrySendError::Closed(())) => Err(TrySendError::Closed(item)),
        }
    }

    /// The most items the queue holds.
    pub fn capacity(&self) -> usize {
        self.inner.max_capacity()
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

/// The receiving half of a [`channel`]. Dropping it drops the items still
/// queued (and the depth goes back to zero).
pub struct Receiver<T> {
    inner: mpsc::Receiver<(T, Instant)>,
    meters: Arc<Meters>,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("len", &self.inner.len()).finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// The next item, waiting for one; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        let received = self.inner.recv().await;
        received.map(|queued| self.taken(queued))
    }

    /// The next item if one is queued now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv().map(|queued| self.taken(queued))
    }

    /// Items queued now.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Stops new sends; what is queued can still be received.
    pub fn close(&mut self) {
        self.inner.close();
    }

    fn taken(&self, (item, queued_at): (T, Instant)) -> T {
        self.meters.depth.decrement(1.0);
        self.meters.wait.record(queued_at.elapsed().as_secs_f64());
        item
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.inner.close();
        while self.inner.try_recv().is_ok() {
            self.meters.depth.decrement(1.0);
        }
    }
}
