//! When the OTLP backend is down or stalls, the application does not slow
//! down: a burst of instrumented calls takes about as long as without export,
//! spans beyond the bounded queue are dropped and counted, the failure is
//! logged once, export resumes when the backend answers again, and dropping
//! the guard returns within the shutdown timeout.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use obs_runtime::observe;
use support::{MemoryWriter, sample};
use tracing_subscriber::layer::SubscriberExt;

#[observe]
fn handle(request: u32) -> u32 {
    step(request) + 1
}

#[observe]
fn step(request: u32) -> u32 {
    request.wrapping_mul(3)
}

const BURST: u32 = 3000;

fn burst() -> Duration {
    let started = Instant::now();
    for i in 0..BURST {
        std::hint::black_box(handle(i));
    }
    started.elapsed()
}

/// The same burst under a subscriber without the OpenTelemetry layer (metrics still recorded).
fn burst_without_export() -> Duration {
    let subscriber = tracing_subscriber::registry().with(obs_runtime::log::JsonLayer::new("baseline", std::io::sink));
    tracing::subscriber::with_default(subscriber, burst)
}

fn counter(guard: &obs_runtime::ObsGuard, name: &str) -> f64 {
    let text = guard.render_metrics().expect("prometheus");
    sample(&text, name, &[("signal", "traces")]).unwrap_or(0.0)
}

/// Accepts connections and never answers, until stopped.
fn stalling_listener(listener: TcpListener, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<TcpStream>> {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        held
    })
}

/// Answers every request with `200 OK` and an empty body (an OTLP success).
fn accepting_listener(listener: TcpListener, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut requests = 0;
        while !stop.load(Ordering::Relaxed) {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let mut buf = [0u8; 65536];
            // Read the head and the body as far as Content-Length says.
            let mut raw = Vec::new();
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            requests += 1;
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
        requests
    })
}

/// Mistakes in code are errors from `init`, which leaves nothing installed.
/// (Bad `OTEL_*` values used to be errors too; they are now warned about and
/// ignored, as the OpenTelemetry specification says: see
/// `obs-runtime/tests/env_settings.rs`, which runs them in child processes.)
fn bad_settings_are_init_errors(endpoint: &str) {
    let base = || obs_runtime::builder().without_http().otlp_endpoint(endpoint);
    let bad: [(&str, obs_runtime::Builder); 4] = [
        ("trace sampling ratio", base().trace_sampler(obs_runtime::export::otlp::TraceSampler::Ratio(1.5))),
        ("Builder::otlp_certificate: cannot read", base().otlp_certificate("/nonexistent/obs-ca.pem")),
        ("http:// or https:// URL", base().otlp_endpoint("localhost:4318")),
        ("Builder::otlp_header", base().otlp_header("x-a", "line\nbreak")),
    ];
    for (expected, builder) in bad {
        let result = builder.init();
        match result {
            Err(obs_runtime::InitError::Config(message)) => {
                assert!(message.contains(expected), "{expected}: {message}")
            }
            Err(other) => panic!("{expected}: expected a configuration error, got {other}"),
            Ok(_) => panic!("{expected}: accepted"),
        }
    }
}

#[test]
fn a_dead_or_stalled_backend_neither_slows_the_app_nor_grows_memory() {
    // A port with nothing listening on it.
    let addr: SocketAddr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    bad_settings_are_init_errors(&format!("http://{addr}"));
    let logs = MemoryWriter::default();
    let guard = obs_runtime::builder()
        .service_name("backend-down")
        .log_writer(logs.clone())
        .without_http()
        .otlp_endpoint(format!("http://{addr}"))
        .otlp_queue_size(64)
        .otlp_batch_delay(Duration::from_millis(50))
        .otlp_timeout(Duration::from_millis(1500))
        .otlp_shutdown_timeout(Duration::from_secs(1))
        .init()
        .expect("init");

    let baseline = burst_without_export();
    let allowed = baseline * 3 + Duration::from_millis(300);

    // 1. Nothing listening.
    let refused = burst();
    eprintln!("baseline {baseline:?}, backend refusing {refused:?}");
    assert!(refused < allowed, "burst took {refused:?} with the backend down, {baseline:?} without export");
    let dropped_while_down = counter(&guard, "obs_exporter_dropped_spans_total");
    assert!(dropped_while_down > 0.0, "a burst of {} spans into a 64-span queue drops some", BURST * 2);
    // The exporter retries with backoff within its 1.5 s timeout before giving a batch up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while counter(&guard, "obs_exporter_failed_spans_total") == 0.0 {
        assert!(Instant::now() < deadline, "failed exports are counted");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    let errors = logs.lines().into_iter().filter(|l| l["event"] == "exporter.error").count();
    assert_eq!(errors, 1, "export errors are logged once per interval");

    // 2. A listener that accepts and never answers.
    let listener = TcpListener::bind(addr).expect("rebind the endpoint port");
    let stop = Arc::new(AtomicBool::new(false));
    let stalling = stalling_listener(listener, stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let stalled = burst();
    eprintln!("backend stalling {stalled:?}");
    assert!(stalled < allowed, "burst took {stalled:?} with a stalled backend, {baseline:?} without export");
    let dropped_while_stalled = counter(&guard, "obs_exporter_dropped_spans_total");
    assert!(dropped_while_stalled > dropped_while_down, "drops keep being counted");
    stop.store(true, Ordering::Relaxed);
    drop(stalling.join().unwrap());

    // 3. The backend answers again: export resumes.
    let listener = TcpListener::bind(addr).expect("rebind the endpoint port");
    let stop = Arc::new(AtomicBool::new(false));
    let accepting = accepting_listener(listener, stop.clone());
    let before = counter(&guard, "obs_exporter_exported_spans_total");
    let deadline = Instant::now() + Duration::from_secs(15);
    while counter(&guard, "obs_exporter_exported_spans_total") <= before {
        assert!(Instant::now() < deadline, "export did not resume once the backend answered");
        let _ = handle(1);
        std::thread::sleep(Duration::from_millis(100));
    }

    // 4. Shutdown with a stalled backend again stays within its limit.
    stop.store(true, Ordering::Relaxed);
    assert!(accepting.join().unwrap() > 0);
    let listener = TcpListener::bind(addr).expect("rebind the endpoint port");
    let stop = Arc::new(AtomicBool::new(false));
    let stalling = stalling_listener(listener, stop.clone());
    for i in 0..50 {
        let _ = handle(i);
    }
    let started = Instant::now();
    drop(guard);
    let shutdown = started.elapsed();
    eprintln!("shutdown with a stalled backend took {shutdown:?}");
    assert!(shutdown < Duration::from_millis(2500), "shutdown took {shutdown:?}, limit 1 s");
    stop.store(true, Ordering::Relaxed);
    drop(stalling.join().unwrap());
}
