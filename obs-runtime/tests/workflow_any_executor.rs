//! Deadlines, node timeouts and retry backoff work under an executor that is
//! not tokio (`futures::executor::block_on`, as smol or async-std would
//! drive them too): no panic, the same outcomes as under tokio.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_executor::block_on;
use obs_runtime::workflow::TimeoutError;
use obs_runtime::workflow::budget::BudgetExceeded;
use obs_runtime::{node, workflow};

#[derive(Debug, PartialEq)]
enum JobError {
    Flaky,
    Timeout,
    Budget,
}
impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for JobError {}
impl From<TimeoutError> for JobError {
    fn from(_: TimeoutError) -> Self {
        JobError::Timeout
    }
}
impl From<BudgetExceeded> for JobError {
    fn from(_: BudgetExceeded) -> Self {
        JobError::Budget
    }
}

/// A future that is pending for `after`, woken by a thread: no tokio anywhere.
fn delay(after: Duration) -> impl Future<Output = ()> {
    let until = Instant::now() + after;
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        if Instant::now() >= until {
            return Poll::Ready(());
        }
        let waker = cx.waker().clone();
        std::thread::spawn(move || {
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
            waker.wake();
        });
        Poll::Pending
    })
}

static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

#[node(retries = 2, backoff = "20ms")]
async fn flaky() -> Result<u32, JobError> {
    if ATTEMPTS.fetch_add(1, Ordering::SeqCst) < 2 { Err(JobError::Flaky) } else { Ok(7) }
}

#[node(timeout = "30ms")]
async fn stuck() -> Result<(), JobError> {
    delay(Duration::from_secs(5)).await;
    Ok(())
}

#[workflow(deadline = "60ms")]
async fn overrun() -> Result<(), JobError> {
    delay(Duration::from_secs(5)).await;
    Ok(())
}

#[workflow]
async fn job() -> Result<u32, JobError> {
    let n = flaky().await?;
    assert_eq!(stuck().await, Err(JobError::Timeout));
    Ok(n)
}

#[test]
fn backoff_timeouts_and_deadlines_need_no_tokio_runtime() {
    let guard = obs_runtime::builder().without_http().install_subscriber(false).init().expect("init");
    let started = Instant::now();
    assert_eq!(block_on(job()), Ok(7));
    assert_eq!(ATTEMPTS.load(Ordering::SeqCst), 3, "two retries after backoff");
    assert_eq!(block_on(overrun()), Err(JobError::Budget));
    assert!(started.elapsed() < Duration::from_secs(3), "timers fired: {:?}", started.elapsed());

    let text = guard.render_metrics().expect("prometheus");
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(has("obs_node_runs_total{workflow=\"job\",node=\"stuck\",status=\"timeout\"} 1"), "{text}");
    assert!(has("obs_node_retries_total{workflow=\"job\",node=\"flaky\"} 2"), "{text}");
    assert!(has("obs_workflow_runs_total{workflow=\"overrun\",status=\"budget_exceeded\"} 1"), "{text}");
}
