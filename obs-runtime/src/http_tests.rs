//! The server's own rules, on a server started here (no `init`): which `Host` a loopback-bound server
//! answers, and what a too-large body or a too-slow request gets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::Router;
use axum::routing::get;

use super::*;

fn serve(at: &str) -> Server {
    let listener = bind(at.parse().unwrap()).unwrap();
    Server::start(listener, Router::new().route("/metrics", get(|| async { "up 1\n" }))).unwrap()
}

/// `GET /metrics` sent to `addr` with the `Host` line given (none when `None`): the status code.
fn status(addr: SocketAddr, host: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    write!(stream, "GET /metrics HTTP/1.1\r\n{host}Connection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[test]
fn a_loopback_server_answers_only_requests_addressed_to_a_loopback_name() {
    let server = serve("127.0.0.1:0");
    let addr = server.addr();
    let port = addr.port();
    for host in [
        "localhost",
        &format!("localhost:{port}"),
        "LocalHost",
        "127.0.0.1",
        &format!("127.0.0.1:{port}"),
        "[::1]",
        &format!("[::1]:{port}"),
    ] {
        assert_eq!(status(addr, Some(host)), 200, "Host: {host}");
    }
    for host in [
        "evil.example",
        &format!("evil.example:{port}"),
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "[::1]evil",
        "10.0.0.1",
        "",
    ] {
        assert_eq!(status(addr, Some(host)), 421, "Host: {host}");
    }
    server.worker.stop(Instant::now() + STOP_LIMIT);
}

#[test]
fn a_server_bound_to_all_addresses_answers_any_host() {
    let server = serve("0.0.0.0:0");
    let addr = SocketAddr::from(([127, 0, 0, 1], server.addr().port()));
    for host in ["metrics.internal:9464", "evil.example", "10.0.0.1"] {
        assert_eq!(status(addr, Some(host)), 200, "Host: {host}");
    }
    server.worker.stop(Instant::now() + STOP_LIMIT);
}

#[test]
fn loopback_host_names() {
    assert!(is_loopback_host("127.0.0.2:80") && is_loopback_host("localhost.") && is_loopback_host("[::1]:1"));
    assert!(!is_loopback_host("[::1]:x") && !is_loopback_host("localhost:99999") && !is_loopback_host("::1"));
}

#[test]
fn stopping_with_idle_and_half_sent_connections_open_stays_within_the_stop_limit() {
    let server = serve("127.0.0.1:0");
    let addr = server.addr();
    let _idle = TcpStream::connect(addr).unwrap();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost: local").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.worker.stop(Instant::now() + STOP_LIMIT);
    assert!(started.elapsed() < STOP_LIMIT + Duration::from_millis(500), "stopping took {:?}", started.elapsed());
    assert!(TcpStream::connect(addr).is_err(), "still accepting after stop");
}

/// Sends `raw` as is to `addr` and returns the status code of the answer.
fn send(addr: SocketAddr, raw: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[test]
fn oversized_bodies_get_413_and_requests_past_their_time_get_503() {
    let limits = Limits { request: Duration::from_millis(300), max_request_bytes: 1024, ..Limits::DEFAULT };
    let routes = Router::new()
        .route("/echo", axum::routing::post(|body: String| async move { body }))
        .route("/slow", get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }));
    let server = Server::start_with(bind("127.0.0.1:0".parse().unwrap()).unwrap(), routes, limits).unwrap();
    let addr = server.addr();
    let post = |head: &str, body: &[u8]| {
        let mut raw = format!("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{head}\r\n").into_bytes();
        raw.extend_from_slice(body);
        send(addr, &raw)
    };
    assert_eq!(post("Content-Length: 10\r\n", b"0123456789"), 200, "a small body is served");
    assert_eq!(post("Content-Length: 2048\r\n", &[b'x'; 2048]), 413, "a declared length over the limit");
    // Chunked, so no length is declared: the limit is found while the handler reads.
    let chunked = format!("800\r\n{}\r\n0\r\n\r\n", "x".repeat(2048));
    assert_eq!(post("Transfer-Encoding: chunked\r\n", chunked.as_bytes()), 413, "a streamed body over the limit");
    let started = std::time::Instant::now();
    assert_eq!(send(addr, b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), 503);
    assert!(started.elapsed() < Duration::from_secs(3), "answered at the request limit: {:?}", started.elapsed());
    Box::new(server).shutdown(Instant::now() + STOP_LIMIT);
}
