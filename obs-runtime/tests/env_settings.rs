//! What `init` does with the environment it is given: a bad `OTEL_*` or
//! `OBS_*` value is warned about on stderr (naming the variable, never the
//! value) and ignored, never an error, a panic or a leaked secret; mistakes
//! in code stay errors; a taken default port is a warning.
//!
//! `init` runs once per process, so every case runs in a child process: this
//! test binary re-invoked with `OBS_TEST_CHILD` naming the scenario (the test
//! `child` does nothing without it).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::Command;
use std::time::{Duration, Instant};

/// Put into values that must never come back out.
const CANARY: &str = "QX7CANARY9Z";

/// Every variable obs reads, with a valid value.
const VARIABLES: &[(&str, &str)] = &[
    ("OTEL_SDK_DISABLED", "false"),
    ("OTEL_SERVICE_NAME", "svc"),
    ("OTEL_RESOURCE_ATTRIBUTES", "team=QX7CANARY9Z"),
    ("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
    ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
    ("OTEL_TRACES_EXPORTER", "otlp"),
    ("OTEL_LOGS_EXPORTER", "none"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces"),
    ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://127.0.0.1:9/v1/logs"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=QX7CANARY9Z"),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=QX7CANARY9Z"),
    ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-api-key=QX7CANARY9Z"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "5000"),
    ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "5000"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
    ("OTEL_EXPORTER_OTLP_INSECURE", "false"),
    ("OTEL_METRICS_EXPORTER", "otlp"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "60000"),
    ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative"),
    ("OBS_HTTP_ADDR", "127.0.0.1:0"),
    ("OBS_HEALTH_TOKEN", "QX7CANARY9Z"),
    ("RUST_LOG", "info"),
];

const KINDS: &[&str] = &["empty", "upper", "list", "1mb", "non-utf8"];

/// The value of `kind` for a variable whose valid value is `valid`.
fn value(kind: &str, valid: &str) -> OsString {
    match kind {
        "empty" => OsString::new(),
        "upper" => valid.to_uppercase().into(),
        // A valid member, then one that is not (a secret-looking one).
        "list" => format!("{valid},{CANARY}:{CANARY}@x").into(),
        "1mb" => CANARY.repeat((1 << 20) / CANARY.len()).into(),
        "non-utf8" => {
            use std::os::unix::ffi::OsStringExt;
            let mut bytes = vec![0xff, 0xfe];
            bytes.extend_from_slice(CANARY.as_bytes());
            OsString::from_vec(bytes)
        }
        other => panic!("unknown kind {other}"),
    }
}

/// What follows `key` in a line of the child's output (the first line also
/// carries the test harness's `test child ... `).
fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_once(key).map(|(_, rest)| rest)
}

/// What a child reported.
struct Outcome {
    /// `ok`, `ok (no http)`, or `err: <message>`.
    init: String,
    exit_ok: bool,
    stderr: String,
    stdout: String,
}

impl Outcome {
    fn panicked(&self) -> bool {
        !self.exit_ok || self.stderr.contains("panicked")
    }
    fn leaked(&self) -> bool {
        self.stderr.contains(CANARY) || self.stdout.contains(CANARY)
    }
    /// A leak other than the service name in log lines (where it belongs).
    fn leaked_except_service(&self, name: &str) -> bool {
        if name == "OTEL_SERVICE_NAME" {
            return self.stderr.contains(CANARY);
        }
        self.leaked()
    }
    fn warned_about(&self, name: &str) -> bool {
        self.stderr.lines().any(|l| l.starts_with("obs: WARN") && l.contains(name))
    }
}

/// Runs `scenario` in a child with `env` set as given.
fn run(scenario: &str, env: &[(&str, &str)]) -> Outcome {
    let mut cmd = child_command(scenario);
    for (k, v) in env {
        cmd.env(k, v);
    }
    finish(cmd)
}

fn child_command(scenario: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--nocapture", "--test-threads=1"]).env("OBS_TEST_CHILD", scenario);
    for (name, _) in VARIABLES {
        cmd.env_remove(name);
    }
    cmd.env("OBS_HTTP_ADDR", "127.0.0.1:0");
    cmd
}

fn finish(mut cmd: Command) -> Outcome {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let init = stdout
        .lines()
        .find_map(|l| after(l, "OUTCOME: "))
        .unwrap_or("no outcome (child did not get to report)")
        .to_owned();
    Outcome { init, exit_ok: out.status.success(), stderr: String::from_utf8_lossy(&out.stderr).into_owned(), stdout }
}

/// The child side: does nothing unless `OBS_TEST_CHILD` names a scenario.
#[test]
fn child() {
    let Ok(scenario) = std::env::var("OBS_TEST_CHILD") else { return };
    // Values too large for `exec` (1 MB) or not UTF-8 are set in here.
    if let (Some(name), Some(kind)) = (std::env::var_os("OBS_TEST_VAR"), std::env::var("OBS_TEST_KIND").ok()) {
        let name = name.into_string().unwrap();
        let valid = VARIABLES.iter().find(|(n, _)| *n == name).unwrap().1;
        // SAFETY: this process runs this one test on one thread, before `init` starts any.
        unsafe { std::env::set_var(&name, value(&kind, valid)) };
        if name == "OTEL_TRACES_SAMPLER_ARG" {
            // SAFETY: as above.
            unsafe { std::env::set_var("OTEL_TRACES_SAMPLER", "traceidratio") };
        }
    }
    // Log lines go to stdout, where the parent looks for leaks too.
    let quiet = || obs_runtime::builder().log_writer(std::io::stdout).otlp_shutdown_timeout(Duration::from_millis(300));
    let report = |result: Result<obs_runtime::ObsGuard, obs_runtime::InitError>| match result {
        Ok(guard) => {
            println!("OUTCOME: ok{}", if guard.http_addr().is_none() { " (no http)" } else { "" });
            Some(guard)
        }
        Err(e) => {
            println!("OUTCOME: err: {e}");
            println!("DEBUG: {e:?}");
            None
        }
    };
    match scenario.as_str() {
        "init" => {
            let guard = report(quiet().init());
            // Something to export (and fail to: nothing listens on port 9), and to log.
            tracing::info_span!("work").in_scope(|| tracing::info!("done"));
            drop(guard);
        }
        "builder-secret-endpoint" => {
            drop(report(quiet().otlp_endpoint(format!("ftp://user:{CANARY}@collector:4318/?token={CANARY}")).init()))
        }
        "builder-secret-header" => drop(report(
            quiet()
                .otlp_endpoint("http://127.0.0.1:9")
                .otlp_header("authorization", format!("Bearer {CANARY}\n"))
                .init(),
        )),
        "builder-bad-buckets" => drop(report(quiet().buckets(&[0.1, f64::NAN, 1.0]).init())),
        "builder-infinite-buckets" => drop(report(quiet().buckets(&[0.1, 1.0, f64::INFINITY]).init())),
        "default-port-taken" => {
            // Taken by this process (or by someone else already: the same case).
            let _taken = std::net::TcpListener::bind("127.0.0.1:9464");
            // SAFETY: as above.
            unsafe { std::env::remove_var("OBS_HTTP_ADDR") };
            let guard = report(quiet().init());
            if let Some(guard) = &guard {
                println!("HTTP: {:?}", guard.http_addr());
            }
        }
        "explicit-port-taken" => {
            let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = taken.local_addr().unwrap();
            println!("TAKEN: {addr}");
            // Both fail before anything global changes, so both run in this process.
            drop(report(quiet().http_addr(addr).init()));
            // SAFETY: as above.
            unsafe { std::env::set_var("OBS_HTTP_ADDR", addr.to_string()) };
            drop(report(quiet().init()));
        }
        "export-fails" => {
            let guard = report(quiet().otlp_batch_delay(Duration::from_millis(10)).init());
            tracing::info_span!("work").in_scope(|| tracing::info!("done"));
            std::thread::sleep(Duration::from_millis(1500));
            drop(guard);
        }
        "idle-cpu" => {
            let guard = report(
                quiet().otlp_endpoint("http://127.0.0.1:9").otlp_batch_delay(Duration::ZERO).without_http().init(),
            );
            let before = cpu_time();
            std::thread::sleep(Duration::from_secs(1));
            println!("CPU_MS: {}", (cpu_time() - before).as_millis());
            drop(guard);
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// This process's CPU time (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (1-based, counting pid and comm).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

#[test]
fn bad_environment_values_are_warned_about_and_ignored() {
    // Each was a hard `init` error before.
    for (name, value) in [
        ("OTEL_SDK_DISABLED", "maybe"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "half"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten seconds"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign"),
        ("OTEL_RESOURCE_ATTRIBUTES", "a=%zz"),
        ("OTEL_TRACES_EXPORTER", "otlp,console"),
        ("OTEL_LOGS_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
        ("OBS_HTTP_ADDR", "localhost"),
        ("RUST_LOG", "a=b=c"),
    ] {
        let mut env = vec![(name, value)];
        if name == "OTEL_TRACES_SAMPLER_ARG" {
            env.push(("OTEL_TRACES_SAMPLER", "traceidratio"));
        }
        let out = run("init", &env);
        assert!(out.init.starts_with("ok"), "{name}={value}: {}\n{}", out.init, out.stderr);
        assert!(out.warned_about(name), "{name}={value}: no warning naming it:\n{}", out.stderr);
        let warnings = out.stderr.lines().filter(|l| l.starts_with("obs: WARN ignoring")).count();
        assert_eq!(warnings, 1, "{name}={value}: one warning line:\n{}", out.stderr);
        assert!(!out.stderr.contains(value), "{name}={value}: the value is shown:\n{}", out.stderr);
    }
}

#[test]
fn enum_values_are_case_insensitive_and_lists_take_what_is_supported() {
    for (name, value) in [
        ("OTEL_TRACES_SAMPLER", "ALWAYS_OFF"),
        ("OTEL_TRACES_EXPORTER", "OTLP"),
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("OTEL_SDK_DISABLED", "False"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/PROTOBUF"),
    ] {
        let out = run("init", &[(name, value), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")]);
        assert!(out.init.starts_with("ok"), "{name}={value}: {}", out.init);
        assert!(!out.stderr.contains("obs: WARN"), "{name}={value} is valid:\n{}", out.stderr);
    }
    let out = run("init", &[("OTEL_TRACES_EXPORTER", "otlp,console")]);
    assert!(out.stderr.contains("member 2 of 2") && out.stderr.contains("using otlp"), "{}", out.stderr);
}

#[test]
fn secrets_never_appear_in_warnings_or_errors() {
    for (name, value) in [
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("x-a=1,Authorization: Bearer {CANARY}")),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", format!("authorization=Bearer%z{CANARY}")),
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("authorization=Bearer {CANARY}\u{7f}")),
        // No scheme: not an OTLP/HTTP endpoint.
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("user:{CANARY}@collector:4318/?token={CANARY}")),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", format!("ftp://user:{CANARY}@collector/")),
        ("OTEL_RESOURCE_ATTRIBUTES", format!("k={CANARY}%")),
    ] {
        let out = run("init", &[(name, &value)]);
        assert!(out.init.starts_with("ok"), "{name}: {}", out.init);
        assert!(out.warned_about(name), "{name}: {}", out.stderr);
        assert!(!out.leaked(), "{name}: the secret is shown:\n{}", out.stderr);
    }
    let out = run("init", &[("OTEL_EXPORTER_OTLP_HEADERS", &format!("x-a=1,Authorization: Bearer {CANARY}"))]);
    assert!(out.stderr.contains("member 2 of 2 is not key=value"), "{}", out.stderr);
    // Mistakes in code are errors, and say what is wrong without the secret (Display and Debug).
    for scenario in ["builder-secret-endpoint", "builder-secret-header"] {
        let out = run(scenario, &[]);
        assert!(out.init.starts_with("err: invalid obs configuration"), "{scenario}: {}", out.init);
        assert!(!out.leaked(), "{scenario}: the secret is shown:\n{}", out.stdout);
    }
    // A valid endpoint with userinfo and a token: failed exports are logged without them.
    let endpoint = format!("http://user:{CANARY}@127.0.0.1:9/?token={CANARY}");
    let out = run("export-fails", &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    assert!(out.stdout.contains("exporter.error"), "{}", out.stdout);
    assert!(!out.leaked(), "the secret is shown:\n{}{}", out.stdout, out.stderr);
    let out = run("builder-secret-endpoint", &[]);
    assert!(out.init.contains("https://") && out.init.contains("<redacted>@collector:4318"), "{}", out.init);
}

#[test]
fn init_error_debug_is_the_readable_message() {
    let out = run("builder-bad-buckets", &[]);
    let debug = out.stdout.lines().find_map(|l| after(l, "DEBUG: ")).unwrap();
    assert_eq!(format!("err: {debug}"), out.init);
    assert!(debug.starts_with("invalid obs configuration: histogram buckets must be finite"), "{debug}");
    let out = run("builder-infinite-buckets", &[]);
    assert!(out.init.contains("must be finite"), "{}", out.init);
}

#[test]
fn a_taken_default_port_is_a_warning_and_a_taken_chosen_one_an_error() {
    let out = run("default-port-taken", &[]);
    assert_eq!(out.init, "ok (no http)", "{}", out.stderr);
    assert!(out.stdout.contains("HTTP: None"), "{}", out.stdout);
    let warning = out.stderr.lines().find(|l| l.starts_with("obs: WARN")).unwrap_or_default();
    for part in ["127.0.0.1:9464", "OBS_HTTP_ADDR=127.0.0.1:0", "OBS_HTTP_ADDR=off"] {
        assert!(warning.contains(part), "{part} in {warning}");
    }
    let out = run("explicit-port-taken", &[]);
    let taken = out.stdout.lines().find_map(|l| after(l, "TAKEN: ")).unwrap().to_owned();
    let errors: Vec<&str> = out.stdout.lines().filter_map(|l| after(l, "OUTCOME: ")).collect();
    assert_eq!(errors.len(), 2, "{}", out.stdout);
    for error in errors {
        assert!(error.starts_with(&format!("err: cannot serve obs endpoints on {taken}")), "{error}");
    }
}

#[test]
fn a_zero_batch_delay_does_not_spin() {
    let out = run("idle-cpu", &[]);
    assert!(out.init.starts_with("ok"), "{}", out.init);
    let cpu: u64 = out.stdout.lines().find_map(|l| after(l, "CPU_MS: ")).unwrap().parse().unwrap();
    assert!(cpu < 100, "an idle second took {cpu} ms of CPU");
}

/// Every variable, one at a time, set to each kind of value: `init` succeeds,
/// nothing panics, no value comes back out. Prints the table of outcomes.
#[test]
fn environment_matrix() {
    let started = Instant::now();
    let mut table = BTreeMap::new();
    let mut failures = Vec::new();
    for (name, _) in VARIABLES {
        for kind in KINDS {
            let mut cmd = child_command("init");
            cmd.env("OBS_TEST_VAR", name).env("OBS_TEST_KIND", kind);
            let out = finish(cmd);
            let warned = if out.warned_about(name) { "warned" } else { "-" };
            let cell = format!("{} / {warned}", out.init);
            let leaked = out.leaked_except_service(name);
            if !out.init.starts_with("ok") || out.panicked() || leaked {
                failures.push(format!(
                    "{name}={kind}: {cell} panicked={} leaked={leaked}\n{}\n{}",
                    out.panicked(),
                    out.stderr,
                    out.stdout.chars().take(2000).collect::<String>()
                ));
            }
            table.insert((*name, *kind), cell);
        }
    }
    println!("\n| variable | {} |", KINDS.join(" | "));
    println!("|---|{}", "---|".repeat(KINDS.len()));
    for (name, _) in VARIABLES {
        let cells: Vec<&str> = KINDS.iter().map(|k| table[&(*name, *k)].as_str()).collect();
        println!("| `{name}` | {} |", cells.join(" | "));
    }
    println!("{} cases in {:?}", table.len(), started.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
