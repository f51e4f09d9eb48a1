//! Helpers shared by the integration tests: a plain HTTP client, a Prometheus
//! text reader, captured log lines, and process guards.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub mod collector;
pub mod mlflow;
pub mod tls;

/// `GET path` over a fresh connection; returns the status code and body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http_get_with(addr, path, &[])
}

/// `GET path` with extra request headers.
pub fn http_get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n")?;
    read_response(stream)
}

/// `GET path` with extra request headers; returns the status code, the response head
/// (status line and headers, lowercased) and the body.
pub fn http_get_full(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n")?;
    read_full_response(stream)
}

/// Reads a `Connection: close` response to the end: status code and (de-chunked) body.
fn read_response(stream: TcpStream) -> std::io::Result<(u16, String)> {
    read_full_response(stream).map(|(status, _, body)| (status, body))
}

fn read_full_response(mut stream: TcpStream) -> std::io::Result<(u16, String, String)> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let head = head.to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
    Ok((status, head, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The value of the sample `name{labels...}` whose labels include all of `labels`.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, label_text) = match series.split_once('{') {
            Some((m, rest)) => (m, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric != name {
            return None;
        }
        let all = labels.iter().all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
        if all { value.parse().ok() } else { None }
    })
}

pub use obs_runtime::log::MemoryWriter;

/// The captured log lines whose `span` is `span_name`.
pub fn for_span(logs: &MemoryWriter, span_name: &str) -> Vec<serde_json::Value> {
    logs.lines().into_iter().filter(|l| l["span"] == span_name).collect()
}

/// Finds an executable on PATH, or fails the test saying how to get it.
pub fn require_tool(name: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("`{name}` is not on PATH; run scripts/install-test-deps.sh (it installs Debian's prometheus package)")
    })
}

/// Feeds `text` to `promtool check metrics` and fails the test on any finding.
pub fn promtool_check(text: &str) {
    use std::process::{Command, Stdio};
    let promtool = require_tool("promtool");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let findings = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && findings.trim().is_empty(),
        "promtool check metrics found:\n{findings}\n--- text ---\n{text}"
    );
}

/// A child process killed when the guard drops, even when the test fails.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `prometheus` server on a free loopback port scraping `app` every second
/// (job `app`), its data in a temporary directory named after `name`, with
/// `extra` flags (`--enable-feature=...`). Dropping it stops the server and
/// removes the directory.
pub struct Prometheus {
    pub addr: SocketAddr,
    dir: std::path::PathBuf,
    _server: ChildGuard,
}

impl Prometheus {
    pub fn start(name: &str, app: SocketAddr, extra: &[&str]) -> Prometheus {
        Prometheus::start_with_rules(name, app, None, extra)
    }

    /// The same, evaluating `rules` (a rule file's text) every second.
    pub fn start_with_rules(name: &str, app: SocketAddr, rules: Option<&str>, extra: &[&str]) -> Prometheus {
        use std::process::{Command, Stdio};
        let dir = std::env::temp_dir().join(format!("obs-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        let rule_files = match rules {
            Some(rules) => {
                std::fs::write(dir.join("rules.yml"), rules).unwrap();
                "rule_files:\n  - rules.yml\n"
            }
            None => "",
        };
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{rule_files}scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{app}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let server = ChildGuard(
            Command::new(require_tool("prometheus"))
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("prometheus starts"),
        );
        Prometheus { addr: format!("127.0.0.1:{port}").parse().unwrap(), dir, _server: server }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // The server first (its guard is dropped after this body), then its data: kill it here.
        let _ = self._server.0.kill();
        let _ = self._server.0.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    /// Whether the server answers `/-/ready` with 200.
    pub fn ready(&self) -> bool {
        http_get(self.addr, "/-/ready").map(|(status, _)| status == 200).unwrap_or(false)
    }

    /// The series an instant PromQL query returns now (empty when Prometheus
    /// is not ready or has nothing yet).
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let Ok((200, body)) = http_get(self.addr, &query_path(promql)) else { return Vec::new() };
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        json["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// [`Prometheus::query`] on a server known to be ready: a failed request,
    /// a status other than 200 or an answer that is not JSON fails the test.
    pub fn query_ok(&self, promql: &str) -> Vec<serde_json::Value> {
        let (status, body) = http_get(self.addr, &query_path(promql)).expect("query");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
        json["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

/// `/api/v1/query?query=...` with the PromQL percent-encoded.
fn query_path(promql: &str) -> String {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/api/v1/query?query={encoded}")
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// `POST path` with a JSON body; returns the status code and body.
pub fn http_post_json(addr: SocketAddr, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    read_response(stream)
}

/// A process started in its own process group; the whole group (the process and
/// every child it started, e.g. the workers of `mlflow server`) is killed when
/// the guard drops, even when the test fails.
pub struct ProcessGroupGuard(pub std::process::Child);

impl ProcessGroupGuard {
    pub fn spawn(mut command: std::process::Command) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        command.spawn().map(ProcessGroupGuard)
    }
}

impl Drop for ProcessGroupGuard {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let kill = |signal: &str| {
            // The group may be gone already; that is fine and not worth a line on stderr.
            let _ = std::process::Command::new("kill")
                .args([signal, "--", &group])
                .stderr(std::process::Stdio::null())
                .status();
        };
        kill("-TERM");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The workers may outlive their parent: always finish the group off.
        kill("-KILL");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `mlflow` executable of the test venv (`$OBS_VENV`, default `/opt/obs-venv`),
/// else on PATH; fails the test saying how to install it.
pub fn require_mlflow() -> std::path::PathBuf {
    let venv = std::env::var_os("OBS_VENV").map(std::path::PathBuf::from).unwrap_or_else(|| "/opt/obs-venv".into());
    let in_venv = venv.join("bin/mlflow");
    if in_venv.is_file() {
        return in_venv;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("mlflow")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "MLflow is not installed: neither {} nor `mlflow` on PATH; run scripts/install-test-deps.sh \
             (it installs mlflow==3.17.2 into a virtual environment)",
            in_venv.display()
        )
    })
}

/// The error of the payment step several tests fail on purpose: kind `declined`,
/// message "card declined".
#[derive(Debug, obs_runtime::ErrorKind)]
pub enum PaymentError {
    Declined,
}

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}
impl std::error::Error for PaymentError {}

/// Runs this test binary's `child` test with `OBS_TEST_CHILD=case` (for cases
/// that need a process of their own, since `init` runs once per process) and
/// fails unless the child says `case {case} passed`.
pub fn run_child(case: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("OBS_TEST_CHILD", case)
        .output()
        .expect("run the child");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "case {case} failed:\n{text}");
    assert!(text.contains(&format!("case {case} passed")), "case {case} did not run:\n{text}");
}
