//! `GET`/`PUT /obs/log-level` over real HTTP, with a health token: refused
//! without the token or with a wrong one, a bad directive is a 400 with the
//! parser's message and changes nothing, a good one takes effect on the next
//! event with one INFO line naming the old and the new filter, and `?ttl=`
//! reverts it by itself.

mod support;

use std::time::{Duration, Instant};

use obs_runtime::log::MemoryWriter;
use support::{json, request};

const TOKEN: &str = "s3cret-token";

fn debug_lines(logs: &MemoryWriter, marker: &str) -> usize {
    logs.lines().iter().filter(|l| l["level"] == "DEBUG" && l["message"] == marker).count()
}

#[test]
fn the_log_level_changes_at_run_time_for_the_token_holder_and_reverts_after_its_ttl() {
    let logs = MemoryWriter::new();
    let guard = obs_runtime::builder()
        .service_name("log-level")
        .log_writer(logs.clone())
        .log_filter("info")
        .health_token(TOKEN)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let http = guard.http_addr().expect("http server");
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];

    let (status, body) = request(http, "GET", "/obs/log-level", &[], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["filter"], "info");

    tracing::debug!("before");
    assert_eq!(debug_lines(&logs, "before"), 0, "debug is off under `info`");

    // No token, a wrong one, another scheme: refused, nothing changes.
    for headers in [&[][..], &[("Authorization", "Bearer wrong")][..], &[("Authorization", "Basic czNjcmV0")][..]] {
        let (status, body) = request(http, "PUT", "/obs/log-level", headers, "debug");
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert!(!body.contains(TOKEN), "{body}");
    }
    // A directive the parser rejects: 400 with its message, nothing changes.
    let (status, body) = request(http, "PUT", "/obs/log-level", &auth, "info,my_crate=loud");
    assert_eq!(status, 400, "{body}");
    let message = json(&body)["error"].as_str().unwrap().to_owned();
    let parser = tracing_subscriber::EnvFilter::builder().parse("info,my_crate=loud").unwrap_err().to_string();
    assert!(message.contains(&parser), "{message:?} lacks the parser's {parser:?}");
    let (status, body) = request(http, "PUT", "/obs/log-level?ttl=soon", &auth, "debug");
    assert_eq!(status, 400, "a bad ttl: {body}");
    assert_eq!(json(&request(http, "GET", "/obs/log-level", &[], "").1)["filter"], "info");
    assert!(!logs.lines().iter().any(|l| l["event"] == "log_level.changed"), "refused changes are not announced");

    // The token holder turns debug on for a second.
    let (status, body) = request(http, "PUT", "/obs/log-level?ttl=1s", &auth, "debug");
    assert_eq!(status, 200, "{body}");
    let answer = json(&body);
    assert_eq!((answer["filter"].as_str(), answer["previous"].as_str()), (Some("debug"), Some("info")));
    let changed_at = Instant::now();
    tracing::debug!("during");
    assert_eq!(debug_lines(&logs, "during"), 1, "the next event sees the new filter");
    let shown = json(&request(http, "GET", "/obs/log-level", &[], "").1);
    assert_eq!(shown["filter"], "debug");
    assert_eq!(shown["reverts_to"], "info");
    assert!(shown["reverts_in_seconds"].as_f64().unwrap() <= 1.0, "{shown}");

    // After the TTL the filter is back, by itself.
    let deadline = changed_at + Duration::from_secs(5);
    while json(&request(http, "GET", "/obs/log-level", &[], "").1)["filter"] != "info" {
        assert!(Instant::now() < deadline, "the filter did not revert within 5 s of a 1 s TTL");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(changed_at.elapsed() >= Duration::from_millis(950), "reverted before its TTL");
    tracing::debug!("after");
    assert_eq!(debug_lines(&logs, "after"), 0, "debug is off again");

    let changes: Vec<serde_json::Value> =
        logs.lines().into_iter().filter(|l| l["event"] == "log_level.changed").collect();
    assert_eq!(changes.len(), 2, "one line per change, the revert included: {changes:#?}");
    for (line, (old, new, reason)) in changes.iter().zip([("info", "debug", "request"), ("debug", "info", "ttl")]) {
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!((line["old"].as_str(), line["new"].as_str()), (Some(old), Some(new)), "{line}");
        assert_eq!(line["reason"], reason, "{line}");
    }
    assert_eq!(changes[0]["ttl_seconds"], 1.0);
}
