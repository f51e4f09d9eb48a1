//! `Builder::open_log_level_on_loopback`: refused by `init` for a server that
//! is not on loopback; on 127.0.0.1 a change needs no token.

mod support;

use support::{json, request};

#[test]
fn an_open_log_level_endpoint_is_for_loopback_only() {
    // SAFETY: set before any thread of this test process reads the environment.
    unsafe { std::env::remove_var("OBS_HEALTH_TOKEN") };
    let everywhere = obs_runtime::builder()
        .log_writer(std::io::sink)
        .open_log_level_on_loopback(true)
        .http_addr("0.0.0.0:0".parse().unwrap())
        .init();
    let message = everywhere.expect_err("refused off loopback").to_string();
    assert!(message.contains("loopback"), "{message}");

    let guard = obs_runtime::builder()
        .log_writer(std::io::sink)
        .open_log_level_on_loopback(true)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init on loopback");
    let http = guard.http_addr().expect("http server");
    let (status, body) = request(http, "PUT", "/obs/log-level", &[], "warn,my_app=debug");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&request(http, "GET", "/obs/log-level", &[], "").1)["filter"], "warn,my_app=debug");
}
