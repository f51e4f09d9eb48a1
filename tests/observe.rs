//! What a user sees from `#[observe]` after `init`: the metric values a scrape
//! of `/metrics` returns and the JSON log lines, for every outcome.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use obs_runtime::{ErrorKind, ObsGuard, observe};
use support::{MemoryWriter, for_span, http_get, sample};

fn telemetry() -> &'static (ObsGuard, MemoryWriter) {
    static TELEMETRY: OnceLock<(ObsGuard, MemoryWriter)> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let logs = MemoryWriter::default();
        let guard = obs_runtime::builder()
            .service_name("observe-tests")
            .log_filter("debug")
            .log_writer(logs.clone())
            .http_addr("127.0.0.1:0".parse().unwrap())
            .init()
            .expect("init");
        (guard, logs)
    })
}

fn scrape() -> String {
    let addr = telemetry().0.http_addr().expect("http endpoint");
    let (status, body) = http_get(addr, "/metrics").expect("scrape");
    assert_eq!(status, 200);
    body
}

fn calls(text: &str, function: &str, status: &str) -> f64 {
    sample(text, "obs_function_calls_total", &[("function", function), ("status", status)]).unwrap_or(-1.0)
}

#[derive(Debug, ErrorKind)]
enum MathError {
    DivisionByZero,
}

impl std::fmt::Display for MathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot divide by zero")
    }
}
impl std::error::Error for MathError {}

#[observe]
fn divide(a: u32, b: u32) -> Result<u32, MathError> {
    a.checked_div(b).ok_or(MathError::DivisionByZero)
}

#[test]
fn ok_and_error_calls_are_counted_and_logged() {
    let logs = &telemetry().1;
    assert_eq!(divide(6, 3).unwrap(), 2);
    assert_eq!(divide(8, 2).unwrap(), 4);
    assert!(divide(1, 0).is_err());

    let text = scrape();
    assert_eq!(calls(&text, "divide", "ok"), 2.0);
    assert_eq!(calls(&text, "divide", "error"), 1.0);
    assert_eq!(calls(&text, "divide", "panic"), 0.0);
    assert_eq!(
        sample(&text, "obs_function_errors_total", &[("function", "divide"), ("error", "division_by_zero")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "obs_function_duration_seconds_count", &[("function", "divide"), ("module", "observe")]),
        Some(3.0)
    );
    assert_eq!(sample(&text, "obs_function_in_flight", &[("function", "divide")]), Some(0.0));

    let lines = for_span(logs, "observe::divide");
    let error = lines.iter().find(|l| l["event"] == "function.error").expect("error event");
    assert_eq!(error["level"], "ERROR");
    assert_eq!(error["service"], "observe-tests");
    assert_eq!(error["target"], "observe");
    assert_eq!(error["message"], "divide failed");
    assert_eq!(error["error"]["kind"], "division_by_zero");
    assert_eq!(error["error"]["message"], "cannot divide by zero");
    assert_eq!(error["a"], 1);
    assert_eq!(error["b"], 0);
    assert!(error["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(error["trace_id"].as_str().unwrap().len(), 32);
    assert_eq!(error["span_id"].as_str().unwrap().len(), 16);
    let ok: Vec<_> = lines.iter().filter(|l| l["event"] == "function.success").collect();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0]["level"], "DEBUG");
    assert!(ok.iter().all(|l| l.get("error").is_none()));
}

#[observe]
fn explode(fuse: u8) -> u8 {
    if fuse > 0 {
        panic!("boom");
    }
    fuse
}

#[test]
fn a_panic_is_recorded_and_keeps_unwinding() {
    let logs = &telemetry().1;
    let caught = std::panic::catch_unwind(|| explode(1));
    assert!(caught.is_err(), "the panic must reach the caller");
    let text = scrape();
    assert_eq!(calls(&text, "explode", "panic"), 1.0);
    assert_eq!(calls(&text, "explode", "ok"), 0.0);
    assert_eq!(sample(&text, "obs_function_in_flight", &[("function", "explode")]), Some(0.0));
    let event =
        for_span(logs, "observe::explode").into_iter().find(|l| l["event"] == "function.panic").expect("panic event");
    assert_eq!(event["level"], "ERROR");
}

#[observe]
async fn slow_lookup(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_secs(30)).await;
    id
}

#[observe]
async fn async_explode() -> u8 {
    tokio::task::yield_now().await;
    panic!("async boom")
}

#[tokio::test]
async fn a_dropped_future_is_cancelled_and_a_panicking_task_is_a_panic() {
    let logs = &telemetry().1;
    let timed_out = tokio::time::timeout(Duration::from_millis(20), slow_lookup(7)).await;
    assert!(timed_out.is_err());
    // tokio catches the panic, then drops the future: still a panic, not a cancellation.
    let joined = tokio::spawn(async_explode()).await;
    assert!(joined.unwrap_err().is_panic());

    let text = scrape();
    assert_eq!(calls(&text, "slow_lookup", "cancelled"), 1.0);
    assert_eq!(sample(&text, "obs_function_in_flight", &[("function", "slow_lookup")]), Some(0.0));
    assert_eq!(calls(&text, "async_explode", "panic"), 1.0);
    assert_eq!(calls(&text, "async_explode", "cancelled"), 0.0);
    let cancelled =
        for_span(logs, "observe::slow_lookup").into_iter().find(|l| l["event"] == "function.cancelled").expect("event");
    assert_eq!(cancelled["level"], "WARN");
    assert!(cancelled["duration_ms"].as_f64().unwrap() >= 20.0);
}

#[observe]
async fn busy(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_are_counted_exactly() {
    telemetry();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            tokio::spawn(async move {
                for i in 0..500 {
                    busy(t * 1000 + i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let text = scrape();
    assert_eq!(calls(&text, "busy", "ok"), 4000.0);
    assert_eq!(sample(&text, "obs_function_duration_seconds_count", &[("function", "busy")]), Some(4000.0));
    assert_eq!(sample(&text, "obs_function_in_flight", &[("function", "busy")]), Some(0.0));
}

#[observe]
fn never_called() {}

#[test]
fn functions_appear_in_metrics_before_their_first_call() {
    telemetry();
    assert!(obs_runtime::catalog().iter().any(|s| s.name() == "never_called"));
    let text = scrape();
    for status in ["ok", "error", "panic", "cancelled"] {
        assert_eq!(calls(&text, "never_called", status), 0.0, "status {status}");
    }
    assert!(text.contains("# HELP obs_function_calls_total"));
    assert!(text.contains("# TYPE obs_function_duration_seconds histogram"));
    let _ = never_called;
}

#[derive(Debug)]
struct ConfigError {
    source: std::io::Error,
}
impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot load config")
    }
}
impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[observe]
fn load_config(path: &str) -> Result<(), ConfigError> {
    Err(ConfigError { source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("{path} is missing")) })
}

#[test]
fn errors_without_a_kind_use_the_type_name_and_log_their_source_chain() {
    let logs = &telemetry().1;
    assert!(load_config("app.toml").is_err());
    let text = scrape();
    assert_eq!(
        sample(&text, "obs_function_errors_total", &[("function", "load_config"), ("error", "ConfigError")]),
        Some(1.0)
    );
    let event = for_span(logs, "observe::load_config").into_iter().find(|l| l["event"] == "function.error").unwrap();
    assert_eq!(event["error"]["kind"], "ConfigError");
    assert_eq!(event["error"]["message"], "cannot load config");
    assert_eq!(event["error"]["chain"][0], "app.toml is missing");
    assert_eq!(event["path"], "app.toml");
}

#[observe]
async fn inner_step(x: u32) -> u32 {
    x + 1
}

#[observe]
async fn outer_job(x: u32) -> u32 {
    inner_step(x).await * 2
}

#[tokio::test]
async fn nested_calls_share_a_trace_and_log_lines_carry_it() {
    let logs = &telemetry().1;
    assert_eq!(outer_job(1).await, 4);
    let outer = for_span(logs, "observe::outer_job").pop().expect("outer event");
    let inner = for_span(logs, "observe::inner_step").pop().expect("inner event");
    assert_eq!(inner["trace_id"], outer["trace_id"]);
    assert_ne!(inner["span_id"], outer["span_id"]);
    // The inner line also carries the outer span's fields.
    assert_eq!(inner["x"], 1);
}

#[observe(skip(user))]
fn login(user: &str, password: &str, api_token: &str) -> bool {
    !user.is_empty() && password.len() + api_token.len() > 0
}

#[observe(level = "info", reveal(session_token), fields(attempt = 3))]
fn resume(session_token: &str) -> usize {
    session_token.len()
}

#[test]
fn credentials_are_redacted_unless_revealed() {
    let logs = &telemetry().1;
    assert!(login("ann", "hunter2", "abc"));
    assert_eq!(resume("tok-1"), 5);
    let line = for_span(logs, "observe::login").pop().unwrap();
    assert_eq!(line["password"], "[redacted]");
    assert_eq!(line["api_token"], "[redacted]");
    assert!(line.get("user").is_none(), "skipped arguments are not recorded");
    assert!(!serde_json::to_string(&logs.lines()).unwrap().contains("hunter2"));
    let line = for_span(logs, "observe::resume").pop().unwrap();
    assert_eq!(line["session_token"], "tok-1");
    assert_eq!(line["attempt"], 3);
    assert_eq!(line["level"], "INFO");
}

#[test]
fn a_second_init_is_an_error_value() {
    telemetry();
    let second = obs_runtime::builder().without_http().init();
    assert!(matches!(second, Err(obs_runtime::InitError::AlreadyInitialized)));
}

// ---- secrets that do not sit in a credential-named argument ----

#[derive(Debug)]
#[allow(dead_code)]
struct PaymentClient {
    api_key: String,
    region: &'static str,
}

#[derive(Debug)]
#[allow(dead_code)]
struct Order {
    id: u64,
    card: Card,
}

#[derive(Debug)]
#[allow(dead_code)]
struct Card {
    last4: &'static str,
    cvv_secret: String,
}

#[derive(Debug)]
struct Declined(String);
impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "declined by {}", self.0)
    }
}
impl std::error::Error for Declined {}

const CANARY: &str = "CANARY-9f3b";

impl PaymentClient {
    #[observe(level = "info")]
    fn refund(&self, order: &Order, callback: &str, database_url: &str, dsn: String) -> Result<u64, Declined> {
        let _ = (database_url, dsn);
        Err(Declined(format!("https://gateway.example/refund?key={CANARY}&order={}", order.id)))
    }

    #[observe(level = "info", reveal(self), fields(auth = CANARY, region = self.region))]
    fn describe(&self) -> usize {
        self.region.len()
    }
}

#[test]
fn secrets_inside_self_structs_urls_and_error_messages_are_redacted() {
    let logs = &telemetry().1;
    let client = PaymentClient { api_key: format!("sk_live_{CANARY}"), region: "eu" };
    let order = Order { id: 42, card: Card { last4: "4242", cvv_secret: CANARY.to_owned() } };
    let callback = format!("https://shop:{CANARY}@hooks.example/done?sig={CANARY}");
    let dsn = format!("postgres://app:{CANARY}@db/shop");
    assert!(client.refund(&order, &callback, &dsn, dsn.clone()).is_err());
    assert_eq!(client.describe(), 2);

    let text = serde_json::to_string(&logs.lines()).unwrap();
    assert!(!text.contains(CANARY), "a secret reached a log line: {text}");

    let line = for_span(logs, "observe::refund").pop().expect("refund line");
    assert!(line.get("self").is_none(), "self is not recorded unless revealed: {line}");
    assert_eq!(line["order"], "Order { id: 42, card: Card { last4: \"4242\", cvv_secret: \"[redacted]\" } }");
    assert_eq!(line["callback"], "https://[redacted]@hooks.example/done?sig=[redacted]");
    assert_eq!(line["database_url"], "[redacted]");
    assert_eq!(line["dsn"], "[redacted]");
    assert_eq!(line["error"]["message"], "declined by https://gateway.example/refund?key=[redacted]&order=[redacted]");

    let line = for_span(logs, "observe::describe").pop().expect("describe line");
    assert_eq!(line["self"], "PaymentClient { api_key: \"[redacted]\", region: \"eu\" }");
    assert_eq!(line["auth"], "[redacted]", "fields(...) named like credentials are redacted too");
    assert_eq!(line["region"], "eu");
}

/// Not `Debug`: compiles only because every parameter below is redacted by name.
struct Opaque;

#[observe(level = "info")]
#[allow(clippy::too_many_arguments)]
fn every_credential_word(
    password: Opaque,
    passwd: Opaque,
    passphrase: Opaque,
    secret: Opaque,
    token: Opaque,
    api_key: Opaque,
    apikey: Opaque,
    access_key: Opaque,
    accesskey: Opaque,
    private_key: Opaque,
    privatekey: Opaque,
    credential: Opaque,
    authorization: Opaque,
    cookie: Opaque,
    dsn: Opaque,
    database_url: Opaque,
    db_url: Opaque,
    connection_string: Opaque,
    conn_str: Opaque,
    session_key: Opaque,
    signature: Opaque,
    auth: Opaque,
) {
    let _ = (password, passwd, passphrase, secret, token, api_key, apikey, access_key, accesskey, private_key);
    let _ = (privatekey, credential, authorization, cookie, dsn, database_url, db_url, connection_string, conn_str);
    let _ = (session_key, signature, auth);
}

#[test]
fn the_macro_and_the_runtime_redact_the_same_names() {
    let logs = &telemetry().1;
    let o = || Opaque;
    every_credential_word(
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
        o(),
    );
    let line = for_span(logs, "observe::every_credential_word").pop().expect("a line");
    // The runtime's list (which filters fields inside values) is exactly the list above.
    let words = obs_runtime::log::redact::CREDENTIAL_WORDS;
    assert_eq!(words.len() + 1, 22, "a word was added to one list only: {words:?}");
    for word in words.iter().copied().chain(["auth"]) {
        assert_eq!(line[word], "[redacted]", "{word}");
        assert!(obs_runtime::log::redact::is_credential_name(word));
    }
}

struct Ledger {
    secret_key: String,
}

#[observe]
impl Ledger {
    fn refund(&self, order: u64) -> Result<u64, MathError> {
        if order == 0 { Err(MathError::DivisionByZero) } else { Ok(order) }
    }

    #[observe(skip_method)]
    fn key_len(&self) -> usize {
        self.secret_key.len()
    }
}

#[test]
fn every_method_of_an_observed_impl_block_is_measured_as_type_method() {
    let (_, logs) = telemetry();
    let ledger = Ledger { secret_key: "sk_live_canary_ledger".into() };
    assert_eq!(ledger.refund(3).unwrap(), 3);
    assert!(ledger.refund(0).is_err());
    assert_eq!(ledger.key_len(), 21);
    let text = scrape();
    assert_eq!(calls(&text, "Ledger::refund", "ok"), 1.0, "{text}");
    assert_eq!(calls(&text, "Ledger::refund", "error"), 1.0);
    assert!(!text.contains("key_len"), "a skipped method is not instrumented");
    let lines = for_span(logs, "Ledger::refund");
    let failed = lines.iter().find(|l| l["event"] == "function.error").expect("the failed call's line");
    assert_eq!(failed["order"], 0, "{failed}");
    assert!(!logs.text().contains("sk_live_canary_ledger"), "self is not recorded");
}

#[test]
fn the_server_lists_its_endpoints_at_its_root_and_says_where_it_is_when_it_starts() {
    let (guard, logs) = telemetry();
    let addr = guard.http_addr().unwrap();
    let (status, body) = http_get(addr, "/").unwrap();
    assert_eq!(status, 200);
    for path in ["/metrics", "/health", "/health/ready", "/obs/workflows", "/obs/rules.yml", "/obs/hotspots"] {
        assert!(body.lines().any(|l| l.trim() == path), "{path} is listed:\n{body}");
    }
    let start = logs.lines().into_iter().find(|l| l["event"] == "obs.start").expect("the start line");
    assert_eq!(start["level"], "INFO");
    let message = start["message"].as_str().unwrap();
    assert!(
        message.starts_with("obs: serving /metrics") && message.ends_with(&format!("on http://{addr}")),
        "{message}"
    );
}
