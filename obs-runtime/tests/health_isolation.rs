//! The health endpoints stay up whatever a check does: a check that blocks its
//! thread, an evaluation that panics, an executor that is not tokio, a check
//! whose configuration holds a secret. `init` runs once for this binary; tests
//! take turns through `lock()`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use obs_runtime::HealthCheck;
use obs_runtime::health::{Check, CheckResult, Component, HealthStatus, HttpCheck, Scope, ShowDetails, from_fn};
use obs_runtime::log::MemoryWriter;

const CACHE: Duration = Duration::from_millis(100);
/// Well above a normal answer on a loaded machine, far below a blocked one.
const PROMPT: Duration = Duration::from_millis(500);

struct Shared {
    guard: obs_runtime::ObsGuard,
    logs: MemoryWriter,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let logs = MemoryWriter::default();
        let guard = obs_runtime::builder()
            .service_name("health-isolation-test")
            .http_addr("127.0.0.1:0".parse().unwrap())
            .log_writer(logs.clone())
            .log_filter("info")
            .health_details(ShowDetails::Always)
            .health_cache(CACHE)
            .health_refresh(Duration::ZERO)
            .init()
            .expect("obs init");
        Shared { guard, logs }
    })
}

fn lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn addr() -> SocketAddr {
    shared().guard.http_addr().expect("http server")
}

/// `GET path`: (status code, body), and how long the answer took.
fn get(path: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("{path}: no http response"));
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status code");
    (code, body.to_owned(), started.elapsed())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}"))
}

/// An executor that is not tokio.
use futures_executor::block_on;

fn up() -> impl Check {
    from_fn(|| async { true })
}

#[derive(HealthCheck)]
struct Blocking<B: Check, L: Check> {
    #[health(critical, timeout = "200ms")]
    stuck: B,
    #[health(liveness)]
    alive: L,
}

#[test]
fn a_check_that_blocks_its_thread_freezes_no_endpoint() {
    let _turn = lock();
    shared();
    obs_runtime::health::register(Blocking {
        stuck: from_fn(|| async {
            std::thread::sleep(Duration::from_secs(10));
            true
        }),
        alive: up(),
    });
    let started = Instant::now();
    let mut ready = Vec::new();
    for probe in 0..100 {
        let (code, body, took) = get("/health/ready");
        assert_eq!(code, 503, "probe {probe}: {body}");
        let body = json(&body);
        let error = body["checks"]["stuck"]["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains("timed out after 200ms") || error.contains("still blocked"), "probe {probe}: {body}");
        // Each answer is bounded by the check's timeout, not by the blocked thread.
        assert!(took < Duration::from_millis(200) + PROMPT, "probe {probe} of /health/ready took {took:?}");
        ready.push(took);
        if probe % 10 == 0 {
            let (code, body, took) = get("/health/live");
            assert_eq!((code, json(&body)["status"].as_str()), (200, Some("healthy")), "{body}");
            assert!(took < PROMPT, "/health/live took {took:?} while a readiness check blocks");
            let (code, _, took) = get("/metrics");
            assert_eq!(code, 200);
            assert!(took < PROMPT, "/metrics took {took:?} while a check blocks");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the probes outlived the blocked check: {:?}",
        started.elapsed()
    );
}

#[test]
fn report_works_from_an_executor_that_is_not_tokio() {
    let _turn = lock();
    shared();
    #[derive(HealthCheck)]
    struct Timed<C: Check> {
        sleeper: C,
    }
    obs_runtime::health::register(Timed {
        sleeper: from_fn(|| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            true
        }),
    });
    std::thread::sleep(CACHE + Duration::from_millis(30));
    let report = block_on(obs_runtime::health::report(Scope::All));
    assert_eq!(report.status, HealthStatus::Healthy, "{:?}", report);
    assert_eq!(report.get("sleeper").map(|c| c.status), Some(HealthStatus::Healthy), "{report:?}");
}

/// A group whose `components()` panics while `EXPLODE` is set: outside every per-check shield.
struct Exploding<C> {
    fine: C,
}

static EXPLODE: AtomicBool = AtomicBool::new(false);

impl<C: Check> HealthCheck for Exploding<C> {
    fn components(&self) -> Vec<Component<'_>> {
        if EXPLODE.load(Ordering::SeqCst) {
            panic!("components exploded, password=PANIC-CANARY");
        }
        vec![Component::new("fine", &self.fine)]
    }
}

#[test]
fn a_panicking_evaluation_reports_unhealthy_and_the_next_probe_evaluates_again() {
    let _turn = lock();
    shared();
    EXPLODE.store(true, Ordering::SeqCst);
    obs_runtime::health::register(Exploding { fine: up() });
    for _ in 0..3 {
        let (code, body, _) = get("/health");
        assert_eq!(code, 503, "{body}");
        let body = json(&body);
        assert_eq!(body["status"], "unhealthy", "{body}");
        assert!(body["checks"]["health"]["error"].as_str().unwrap().contains("panicked"), "{body}");
        assert!(!body.to_string().contains("PANIC-CANARY"), "the panic message is not shown: {body}");
        // Not cached: every probe evaluates again.
    }
    let report = block_on(obs_runtime::health::report(Scope::Readiness));
    assert_eq!(report.status, HealthStatus::Unhealthy);
    EXPLODE.store(false, Ordering::SeqCst);
    let (code, body, _) = get("/health");
    assert_eq!(code, 200, "the probe after the panic evaluates again: {body}");
    assert_eq!(json(&body)["checks"]["fine"]["status"], "healthy", "{body}");
    assert_eq!(get("/health/ready").0, 200);
    assert!(!shared().logs.text().contains("PANIC-CANARY"), "{}", shared().logs.text());
}

#[test]
fn no_secret_reaches_health_json_logs_or_debug() {
    let _turn = lock();
    shared();
    let own = addr();
    let refused = HttpCheck::new("http://user:CANARY@127.0.0.1:1/x?token=CANARY");
    let not_found = HttpCheck::new(format!("http://user:CANARY@{own}/nope?token=CANARY#CANARY"));
    let found = HttpCheck::new(format!("http://user:CANARY@{own}/metrics?token=CANARY"));
    let mut debug = format!("{refused:?} {not_found:?} {found:?}");

    #[derive(HealthCheck)]
    struct Secrets {
        refused: HttpCheck,
        not_found: HttpCheck,
        found: HttpCheck,
        #[cfg(feature = "redis")]
        redis: obs_runtime::health::RedisCheck,
        #[cfg(feature = "redis")]
        redis_user: obs_runtime::health::RedisCheck,
    }
    #[cfg(feature = "redis")]
    let (redis, redis_user) = (
        obs_runtime::health::RedisCheck::new("redis://:CANARY-s3cr/et-CANARY@127.0.0.1:1/0"),
        obs_runtime::health::RedisCheck::new("redis://CANARY:CANARY/x@y@127.0.0.1:1"),
    );
    #[cfg(feature = "redis")]
    debug.push_str(&format!("{redis:?} {redis_user:?}"));
    debug.push_str(&format!("{:?}", from_fn(|| async { CheckResult::healthy() })));
    obs_runtime::health::register(Secrets {
        refused,
        not_found,
        found,
        #[cfg(feature = "redis")]
        redis,
        #[cfg(feature = "redis")]
        redis_user,
    });
    std::thread::sleep(CACHE + Duration::from_millis(30));
    let (code, body, _) = get("/health");
    assert_eq!(code, 503, "{body}");
    let report = json(&body);
    assert_eq!(report["checks"]["found"]["status"], "healthy", "{body}");
    assert_eq!(report["checks"]["found"]["details"]["url"], format!("http://{own}/metrics"), "{body}");
    assert!(report["checks"]["not_found"]["error"].as_str().unwrap().contains("returned 404"), "{body}");
    assert!(report["checks"]["refused"]["error"].as_str().unwrap().contains("cannot connect to 127.0.0.1:1"), "{body}");
    #[cfg(feature = "redis")]
    for name in ["redis", "redis_user"] {
        let error = report["checks"][name]["error"].as_str().unwrap();
        assert!(error.contains("cannot connect to redis at 127.0.0.1:1"), "{name}: {body}");
    }
    let logs = shared().logs.text();
    assert!(logs.contains("health.changed"), "the failures were logged: {logs}");
    for (what, text) in [("/health", body.as_str()), ("logs", logs.as_str()), ("Debug", debug.as_str())] {
        for secret in ["CANARY", "s3cr", "token="] {
            assert!(!text.contains(secret), "{secret} appears in {what}: {text}");
        }
    }
}
