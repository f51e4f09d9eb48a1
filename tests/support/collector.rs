//! A real OpenTelemetry collector for the tests: Rotel (`rotel-agent`, from the
//! `rotel` wheel that scripts/install-test-deps.sh puts into the test venv),
//! listening for OTLP over gRPC and HTTP on free ports of 127.0.0.1. It prints
//! everything it receives (its detailed debug log) and drops it afterwards;
//! [`Collector::spans`] and [`Collector::logs`] read that print-out back.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ProcessGroupGuard, free_port};

/// A span as the collector received it.
#[derive(Debug, Clone, Default)]
pub struct ReceivedSpan {
    pub trace_id: String,
    pub parent_id: String,
    pub span_id: String,
    pub name: String,
    pub status_code: String,
    pub status_message: String,
    /// `key` → the collector's rendering of the value, e.g. `Str(x)`, `Int(3)`.
    pub attributes: Vec<(String, String)>,
    pub events: Vec<String>,
    pub resource: Vec<(String, String)>,
}

/// A metric data point as the collector received it (sums, gauges and histograms).
#[derive(Debug, Clone, Default)]
pub struct ReceivedPoint {
    /// The metric's name.
    pub name: String,
    /// `Sum`, `Gauge` or `Histogram`.
    pub data_type: String,
    /// The aggregation temporality as printed (e.g. `Cumulative`, `Delta`).
    pub temporality: String,
    pub attributes: Vec<(String, String)>,
    /// A sum's or gauge's value.
    pub value: f64,
    /// A histogram's count, bounds and bucket counts.
    pub count: u64,
    pub bounds: Vec<f64>,
    pub buckets: Vec<u64>,
    pub resource: Vec<(String, String)>,
    /// The trace ids of the point's exemplars.
    pub exemplar_traces: Vec<String>,
}

/// A log record as the collector received it.
#[derive(Debug, Clone, Default)]
pub struct ReceivedLog {
    pub severity_text: String,
    pub severity_number: String,
    pub body: String,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Vec<(String, String)>,
    pub resource: Vec<(String, String)>,
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

impl ReceivedSpan {
    pub fn attr(&self, key: &str) -> Option<&str> {
        lookup(&self.attributes, key)
    }
    pub fn resource_attr(&self, key: &str) -> Option<&str> {
        lookup(&self.resource, key)
    }
}

impl ReceivedLog {
    pub fn attr(&self, key: &str) -> Option<&str> {
        lookup(&self.attributes, key)
    }
    pub fn resource_attr(&self, key: &str) -> Option<&str> {
        lookup(&self.resource, key)
    }
}

/// The running collector; stopped (with its process group) on drop.
pub struct Collector {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    output: Arc<Mutex<String>>,
    _process: ProcessGroupGuard,
}

/// `rotel-agent` in the test venv (`$OBS_VENV`, default `/opt/obs-venv`).
fn rotel_agent() -> PathBuf {
    let venv = std::env::var_os("OBS_VENV").map(PathBuf::from).unwrap_or_else(|| "/opt/obs-venv".into());
    let python = venv.join("bin/python");
    let found = Command::new(&python)
        .args(["-c", "import rotel, pathlib; print(pathlib.Path(rotel.__file__).parent / 'rotel-agent')"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "the Rotel collector is not installed in {}; run scripts/install-test-deps.sh \
             (it installs rotel into that virtual environment)",
            venv.display()
        )
    })
}

/// The directory holding the venv Python's `libpython3.x.so`, which `rotel-agent` links.
fn python_libdir() -> Option<String> {
    let venv = std::env::var_os("OBS_VENV").map(PathBuf::from).unwrap_or_else(|| "/opt/obs-venv".into());
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')"])
        .output()
        .ok()?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!dir.is_empty()).then_some(dir)
}

impl Collector {
    /// Starts the collector and waits until both receivers accept connections.
    pub fn start() -> Collector {
        Collector::launch(&[
            "--debug-log",
            "traces",
            "--debug-log",
            "logs",
            "--debug-log",
            "metrics",
            "--debug-log-verbosity",
            "detailed",
        ])
    }

    /// A collector that prints one summary per batch of spans instead of every
    /// span ([`Collector::span_count`] reads it), for measuring throughput: at
    /// a hundred thousand spans a second the detailed print-out would be what
    /// limits the rate.
    #[allow(dead_code)]
    pub fn start_counting() -> Collector {
        Collector::launch(&["--debug-log", "traces", "--debug-log-verbosity", "basic"])
    }

    fn launch(debug_log: &[&str]) -> Collector {
        let agent = rotel_agent();
        let grpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let dir = std::env::temp_dir().join(format!("obs-rotel-{}-{}", std::process::id(), grpc.port()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut command = Command::new(agent);
        command
            .arg("start")
            .args(["--otlp-grpc-endpoint", &grpc.to_string(), "--otlp-http-endpoint", &http.to_string()])
            .args(["--exporter", "blackhole"])
            .args(debug_log)
            .args(["--batch-timeout", "50ms"])
            .arg("--log-file")
            .arg(dir.join("agent.log"))
            .arg("--pid-file")
            .arg(dir.join("agent.pid"))
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(libdir) = python_libdir() {
            let existing = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
            command.env("LD_LIBRARY_PATH", format!("{libdir}:{existing}"));
        }
        let mut process = ProcessGroupGuard::spawn(command).expect("start rotel-agent");
        let stdout = process.0.stdout.take().expect("piped stdout");
        let output = Arc::new(Mutex::new(String::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut out = sink.lock().unwrap();
                out.push_str(&strip_ansi(&line));
                out.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        for addr in [grpc, http] {
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Ok(Some(status)) = process.0.try_wait() {
                    panic!("rotel-agent exited with {status} before listening on {addr}");
                }
                assert!(Instant::now() < deadline, "rotel-agent did not listen on {addr} within 20 s");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Collector { grpc, http, output, _process: process }
    }

    /// Everything the collector printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until `ready` holds for what was received, or fails the test after `limit`.
    pub fn wait_until<T>(&self, limit: Duration, what: &str, mut ready: impl FnMut(&Collector) -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(found) = ready(self) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "the collector did not receive {what} within {limit:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        parse_spans(&self.output())
    }

    /// The spans a [`Collector::start_counting`] collector received so far: the
    /// sum of its per-request summaries (`Received traces. ... resource_spans=1 spans=512`).
    #[allow(dead_code)]
    pub fn span_count(&self) -> u64 {
        let output = self.output.lock().unwrap();
        output
            .lines()
            .filter(|line| line.contains("Received traces."))
            .filter_map(|line| {
                line.split_whitespace().find_map(|word| word.strip_prefix("spans="))?.parse::<u64>().ok()
            })
            .sum()
    }

    /// The metric data points received so far, in the order received.
    pub fn metric_points(&self) -> Vec<ReceivedPoint> {
        parse_points(&self.output())
    }

    /// The log records received so far.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        parse_logs(&self.output())
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `-> key: Value(...)` → (`key`, `Value(...)`).
fn arrow_pair(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix("-> ")?;
    let (key, value) = rest.split_once(": ")?;
    Some((key.to_owned(), value.to_owned()))
}

/// `Trace ID       : value` or `Body: value` → (`Trace ID`, `value`).
fn labelled(line: &str) -> Option<(String, String)> {
    let (label, value) = line.split_once(':')?;
    Some((label.trim().to_owned(), value.trim().to_owned()))
}

/// One `Span #n` or `LogRecord #n` block of the print-out.
#[derive(Default)]
struct Block {
    labels: Vec<(String, String)>,
    attributes: Vec<(String, String)>,
    events: Vec<String>,
    resource: Vec<(String, String)>,
}

impl Block {
    fn label(&self, name: &str) -> String {
        lookup(&self.labels, name).unwrap_or_default().to_owned()
    }
}

#[derive(PartialEq)]
enum Section {
    Other,
    Resource,
    Attributes,
    Events,
}

/// The blocks that start with `header` (`Span #` or `LogRecord #`), each with
/// the resource attributes of the batch it came in.
fn parse_blocks(text: &str, header: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut resource = Vec::new();
    let mut section = Section::Other;
    let mut current: Option<Block> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("ResourceSpans #") || trimmed.starts_with("ResourceLog #") {
            blocks.extend(current.take());
            resource.clear();
            section = Section::Other;
        } else if trimmed == "Resource attributes:" {
            section = Section::Resource;
        } else if trimmed.starts_with("Span #") || trimmed.starts_with("LogRecord #") {
            blocks.extend(current.take());
            current = trimmed.starts_with(header).then(|| Block { resource: resource.clone(), ..Default::default() });
            section = Section::Other;
        } else if trimmed.starts_with("Attributes") {
            section = Section::Attributes;
        } else if trimmed.starts_with("Events") {
            section = Section::Events;
        } else if let Some((key, value)) = arrow_pair(line) {
            match (&section, current.as_mut()) {
                (Section::Resource, _) => resource.push((key, value)),
                (Section::Attributes, Some(block)) => block.attributes.push((key, value)),
                (Section::Events, Some(block)) => block.events.push(format!("{key}: {value}")),
                _ => {}
            }
        } else if let (Some(block), Some((label, value))) = (current.as_mut(), labelled(line)) {
            if section == Section::Events {
                block.events.push(format!("{label}: {value}"));
            } else {
                block.labels.push((label, value));
            }
        }
    }
    blocks.extend(current);
    blocks
}

fn parse_spans(text: &str) -> Vec<ReceivedSpan> {
    parse_blocks(text, "Span #")
        .into_iter()
        .map(|b| ReceivedSpan {
            trace_id: b.label("Trace ID"),
            parent_id: b.label("Parent ID"),
            span_id: b.label("ID"),
            name: b.label("Name"),
            status_code: b.label("Status code"),
            status_message: b.label("Status message"),
            attributes: b.attributes,
            events: b.events,
            resource: b.resource,
        })
        .collect()
}

fn parse_logs(text: &str) -> Vec<ReceivedLog> {
    parse_blocks(text, "LogRecord #")
        .into_iter()
        .map(|b| ReceivedLog {
            severity_text: b.label("SeverityText"),
            severity_number: b.label("SeverityNumber"),
            body: b.label("Body"),
            trace_id: b.label("Trace ID"),
            span_id: b.label("Span ID"),
            attributes: b.attributes,
            resource: b.resource,
        })
        .collect()
}

/// The data points of the print-out: `Metric #n` blocks with their
/// `Descriptor`, then `NumberDataPoints #n` / `HistogramDataPoints #n`.
fn parse_points(text: &str) -> Vec<ReceivedPoint> {
    #[derive(PartialEq)]
    enum In {
        Resource,
        Descriptor,
        Point,
        Exemplar,
        Other,
    }
    let mut points = Vec::new();
    let mut resource = Vec::new();
    let (mut name, mut data_type, mut temporality) = (String::new(), String::new(), String::new());
    let mut section = In::Other;
    let mut current: Option<ReceivedPoint> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("ResourceMetrics #") {
            points.extend(current.take());
            resource.clear();
            section = In::Other;
        } else if trimmed == "Resource attributes:" {
            section = In::Resource;
        } else if trimmed.starts_with("Metric #") {
            points.extend(current.take());
            section = In::Other;
        } else if trimmed == "Descriptor:" {
            (name, data_type, temporality) = Default::default();
            section = In::Descriptor;
        } else if trimmed.starts_with("NumberDataPoints #") || trimmed.starts_with("HistogramDataPoints #") {
            points.extend(current.take());
            current = Some(ReceivedPoint {
                name: name.clone(),
                data_type: data_type.clone(),
                temporality: temporality.clone(),
                resource: resource.clone(),
                ..Default::default()
            });
            section = In::Point;
        } else if trimmed.starts_with("Exemplar #") {
            section = In::Exemplar;
        } else if let Some((key, value)) = arrow_pair(line) {
            match (&section, current.as_mut()) {
                (In::Resource, _) => resource.push((key, value)),
                (In::Descriptor, _) => match key.as_str() {
                    "Name" => name = value,
                    "DataType" => data_type = value,
                    "AggregationTemporality" => temporality = value,
                    _ => {}
                },
                (In::Point, Some(point)) => point.attributes.push((key, value)),
                (In::Exemplar, Some(point)) if key == "Trace ID" => point.exemplar_traces.push(value),
                _ => {}
            }
        } else if let (Some(point), Some((label, value))) = (current.as_mut(), labelled(line)) {
            if label == "Value" {
                point.value = value.parse().unwrap_or(f64::NAN);
            } else if label == "Count" {
                point.count = value.parse().unwrap_or(0);
            } else if label.starts_with("ExplicitBounds #") {
                point.bounds.push(value.parse().unwrap_or(f64::NAN));
            } else if label.starts_with("Buckets #") {
                // `Buckets #0, Count: 5`
                point.buckets.push(value.parse().unwrap_or(0));
            }
        }
    }
    points.extend(current);
    points
}
