//! What a user sees of the health endpoints: status codes and JSON bodies of
//! real requests, `obs_health_status` in the scrape, `health.changed` log lines.
//! `init` runs once for this binary; tests take turns through `lock()`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use obs_runtime::HealthCheck;
use obs_runtime::health::{
    Check, CheckResult, DiskSpaceCheck, HealthStatus, HttpCheck, MemoryCheck, ShowDetails, TcpCheck, from_fn,
};
use obs_runtime::log::MemoryWriter;
use serde_json::Value;

const TOKEN: &str = "s3cret";
const CACHE: Duration = Duration::from_millis(100);

struct Shared {
    guard: obs_runtime::ObsGuard,
    logs: MemoryWriter,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let logs = MemoryWriter::default();
        let guard = obs_runtime::builder()
            .service_name("health-test")
            .http_addr("127.0.0.1:0".parse().unwrap())
            .log_writer(logs.clone())
            .log_filter("info")
            .health_token(TOKEN)
            .health_details(ShowDetails::WhenAuthorized)
            .health_cache(CACHE)
            // Checks run only when probed, so the tests can count evaluations.
            .health_refresh(Duration::ZERO)
            .init()
            .expect("obs init");
        Shared { guard, logs }
    })
}

/// Serialises tests: they share one registered health group and one cache.
fn lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn addr() -> SocketAddr {
    shared().guard.http_addr().expect("http server")
}

/// `GET path`, with an optional bearer token: (status code, JSON body).
fn get_with(path: &str, token: Option<&str>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status code");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{path}: {head}");
    (code, serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: body is not JSON ({e}): {body}")))
}

fn get(path: &str) -> (u16, Value) {
    get_with(path, None)
}

fn expire_cache() {
    std::thread::sleep(CACHE + Duration::from_millis(30));
}

/// A check whose status the test sets: 0 healthy, 1 degraded, 2 unhealthy.
#[derive(Clone, Default)]
struct Switch(Arc<AtomicU8>, Arc<AtomicUsize>);

impl Switch {
    fn set(&self, status: HealthStatus) {
        self.0.store(status as u8, Ordering::SeqCst);
    }
    fn runs(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }
}

impl Check for Switch {
    async fn check(&self) -> CheckResult {
        self.1.fetch_add(1, Ordering::SeqCst);
        match self.0.load(Ordering::SeqCst) {
            0 => CheckResult::healthy().with_detail("active_connections", 3),
            1 => CheckResult::degraded("slow replies"),
            _ => CheckResult::unhealthy("connection refused"),
        }
    }
}

#[derive(HealthCheck)]
struct Storage {
    db: Switch,
    #[health(non_critical)]
    replica: Switch,
}

#[derive(HealthCheck)]
struct AppHealth {
    #[health(critical, timeout = "1s")]
    db: Switch,
    #[health(name = "cache", non_critical)]
    redis: Switch,
    #[health(liveness)]
    event_loop: Switch,
    storage: Storage,
    #[health(skip)]
    _config: Arc<String>,
}

struct Switches {
    db: Switch,
    redis: Switch,
    event_loop: Switch,
    storage_db: Switch,
    replica: Switch,
}

fn register_app() -> Switches {
    let s = Switches {
        db: Switch::default(),
        redis: Switch::default(),
        event_loop: Switch::default(),
        storage_db: Switch::default(),
        replica: Switch::default(),
    };
    obs_runtime::health::register(AppHealth {
        db: s.db.clone(),
        redis: s.redis.clone(),
        event_loop: s.event_loop.clone(),
        storage: Storage { db: s.storage_db.clone(), replica: s.replica.clone() },
        _config: Arc::new("config".into()),
    });
    s
}

#[test]
fn health_is_200_when_healthy_or_degraded_and_503_when_a_critical_check_fails() {
    let _turn = lock();
    shared();
    let s = register_app();

    let (code, body) = get("/health");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "healthy");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'), "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["checks"]["db"]["status"], "healthy");
    assert_eq!(body["checks"]["storage"]["checks"]["replica"]["status"], "healthy", "nested group: {body}");

    s.redis.set(HealthStatus::Unhealthy);
    expire_cache();
    let (code, body) = get("/health");
    assert_eq!((code, body["status"].as_str()), (200, Some("degraded")), "a non-critical failure degrades: {body}");
    assert_eq!(body["checks"]["cache"]["status"], "unhealthy");

    s.replica.set(HealthStatus::Healthy);
    s.redis.set(HealthStatus::Healthy);
    s.storage_db.set(HealthStatus::Unhealthy);
    expire_cache();
    let (code, body) = get("/health");
    assert_eq!((code, body["status"].as_str()), (503, Some("unhealthy")), "{body}");
    assert_eq!(body["checks"]["storage"]["status"], "unhealthy");
    assert_eq!(body["checks"]["storage"]["checks"]["db"]["status"], "unhealthy");

    let (code, body) = get("/health/storage.db");
    assert_eq!((code, body["status"].as_str()), (503, Some("unhealthy")), "{body}");
    let (code, body) = get("/health/cache");
    assert_eq!((code, body["status"].as_str()), (200, Some("healthy")), "{body}");
    let (code, body) = get("/health/nothing");
    assert_eq!(code, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nothing"), "{body}");
}

#[test]
fn liveness_only_counts_liveness_checks() {
    let _turn = lock();
    shared();
    let s = register_app();
    s.db.set(HealthStatus::Unhealthy);

    let (code, body) = get("/health/live");
    assert_eq!(code, 200, "the database being down must not restart the process: {body}");
    let names: Vec<&String> = body["checks"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["event_loop"], "{body}");

    let (code, body) = get("/health/ready");
    assert_eq!(code, 503, "{body}");
    assert!(body["checks"].get("event_loop").is_none(), "event_loop is liveness only: {body}");
    assert_eq!(body["checks"]["db"]["status"], "unhealthy");

    s.event_loop.set(HealthStatus::Unhealthy);
    expire_cache();
    assert_eq!(get("/health/live").0, 503);
}

#[test]
fn details_are_shown_only_with_the_bearer_token() {
    let _turn = lock();
    shared();
    let s = register_app();
    s.db.set(HealthStatus::Unhealthy);

    let (_, hidden) = get("/health");
    let db = &hidden["checks"]["db"];
    assert_eq!(db["status"], "unhealthy");
    assert!(db.get("error").is_none() && db.get("response_time_ms").is_none(), "hidden without token: {hidden}");

    let (_, wrong) = get_with("/health", Some("guess"));
    assert!(wrong["checks"]["db"].get("error").is_none(), "{wrong}");

    let (code, shown) = get_with("/health", Some(TOKEN));
    assert_eq!(code, 503);
    assert_eq!(shown["checks"]["db"]["error"], "connection refused", "{shown}");
    assert!(shown["checks"]["db"]["response_time_ms"].is_number(), "{shown}");
    assert_eq!(shown["checks"]["cache"]["details"]["active_connections"], 3, "{shown}");
}

#[test]
fn set_ready_false_takes_the_instance_out_of_rotation() {
    let _turn = lock();
    shared();
    register_app();
    obs_runtime::health::set_ready(false);
    let (ready, body) = get_with("/health/ready", Some(TOKEN));
    let (live, _) = get("/health/live");
    obs_runtime::health::set_ready(true);
    assert_eq!(ready, 503, "{body}");
    assert_eq!(body["checks"]["ready"]["status"], "unhealthy");
    assert!(body["checks"]["ready"]["error"].as_str().unwrap().contains("not ready"), "{body}");
    assert_eq!(live, 200, "draining is not dying");
    assert_eq!(get("/health/ready").0, 200);
}

/// A closure check with a nameable type, to be a field.
type BoxedFnCheck = obs_runtime::health::FnCheck<fn() -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>>>;

#[derive(HealthCheck)]
struct Misbehaving {
    #[health(timeout = "100ms")]
    slow: BoxedFnCheck,
    #[health(non_critical)]
    panics: BoxedFnCheck,
    fine: Switch,
}

#[test]
fn a_slow_or_panicking_check_does_not_hold_up_the_others() {
    let _turn = lock();
    shared();
    let fine = Switch::default();
    obs_runtime::health::register(Misbehaving {
        slow: from_fn(|| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                true
            })
        }),
        panics: from_fn(|| Box::pin(async { panic!("boom") })),
        fine: fine.clone(),
    });
    let started = Instant::now();
    let (code, body) = get_with("/health", Some(TOKEN));
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["checks"]["slow"]["error"], "timed out after 100ms", "{body}");
    assert_eq!(body["checks"]["panics"]["status"], "unhealthy");
    assert_eq!(body["checks"]["panics"]["error"], "check panicked: boom", "{body}");
    assert_eq!(body["checks"]["fine"]["status"], "healthy");
    // The endpoint survived the panic.
    assert_eq!(get("/health/fine").0, 200);
}

#[test]
fn probes_within_the_cache_time_share_one_evaluation() {
    let _turn = lock();
    shared();
    let s = register_app();
    // All eight threads exist before any probe is sent, so the probes fall within the
    // cache time even when thread start-up is slow on a loaded machine.
    let start = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                get("/health").0
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    assert_eq!(s.db.runs(), 1, "8 concurrent probes ran the check {} times", s.db.runs());
    expire_cache();
    get("/health");
    assert_eq!(s.db.runs(), 2, "an expired result is evaluated again");
}

fn gauge(check: &str) -> Option<String> {
    let text = shared().guard.render_metrics().expect("prometheus");
    let prefix = format!("obs_health_status{{check=\"{check}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

fn change_events(check: &str) -> Vec<Value> {
    shared()
        .logs
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "health.changed" && v["check"] == check)
        .collect()
}

#[test]
fn status_changes_reach_metrics_and_log_one_event_each() {
    let _turn = lock();
    shared();
    let s = register_app();
    get("/health");
    let text = shared().guard.render_metrics().unwrap();
    assert!(text.contains("# HELP obs_health_status"), "{text}");
    assert!(text.contains("obs_health_check_duration_seconds_bucket{check=\"storage.replica\""), "{text}");
    assert_eq!(gauge("cache").as_deref(), Some("1"));
    let before = change_events("cache").len();

    s.redis.set(HealthStatus::Degraded);
    for _ in 0..3 {
        expire_cache();
        get("/health");
    }
    assert_eq!(gauge("cache").as_deref(), Some("0.5"));
    s.redis.set(HealthStatus::Unhealthy);
    for _ in 0..3 {
        expire_cache();
        get("/health");
    }
    assert_eq!(gauge("cache").as_deref(), Some("0"));
    s.redis.set(HealthStatus::Healthy);
    expire_cache();
    get("/health");
    assert_eq!(gauge("cache").as_deref(), Some("1"));

    let events = change_events("cache");
    let changes: Vec<(&str, &str)> =
        events[before..].iter().map(|e| (e["old"].as_str().unwrap(), e["new"].as_str().unwrap())).collect();
    assert_eq!(changes, [("healthy", "degraded"), ("degraded", "unhealthy"), ("unhealthy", "healthy")], "{events:?}");
    assert_eq!(events.last().unwrap()["level"], "INFO");
    assert_eq!(events[events.len() - 2]["level"], "WARN");
    assert_eq!(events[events.len() - 2]["reason"], "connection refused");
    assert_eq!(events.last().unwrap()["span"], "health.check", "logged inside the check's span");
    assert!(events.last().unwrap()["trace_id"].is_string());
}

#[test]
fn built_in_checks_report_what_they_found() {
    let _turn = lock();
    let base = format!("http://{}", addr());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().to_string();
        assert_eq!(TcpCheck::new(open.clone()).check().await.status(), HealthStatus::Healthy);
        drop(listener);
        let closed = TcpCheck::new(open.clone()).check().await;
        assert_eq!(closed.status(), HealthStatus::Unhealthy);
        assert!(closed.error().unwrap().contains(&format!("cannot connect to {open}")), "{closed:?}");

        let ok = HttpCheck::new(format!("{base}/metrics")).check().await;
        assert_eq!((ok.status(), ok.details()["status_code"].as_u64()), (HealthStatus::Healthy, Some(200)), "{ok:?}");
        let missing = HttpCheck::new(format!("{base}/nope")).check().await;
        assert_eq!(missing.status(), HealthStatus::Unhealthy);
        assert!(missing.error().unwrap().contains("returned 404"), "{missing:?}");
        let https = HttpCheck::new("https://example.invalid/").check().await;
        assert!(https.error().unwrap().contains("only http://"), "{https:?}");

        let disk = DiskSpaceCheck::new("/").warn_above(1.0).critical_above(1.0).check().await;
        assert_eq!(disk.status(), HealthStatus::Healthy, "{disk:?}");
        assert!(disk.details()["total_bytes"].as_u64().unwrap() > 0);
        let full = DiskSpaceCheck::new("/").warn_above(0.0).critical_above(1.0).check().await;
        assert_eq!(full.status(), HealthStatus::Degraded, "{full:?}");
        let gone = DiskSpaceCheck::new("/no/such/dir").check().await;
        assert_eq!(gone.status(), HealthStatus::Unhealthy);

        let memory = MemoryCheck::new().warn_above(0.0).critical_above(0.0).check().await;
        assert_eq!(memory.status(), HealthStatus::Unhealthy, "{memory:?}");
        assert!(memory.error().unwrap().contains("above the critical level"), "{memory:?}");
        assert!(memory.details()["process_rss_bytes"].as_u64().unwrap() > 0);

        let closure = from_fn(|| async { Err::<(), _>("queue is full") }).check().await;
        assert_eq!(closure.error(), Some("queue is full"));
    });
}
