//! Built-in checks: TCP connect, HTTP GET, disk space, memory, and any async closure.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::Either;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::{Check, CheckResult};

/// Healthy when a TCP connection to the address opens.
///
/// ```
/// let check = obs_runtime::health::TcpCheck::new("127.0.0.1:6379");
/// ```
#[derive(Debug, Clone)]
pub struct TcpCheck {
    address: String,
}

impl TcpCheck {
    /// `host:port`; the host may be a name, resolved on every check.
    pub fn new(address: impl Into<String>) -> Self {
        TcpCheck { address: address.into() }
    }
}

impl Check for TcpCheck {
    async fn check(&self) -> CheckResult {
        match tokio::net::TcpStream::connect(self.address.as_str()).await {
            Ok(stream) => {
                let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                CheckResult::healthy().with_detail("address", self.address.clone()).with_detail("peer", peer)
            }
            Err(err) => CheckResult::unhealthy(format!("cannot connect to {}: {err}", self.address))
                .with_detail("address", self.address.clone()),
        }
    }
}

/// Healthy when `GET url` answers 2xx. Plain `http://` only (for a TLS
/// endpoint, write a [`from_fn`] check with your HTTP client).
///
/// Errors, details and `Debug` show the URL without its user information,
/// query and fragment, which may hold credentials or tokens.
///
/// ```
/// let check = obs_runtime::health::HttpCheck::new("http://127.0.0.1:8080/health");
/// ```
#[derive(Clone)]
pub struct HttpCheck {
    url: String,
}

impl std::fmt::Debug for HttpCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCheck").field("url", &self.shown()).finish()
    }
}

impl HttpCheck {
    /// The URL to fetch.
    pub fn new(url: impl Into<String>) -> Self {
        HttpCheck { url: url.into() }
    }

    /// The URL as errors, details and logs show it: scheme, host, port and
    /// path, never the user information, query or fragment.
    fn shown(&self) -> String {
        let Ok(uri) = self.url.parse::<hyper::Uri>() else { return "(invalid url)".to_owned() };
        let scheme = uri.scheme_str().map(|s| format!("{s}://")).unwrap_or_default();
        let host = uri.host().unwrap_or_default();
        let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
        format!("{scheme}{host}{port}{}", uri.path())
    }

    async fn get(&self) -> Result<hyper::StatusCode, String> {
        let shown = self.shown();
        let uri: hyper::Uri = self.url.parse().map_err(|e| format!("invalid url: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("only http:// urls are supported, got {shown:?}"));
        }
        let host = uri.host().ok_or_else(|| format!("no host in {shown:?}"))?;
        let port = uri.port_u16().unwrap_or(80);
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("http handshake with {host}:{port} failed: {e}"))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        // `Host` is host[:port]: user information is not for the server's logs either.
        let authority = match uri.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, "obs-health")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("cannot build request: {e}"))?;
        let response = async { sender.send_request(request).await.map_err(|e| format!("GET {shown} failed: {e}")) };
        // The connection is driven alongside the request and dropped with it.
        match futures_util::future::select(std::pin::pin!(response), connection).await {
            Either::Left((response, _)) => response.map(|r| r.status()),
            Either::Right((closed, _)) => Err(match closed {
                Ok(()) => format!("GET {shown}: connection closed before the response"),
                Err(e) => format!("GET {shown} failed: {e}"),
            }),
        }
    }
}

impl Check for HttpCheck {
    async fn check(&self) -> CheckResult {
        let shown = self.shown();
        match self.get().await {
            Ok(status) if status.is_success() => {
                CheckResult::healthy().with_detail("url", shown).with_detail("status_code", status.as_u16())
            }
            Ok(status) => CheckResult::unhealthy(format!("GET {shown} returned {status}"))
                .with_detail("url", shown)
                .with_detail("status_code", status.as_u16()),
            Err(err) => CheckResult::unhealthy(err).with_detail("url", shown),
        }
    }
}

/// Used-fraction thresholds shared by the disk and memory checks: degraded
/// above `warn`, unhealthy above `critical`.
#[derive(Debug, Clone, Copy)]
struct Levels {
    warn: f64,
    critical: f64,
}

impl Levels {
    const DEFAULT: Levels = Levels { warn: 0.90, critical: 0.95 };

    /// Judges `total` against `available` bytes of `what`, with both and the
    /// used percentage as details.
    fn judge(&self, total: u64, available: u64, what: &str) -> CheckResult {
        let used = if total == 0 { 0.0 } else { 1.0 - available as f64 / total as f64 };
        let percent = (used * 1000.0).round() / 10.0;
        let result = if used > self.critical {
            CheckResult::unhealthy(format!(
                "{what} {percent}% used, above the critical level of {}%",
                self.critical * 100.0
            ))
        } else if used > self.warn {
            CheckResult::degraded(format!("{what} {percent}% used, above the warning level of {}%", self.warn * 100.0))
        } else {
            CheckResult::healthy()
        };
        result
            .with_detail("total_bytes", total)
            .with_detail("available_bytes", available)
            .with_detail("used_percent", percent)
    }
}

/// Free space of the file system holding a path: degraded above 90 % used,
/// unhealthy above 95 % by default.
///
/// ```
/// let check = obs_runtime::health::DiskSpaceCheck::new("/var/lib/app").warn_above(0.8).critical_above(0.9);
/// ```
///
/// `statvfs` runs on a thread of its own, so a hung file system (an NFS mount
/// that never answers) fails the check at its timeout instead of blocking the
/// caller; until that call returns, the check reports unhealthy at once rather
/// than starting another one.
#[derive(Debug, Clone)]
pub struct DiskSpaceCheck {
    path: PathBuf,
    levels: Levels,
    /// Set while a `statvfs` of this check (or a clone of it) has not returned.
    in_flight: Arc<AtomicBool>,
}

impl DiskSpaceCheck {
    /// Checks the file system that holds `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DiskSpaceCheck { path: path.into(), levels: Levels::DEFAULT, in_flight: Arc::default() }
    }

    /// `disk_usage` on its own thread: a blocking pool's when there is a tokio
    /// runtime, a new one otherwise, awaited from any executor.
    async fn usage(&self) -> std::io::Result<(u64, u64)> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            return Err(std::io::Error::other("an earlier statvfs has not returned (a hung file system?)"));
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let path = self.path.clone();
        // Cleared when the call returns, or when the work is dropped without running.
        let in_flight = ClearOnDrop(self.in_flight.clone());
        let work = move || {
            let usage = disk_usage(&path);
            drop(in_flight);
            let _ = sender.send(usage);
        };
        let started = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                drop(runtime.spawn_blocking(work));
                Ok(())
            }
            Err(_) => std::thread::Builder::new().name("obs-statvfs".to_owned()).spawn(work).map(drop),
        };
        started?;
        receiver.await.unwrap_or_else(|_| Err(std::io::Error::other("statvfs thread ended without an answer")))
    }

    /// Used fraction (0 to 1) above which the check is degraded.
    pub fn warn_above(mut self, fraction: f64) -> Self {
        self.levels.warn = fraction;
        self
    }

    /// Used fraction (0 to 1) above which the check is unhealthy.
    pub fn critical_above(mut self, fraction: f64) -> Self {
        self.levels.critical = fraction;
        self
    }
}

impl Check for DiskSpaceCheck {
    async fn check(&self) -> CheckResult {
        match self.usage().await {
            Ok((total, available)) => self
                .levels
                .judge(total, available, &format!("disk at {}", self.path.display()))
                .with_detail("path", self.path.display().to_string()),
            Err(err) => CheckResult::unhealthy(format!("cannot read disk usage of {}: {err}", self.path.display())),
        }
    }
}

struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// (total, available to unprivileged users) bytes of the file system at `path`.
#[cfg(unix)]
fn disk_usage(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt as _;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` is written by statvfs before being read.
    let stat = unsafe {
        if libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        stat.assume_init()
    };
    let block = stat.f_frsize as u64;
    Ok((stat.f_blocks as u64 * block, stat.f_bavail as u64 * block))
}

#[cfg(not(unix))]
fn disk_usage(_: &std::path::Path) -> std::io::Result<(u64, u64)> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "disk space checks need a unix system"))
}

/// System memory in use (total minus available): degraded above 90 %,
/// unhealthy above 95 % by default. Reports the process's resident size too.
#[derive(Debug, Clone)]
pub struct MemoryCheck {
    levels: Levels,
}

impl Default for MemoryCheck {
    fn default() -> Self {
        MemoryCheck { levels: Levels::DEFAULT }
    }
}

impl MemoryCheck {
    /// With the default thresholds.
    pub fn new() -> Self {
        MemoryCheck::default()
    }

    /// Used fraction (0 to 1) above which the check is degraded.
    pub fn warn_above(mut self, fraction: f64) -> Self {
        self.levels.warn = fraction;
        self
    }

    /// Used fraction (0 to 1) above which the check is unhealthy.
    pub fn critical_above(mut self, fraction: f64) -> Self {
        self.levels.critical = fraction;
        self
    }
}

impl Check for MemoryCheck {
    async fn check(&self) -> CheckResult {
        let meminfo = match std::fs::read_to_string("/proc/meminfo") {
            Ok(text) => text,
            Err(err) => return CheckResult::unhealthy(format!("cannot read /proc/meminfo: {err}")),
        };
        let (Some(total), Some(available)) = (kb_field(&meminfo, "MemTotal"), kb_field(&meminfo, "MemAvailable"))
        else {
            return CheckResult::unhealthy("cannot find MemTotal and MemAvailable in /proc/meminfo");
        };
        let mut result = self.levels.judge(total * 1024, available * 1024, "memory");
        if let Some(rss) = process_rss() {
            result = result.with_detail("process_rss_bytes", rss);
        }
        result
    }
}

fn process_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(kb_field(&status, "VmRSS")? * 1024)
}

/// The value of a `Name:   1234 kB` line of a `/proc` file, in kB.
fn kb_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
}

/// A check from an async closure; see [`from_fn`].
pub struct FnCheck<F> {
    check: F,
}

/// A check from any async closure returning a [`CheckResult`], a
/// `Result<(), E: Display>` or a `bool`.
///
/// ```
/// use obs_runtime::health::{from_fn, CheckResult};
///
/// let queue = from_fn(|| async { Ok::<(), std::io::Error>(()) });
/// let flag = from_fn(|| async { std::path::Path::new("/tmp").exists() });
/// let custom = from_fn(|| async { CheckResult::degraded("warming up") });
/// ```
pub fn from_fn<F, Fut, R>(check: F) -> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = R> + Send,
    R: Into<CheckResult>,
{
    FnCheck { check }
}

impl<F, Fut, R> Check for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = R> + Send,
    R: Into<CheckResult>,
{
    async fn check(&self) -> CheckResult {
        (self.check)().await.into()
    }
}

impl<F> std::fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnCheck")
    }
}
