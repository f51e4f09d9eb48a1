//! Slow and idle clients of the built-in server cannot use up the process's
//! file descriptors: a connection that sends no whole request head within the
//! header timeout (5 s) is closed, at most 256 connections are open at once
//! (further clients wait in the kernel's backlog, holding no descriptor of
//! the process, and are served as soon as a slot frees), `/metrics` keeps
//! answering meanwhile, and once the clients are gone the process holds as
//! many descriptors as before. One test, alone in its binary: it counts the
//! descriptors of the whole process.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTION_CAP: usize = 256;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

/// `GET /metrics` on a fresh connection: the status code and how long the answer took.
fn scrape(addr: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    (text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), started.elapsed())
}

fn connect(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count).map(|_| TcpStream::connect(addr).unwrap()).collect()
}

/// Whether the server has closed `stream` (end of stream or a reset), without waiting.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// Sends one more byte of an unfinished request head on each slow connection.
fn drip(slow: &mut [TcpStream]) {
    for stream in slow {
        let _ = stream.write_all(b"a");
    }
}

/// Waits `duration`, dripping meanwhile.
fn wait_dripping(slow: &mut [TcpStream], duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        drip(slow);
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn slow_and_idle_clients_are_bounded_and_closed_and_metrics_keeps_answering() {
    let guard = obs_runtime::builder()
        .service_name("http-limits-test")
        .http_addr("127.0.0.1:0".parse().unwrap())
        .log_filter("off")
        .init()
        .expect("obs init");
    let addr = guard.http_addr().expect("http server");
    assert_eq!(scrape(addr).0, 200);
    std::thread::sleep(Duration::from_millis(200));
    let baseline = open_fds();

    // 120 connections that send nothing and 120 that send a request head a byte at a time: under the cap.
    let started = Instant::now();
    let mut idle = connect(addr, 120);
    let mut slow = connect(addr, 120);
    for stream in &mut slow {
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").unwrap();
    }
    wait_dripping(&mut slow, Duration::from_millis(500));
    let (status, took) = scrape(addr);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "/metrics took {took:?} with 240 slow and idle clients");
    println!("/metrics under the cap: {took:?}");

    // 60 more: over the cap. The process holds no more than the cap's worth of server-side descriptors.
    let mut over = connect(addr, 60);
    wait_dripping(&mut slow, Duration::from_millis(500));
    let clients = idle.len() + slow.len() + over.len();
    let server_side = open_fds().saturating_sub(baseline + clients);
    assert!(server_side <= CONNECTION_CAP + 2, "{server_side} server-side descriptors for {clients} clients");
    println!("{server_side} server-side descriptors for {clients} clients");

    // A scrape waits for a slot, which the header timeout frees.
    let scraper = std::thread::spawn(move || scrape(addr));
    let mut open_idle: Vec<&mut TcpStream> = idle.iter_mut().collect();
    let mut open_slow: Vec<usize> = (0..slow.len()).collect();
    let first_deadline = started + HEADER_TIMEOUT + Duration::from_secs(3);
    while Instant::now() < first_deadline && !(open_idle.is_empty() && open_slow.is_empty()) {
        open_idle.retain_mut(|stream| !closed_by_server(stream));
        open_slow.retain(|&i| !closed_by_server(&mut slow[i]));
        drip(&mut slow);
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed();
    assert!(open_idle.is_empty(), "{} idle connections still open after {elapsed:?}", open_idle.len());
    assert!(open_slow.is_empty(), "{} slow-header connections still open after {elapsed:?}", open_slow.len());
    println!("the first 240 closed after {elapsed:?}");
    let (status, took) = scraper.join().unwrap();
    assert_eq!(status, 200);
    assert!(took < HEADER_TIMEOUT + Duration::from_secs(2), "/metrics over the cap took {took:?}");
    println!("/metrics over the cap: {took:?}");

    // The ones that waited in the backlog get the same timeout once accepted.
    let deadline = Instant::now() + HEADER_TIMEOUT + Duration::from_secs(3);
    let mut waiting: Vec<&mut TcpStream> = over.iter_mut().collect();
    while Instant::now() < deadline && !waiting.is_empty() {
        waiting.retain_mut(|stream| !closed_by_server(stream));
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(waiting.is_empty(), "{} connections accepted over the cap still open", waiting.len());

    // Gone: the process is back to its descriptors of before.
    drop((idle, slow, over));
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open_fds(), baseline, "descriptors after the clients left");
    assert_eq!(scrape(addr).0, 200);
    println!("total {:?}", started.elapsed());
}
