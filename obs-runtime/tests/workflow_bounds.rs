//! What a workflow run keeps stays bounded however long it runs, and the
//! active-run view stays bounded however many runs are in progress.

use std::sync::Arc;

use obs_runtime::workflow::MAX_LISTED;
use obs_runtime::{node, workflow};
use tokio::sync::Semaphore;

#[derive(Debug)]
struct Never;
impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("never")
    }
}
impl std::error::Error for Never {}

#[node]
async fn step(i: u64) -> Result<u64, Never> {
    Ok(i)
}

const STEPS: u64 = 100_000;

#[workflow]
async fn long_run() -> Result<workflow::ActiveRun, Never> {
    for i in 0..STEPS {
        step(i).await?;
    }
    let id = workflow::current_run_id().expect("inside a run");
    Ok(workflow::active_runs().into_iter().find(|run| run.run_id == id).expect("the run is listed"))
}

#[workflow]
async fn parked(gate: Arc<Semaphore>) -> Result<(), Never> {
    let _permit = gate.acquire().await;
    Ok(())
}

fn gauge(text: &str, name: &str, workflow: &str) -> f64 {
    let prefix = format!("{name}{{workflow=\"{workflow}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_counts_and_its_last_nodes_and_the_active_view_is_capped_and_paged() {
    let guard = obs_runtime::builder().without_http().install_subscriber(false).init().expect("init");

    // 100k node executions in one run: the live view keeps a count and the last 32.
    let seen = long_run().await.expect("runs");
    assert_eq!(seen.completed_total, STEPS);
    assert_eq!(seen.completed.len(), 32, "{} completed nodes kept", seen.completed.len());
    assert!(seen.completed.iter().all(|n| *n == "step"));

    // More runs in progress than the view lists: every one is measured, the view stops at its cap.
    let gate = Arc::new(Semaphore::new(0));
    let extra = 50;
    let tasks: Vec<_> = (0..MAX_LISTED + extra).map(|_| tokio::spawn(parked(gate.clone()))).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while workflow::active_page(None, 1).total + workflow::active_page(None, 1).unlisted < MAX_LISTED + extra {
        assert!(std::time::Instant::now() < deadline, "runs did not start");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let first = workflow::active_page(None, 100);
    assert_eq!((first.runs.len(), first.total, first.unlisted), (100, MAX_LISTED, extra));
    let metrics = guard.render_metrics().expect("prometheus");
    assert_eq!(gauge(&metrics, "obs_workflow_active", "parked"), (MAX_LISTED + extra) as f64, "every run is measured");

    // Paging walks every listed run once, oldest first.
    let (mut listed, mut after) = (Vec::new(), None);
    loop {
        let page = workflow::active_page(after, 1000);
        assert!(page.runs.len() <= 1000);
        listed.extend(page.runs.iter().map(|run| run.run_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(listed.len(), MAX_LISTED);
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "oldest first, no repeats");

    gate.add_permits(MAX_LISTED + extra);
    for task in tasks {
        task.await.expect("joined").expect("ok");
    }
    let after_all = workflow::active_page(None, 10);
    assert_eq!((after_all.runs.len(), after_all.total, after_all.unlisted), (0, 0, 0));
}
