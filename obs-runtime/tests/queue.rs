//! `obs_runtime::queue::channel`: the depth on `/metrics` follows every send
//! and receive exactly, refused `try_send`s are counted, the capacity is
//! shown, and the wait histogram holds the time items spent queued.

use std::time::Duration;

use obs_runtime::queue::{self, TryRecvError, TrySendError};

fn sample(text: &str, series: &str) -> f64 {
    let line = text.lines().find(|l| l.rsplit_once(' ').is_some_and(|(s, _)| s == series));
    line.and_then(|l| l.rsplit_once(' ')?.1.parse().ok()).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[test]
fn depth_follows_sends_and_receives_and_rejections_are_counted() {
    let guard = obs_runtime::builder().log_writer(std::io::sink).without_http().init().expect("init");
    let scrape = || guard.render_metrics().expect("obs renders /metrics");
    let depth = |text: &str| sample(text, r#"obs_queue_depth{queue="jobs"}"#);

    let (tx, mut rx) = queue::channel::<u32>("jobs", 3);
    let text = scrape();
    assert_eq!(depth(&text), 0.0);
    assert_eq!(sample(&text, r#"obs_queue_capacity{queue="jobs"}"#), 3.0);
    assert_eq!(sample(&text, r#"obs_queue_rejected_total{queue="jobs"}"#), 0.0);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        assert_eq!(depth(&scrape()), 2.0);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(depth(&scrape()), 1.0);
        tx.try_send(3).unwrap();
        tx.clone().try_send(4).unwrap();
        assert_eq!(depth(&scrape()), 3.0);
        for refused in [5, 6] {
            assert!(matches!(tx.try_send(refused), Err(TrySendError::Full(item)) if item == refused));
        }
        let text = scrape();
        assert_eq!(depth(&text), 3.0, "refused items are not queued");
        assert_eq!(sample(&text, r#"obs_queue_rejected_total{queue="jobs"}"#), 2.0);

        tokio::time::sleep(Duration::from_millis(100)).await;
        for expected in [2, 3, 4] {
            assert_eq!(rx.try_recv(), Ok(expected));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
    let text = scrape();
    assert_eq!(depth(&text), 0.0);
    assert_eq!(sample(&text, r#"obs_queue_wait_seconds_count{queue="jobs"}"#), 4.0, "{text}");
    // Three items waited through the 100 ms sleep.
    let waited = sample(&text, r#"obs_queue_wait_seconds_sum{queue="jobs"}"#);
    assert!((0.3..1.0).contains(&waited), "waited {waited} s");
    assert!(text.contains("# TYPE obs_queue_wait_seconds histogram"), "{text}");

    // Items still queued when the receiver goes are dropped with it, and leave the depth.
    tx.try_send(7).unwrap();
    tx.try_send(8).unwrap();
    assert_eq!(depth(&scrape()), 2.0);
    drop(rx);
    assert_eq!(depth(&scrape()), 0.0);
    assert!(matches!(tx.try_send(9), Err(TrySendError::Closed(9))));
    assert_eq!(sample(&scrape(), r#"obs_queue_rejected_total{queue="jobs"}"#), 2.0, "a closed queue is not full");
}
