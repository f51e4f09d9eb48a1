//! With no token configured, `PUT /obs/log-level` is refused (403, saying
//! what to configure) and the filter stays; `GET` still shows it.

mod support;

use support::{json, request};

#[test]
fn without_a_token_changing_the_log_level_is_refused() {
    // SAFETY: set before any thread of this test process reads the environment.
    unsafe { std::env::remove_var("OBS_HEALTH_TOKEN") };
    let guard = obs_runtime::builder()
        .log_writer(std::io::sink)
        .log_filter("warn")
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let http = guard.http_addr().expect("http server");
    for headers in [&[][..], &[("Authorization", "Bearer anything")][..]] {
        let (status, body) = request(http, "PUT", "/obs/log-level", headers, "debug");
        assert_eq!(status, 403, "{body}");
        assert!(json(&body)["error"].as_str().unwrap().contains("OBS_HEALTH_TOKEN"), "{body}");
    }
    assert_eq!(json(&request(http, "GET", "/obs/log-level", &[], "").1)["filter"], "warn");
}
