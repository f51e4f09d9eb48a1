//! A plain HTTP/1.1 client for the tests of obs's endpoints: one request per
//! connection, the status and the body back.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `method path` with `headers` and `body`; returns the status code and the body.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

/// The body as JSON.
pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// A child process's stderr, echoed to the test's own (prefixed `application:`)
/// and kept line by line for [`StderrLines::wait_for`].
pub struct StderrLines(std::sync::mpsc::Receiver<String>);

impl StderrLines {
    /// Takes `child`'s piped stderr and reads it on a thread of its own.
    pub fn follow(child: &mut std::process::Child) -> StderrLines {
        use std::io::BufRead;
        let stderr = child.stderr.take().expect("the child's stderr is piped");
        let (lines, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("application: {line}");
                let _ = lines.send(line);
            }
        });
        StderrLines(received)
    }

    /// The next line containing `needle`, or `None` when none came within `within`
    /// (or the child closed its stderr).
    pub fn wait_for(&self, needle: &str, within: Duration) -> Option<String> {
        let until = std::time::Instant::now() + within;
        loop {
            match self.0.recv_timeout(until.saturating_duration_since(std::time::Instant::now())) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}
