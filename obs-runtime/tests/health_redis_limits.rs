//! `RedisCheck` against fake servers on 127.0.0.1 that lie about lengths or
//! never end a line: the check fails with a clear error, the process stays up
//! and its memory stays small.
#![cfg(feature = "redis")]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use obs_runtime::health::{Check, CheckResult, HealthStatus, RedisCheck};

/// Accepts one connection, reads the first command, then runs `answer` on the socket.
fn fake_server(answer: impl FnOnce(&mut std::net::TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut command = [0u8; 256];
        let _ = stream.read(&mut command);
        answer(&mut stream);
    });
    url
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim();
    kb.parse::<u64>().unwrap() * 1024
}

fn check(url: String) -> CheckResult {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), RedisCheck::new(url).check())
            .await
            .expect("the check ends on its own, without needing its timeout")
    })
}

#[test]
fn a_huge_bulk_length_fails_the_check_without_allocating_it() {
    let url = fake_server(|stream| {
        let _ = stream.write_all(b"$999999999999\r\n");
        std::thread::sleep(Duration::from_secs(2));
    });
    let before = rss_bytes();
    let result = check(url);
    assert_eq!(result.status(), HealthStatus::Unhealthy, "{result:?}");
    let error = result.error().unwrap();
    assert!(error.contains("999999999999 bytes is larger than the 1 MiB limit"), "{error}");
    assert!(rss_bytes() < before + 16 * 1024 * 1024, "memory grew from {before} to {}", rss_bytes());
}

#[test]
fn an_endless_line_fails_the_check_and_memory_stays_small() {
    let url = fake_server(|stream| {
        let _ = stream.write_all(b"+");
        let chunk = [b'a'; 64 * 1024];
        // Until the check hangs up (or 4 GiB, far more than it may read).
        for _ in 0..65_536 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let before = rss_bytes();
    let result = check(url);
    assert_eq!(result.status(), HealthStatus::Unhealthy);
    let error = result.error().unwrap();
    let start: String = error.chars().take(200).collect();
    assert!(error.contains("reply line longer than 64 KiB"), "{start}…");
    assert!(error.len() < 200, "the error does not carry the line: {} bytes", error.len());
    assert!(rss_bytes() < before + 16 * 1024 * 1024, "memory grew from {before} to {}", rss_bytes());
}
