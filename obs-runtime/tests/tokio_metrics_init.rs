//! `init` called inside a tokio runtime watches that runtime by itself.

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn init_inside_a_runtime_reports_that_runtime() {
    let guard = obs_runtime::builder().log_writer(std::io::sink).without_http().init().expect("init");
    let text = guard.render_metrics().expect("obs renders /metrics");
    assert!(text.lines().any(|l| l == "obs_tokio_workers 3"), "{text}");
}
