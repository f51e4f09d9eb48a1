//! A filter directive on a span (`[checkout]=debug`) needs the filter to see
//! spans enter and exit, which obs's filter layer passes on only while such a
//! directive is in force: set at `init`, dropped by a change to a plain
//! filter, and back with a later change.

mod support;

use obs_runtime::log::MemoryWriter;
use support::request;

const TOKEN: &str = "s3cret-token";

fn logged(logs: &MemoryWriter, marker: &str) -> bool {
    logs.lines().iter().any(|l| l["level"] == "DEBUG" && l["message"] == marker)
}

/// A debug event inside a span named `span`, and one outside any span.
fn debug_in(span: &str, marker: &str) {
    let span = match span {
        "checkout" => tracing::info_span!("checkout"),
        _ => tracing::info_span!("refund"),
    };
    span.in_scope(|| tracing::debug!("{marker} inside"));
    tracing::debug!("{marker} outside");
}

#[test]
fn span_directives_work_at_init_and_after_changes_at_run_time() {
    let logs = MemoryWriter::new();
    let guard = obs_runtime::builder()
        .log_writer(logs.clone())
        .log_filter("info,[checkout]=debug")
        .health_token(TOKEN)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let http = guard.http_addr().expect("http server");
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];

    debug_in("checkout", "at init");
    assert!(logged(&logs, "at init inside"), "debug inside `checkout` is on: {:#?}", logs.lines());
    assert!(!logged(&logs, "at init outside"), "debug outside it is off");

    let (status, body) = request(http, "PUT", "/obs/log-level", &auth, "info");
    assert_eq!(status, 200, "{body}");
    debug_in("checkout", "plain");
    assert!(!logged(&logs, "plain inside"), "a plain `info` turns it off");

    let (status, body) = request(http, "PUT", "/obs/log-level", &auth, "info,[refund]=debug");
    assert_eq!(status, 200, "{body}");
    debug_in("refund", "changed");
    assert!(logged(&logs, "changed inside"), "debug inside `refund` is on after the change: {:#?}", logs.lines());
    assert!(!logged(&logs, "changed outside"), "debug outside it stays off");
    debug_in("checkout", "changed checkout");
    assert!(!logged(&logs, "changed checkout inside"), "the old span directive is gone");
}
