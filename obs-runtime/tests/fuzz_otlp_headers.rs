//! Fuzzing (with proptest: cargo-fuzz needs a nightly toolchain) of the
//! parsers of `OTEL_EXPORTER_OTLP_HEADERS` (and the per-signal `..._HEADERS`),
//! `OTEL_RESOURCE_ATTRIBUTES`, the endpoint variables and the builder's
//! `otlp_header`/`otlp_endpoint`, through the public path that parses them
//! (`init`), with a canary secret in every value, every malformed member
//! (`Authorization: Bearer <canary>` without `=`, bad `%` escapes, escapes that
//! decode to control bytes or to invalid UTF-8, keys that are not header
//! names) and in URL userinfo and query values. The canary never appears in
//! an `InitError` (`Display` or `Debug`), a warning, a log line, or any other
//! output of the process, and nothing panics.
//!
//! `init` runs once per process, so the cases run in child processes (this
//! binary re-invoked with `OBS_FUZZ_CHILD`):
//! - `one_process_per_case`: each case a fresh process that runs `init` with
//!   export to a port nobody listens on, logs, exports (and fails) and stops:
//!   every warning and export error of that case is seen.
//! - `many_cases_in_one_process`: one process runs every case through
//!   `init`'s settings resolution, which happens before `init` finds it
//!   already ran: every `InitError` is checked, but each variable is warned
//!   about only once per process, so only the first warning per variable is.
//!
//! Long runs: `PROPTEST_CASES=2000 cargo test -p obs-runtime --release --test fuzz_otlp_headers -- --nocapture`
//! (`PROPTEST_CASES` for the per-process target; the in-process one runs 100 times as many,
//! or `FUZZ_IN_PROCESS_CASES`).

mod fuzz_support;

use std::process::Command;
use std::time::{Duration, Instant};

use fuzz_support::{Counting, Tally, cases, peak_above, reset_peak};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[global_allocator]
static ALLOC: Counting = Counting;

/// Put into every secret value; must never come back out.
const CANARY: &str = "QX7CANARY9Z";

/// Variables a case may set.
const HEADER_VARS: &[&str] =
    &["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"];
const ALL_VARS: &[&str] = &[
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_LOGS_EXPORTER",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
];

fn junk() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            ' ', '%', '=', ':', ';', '"', '\t', '\u{7f}', 'é', '0', 'f', 'z', '@', '/', '?', '&',
        ]),
        0..6,
    )
    .prop_map(|c| c.into_iter().collect())
}

/// One member of a `key=value,...` list, with the canary where a secret goes.
fn member() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec!["x-api-key", "authorization", "Authorization", "X-Tenant", "api-key", "k"]);
    let shape = 0..14u8;
    (key, shape, junk(), junk()).prop_map(|(key, shape, a, b)| match shape {
        0 => format!("{key}={CANARY}"),
        1 => format!("{key}=Bearer%20{CANARY}{a}"),
        // No `=`: the whole member is the secret.
        2 => format!("Authorization: Bearer {CANARY}"),
        3 => format!("{a}{CANARY}{b}"),
        // Bad escapes.
        4 => format!("{key}={CANARY}%zz"),
        5 => format!("{key}=%{CANARY}"),
        6 => format!("{key}={CANARY}%4"),
        // Escapes that decode to a control byte (not a header value) or to invalid UTF-8.
        7 => format!("{key}={CANARY}%0a{a}"),
        8 => format!("{key}=%ff{CANARY}"),
        9 => format!("{key}={CANARY}%00"),
        // Keys that are not header names, carrying the secret.
        10 => format!("Bearer {CANARY}={a}"),
        11 => format!("{key}:{CANARY}={b}"),
        12 => format!("={CANARY}"),
        _ => format!(" {key} = {a}{CANARY}{b} "),
    })
}

fn list() -> impl Strategy<Value = String> {
    (prop::collection::vec(member(), 1..6), prop::sample::select(vec![",", ", ", ",,", " ,"]))
        .prop_map(|(members, sep)| members.join(sep))
}

fn endpoint() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        format!("http://user:{CANARY}@127.0.0.1:9"),
        format!("http://{CANARY}@127.0.0.1:9/"),
        format!("http://127.0.0.1:9/?token={CANARY}"),
        format!("http://127.0.0.1:9/?a=1&key={CANARY}#frag{CANARY}"),
        format!("https://user:{CANARY}@collector:4318/?token={CANARY}"),
        format!("http://user:{CANARY}@127.0.0.1:9 space"),
        format!("user:{CANARY}@127.0.0.1:9"),
        format!("http://user:{CANARY}@[::1"),
        format!("ftp://user:{CANARY}@host/"),
        "http://127.0.0.1:9".to_owned(),
    ])
}

/// One case: the variables to set, and what the code side gives the builder.
#[derive(Debug, Clone)]
struct Case {
    vars: Vec<(&'static str, String)>,
    builder_endpoint: Option<String>,
    builder_header: Option<(String, String)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((prop::sample::select(HEADER_VARS.to_vec()), list()), 1..3),
        prop::option::of(list()),
        prop::option::of(endpoint()),
        prop::option::of(endpoint()),
        prop::option::of(endpoint()),
        any::<bool>(),
        prop::option::weighted(0.2, endpoint()),
        prop::option::weighted(
            0.2,
            (
                prop::sample::select(vec!["authorization".to_owned(), format!("x-{CANARY} key"), "x-k".to_owned()]),
                (junk(), junk(), any::<bool>())
                    .prop_map(|(a, b, nl)| format!("Bearer {a}{CANARY}{b}{}", if nl { "\n" } else { "" })),
            ),
        ),
    )
        .prop_map(|(headers, resource, general, traces, logs, export_logs, builder_endpoint, builder_header)| {
            let mut vars: Vec<(&'static str, String)> = headers;
            if let Some(r) = resource {
                vars.push(("OTEL_RESOURCE_ATTRIBUTES", r));
            }
            for (name, url) in [
                ("OTEL_EXPORTER_OTLP_ENDPOINT", general),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs),
            ] {
                if let Some(url) = url {
                    vars.push((name, url));
                }
            }
            if export_logs {
                vars.push(("OTEL_LOGS_EXPORTER", "otlp".to_owned()));
            }
            Case { vars, builder_endpoint, builder_header }
        })
}

/// `ok` or the error, both ways users see it.
fn init_case(case: &Case, full: bool) -> String {
    let mut builder = obs_runtime::builder().without_http().otlp_shutdown_timeout(Duration::from_millis(300));
    if full {
        builder = builder
            .log_writer(std::io::stdout)
            .otlp_batch_delay(Duration::from_millis(10))
            .otlp_error_log_interval(Duration::from_millis(1));
    } else {
        builder = builder.install_subscriber(false).prometheus(false);
    }
    if let Some(url) = &case.builder_endpoint {
        builder = builder.otlp_endpoint(url.clone());
    }
    if let Some((k, v)) = &case.builder_header {
        builder = builder.otlp_header(k.clone(), v.clone());
    }
    match builder.init() {
        Ok(guard) => {
            if full {
                let _ = observed(7);
                tracing::info_span!("work").in_scope(|| tracing::warn!("done"));
                let ms = std::env::var("OBS_FUZZ_SLEEP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
                std::thread::sleep(Duration::from_millis(ms));
                drop(guard);
            } else {
                // The first case's init installed (almost) nothing; keep it for the process.
                std::mem::forget(guard);
            }
            "ok".to_owned()
        }
        Err(e) => format!("err: {e} / {e:?}"),
    }
}

#[obs_runtime::observe(level = "info")]
fn observed(order: u64) -> Result<u64, std::io::Error> {
    Err(std::io::Error::other(format!("order {order} failed")))
}

fn set_vars(case: &Case) {
    for name in ALL_VARS {
        // SAFETY: the child runs one test on one thread; the only other threads are obs's
        // export threads of an earlier case, which read no environment.
        unsafe { std::env::remove_var(name) };
    }
    for (name, value) in &case.vars {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
}

/// The child side: does nothing unless `OBS_FUZZ_CHILD` says what to run.
#[test]
fn child() {
    let Ok(mode) = std::env::var("OBS_FUZZ_CHILD") else { return };
    match mode.as_str() {
        // One case, given as JSON-free lines `NAME=VALUE` in OBS_FUZZ_CASE (the vars are set
        // by the parent already); the builder side comes in OBS_FUZZ_BUILDER_*.
        "one" => {
            let case = Case {
                vars: Vec::new(),
                builder_endpoint: std::env::var("OBS_FUZZ_BUILDER_ENDPOINT").ok(),
                builder_header: std::env::var("OBS_FUZZ_BUILDER_HEADER_NAME")
                    .ok()
                    .zip(std::env::var("OBS_FUZZ_BUILDER_HEADER_VALUE").ok()),
            };
            println!("OUTCOME: {}", init_case(&case, true));
        }
        "many" => {
            let n = std::env::var("OBS_FUZZ_MANY").ok().and_then(|v| v.parse().ok()).unwrap_or(1000u32);
            let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::default() });
            let strategy = case();
            let start = Instant::now();
            let (mut ok, mut err, mut config) = (0u64, 0u64, 0u64);
            let mut tally = Tally::default();
            for _ in 0..n {
                let case = strategy.new_tree(&mut runner).unwrap().current();
                set_vars(&case);
                let input = case.vars.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
                    + case.builder_endpoint.as_ref().map_or(0, String::len)
                    + case.builder_header.as_ref().map_or(0, |(k, v)| k.len() + v.len());
                let base = reset_peak();
                let outcome = init_case(&case, false);
                let peak = peak_above(base);
                // The first case ran `init` itself; the others resolve the settings only.
                if ok + err > 0 {
                    tally.add(input, peak);
                }
                if outcome.contains(CANARY) {
                    println!("LEAK: {case:?} -> {outcome}");
                }
                if outcome == "ok" {
                    ok += 1
                } else {
                    err += 1
                }
                config += u64::from(outcome.contains("invalid obs configuration"));
                if outcome.contains("panicked") {
                    println!("PANIC: {outcome}");
                }
            }
            tally.report("ALLOC: settings resolution", start.elapsed());
            println!(
                "MANY: {n} cases in {:.2} s ({ok} ok, {err} errors of which {config} configuration errors, the rest \
                 `already initialized` after the settings were resolved)",
                start.elapsed().as_secs_f64()
            );
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn child_command(mode: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--nocapture", "--test-threads=1"]).env("OBS_FUZZ_CHILD", mode);
    for name in ALL_VARS.iter().chain(&["OBS_HTTP_ADDR", "OTEL_SERVICE_NAME", "RUST_LOG"]) {
        cmd.env_remove(name);
    }
    cmd
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn output(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn one_process_per_case() {
    let mut runner = TestRunner::new(Config { cases: cases(12), failure_persistence: None, ..Config::default() });
    let start = Instant::now();
    let counts = std::cell::Cell::new((0u64, 0u64, 0u64));
    let result = runner.run(&case(), |case| {
        let mut cmd = child_command("one");
        for (name, value) in &case.vars {
            cmd.env(name, value);
        }
        if let Some(url) = &case.builder_endpoint {
            cmd.env("OBS_FUZZ_BUILDER_ENDPOINT", url);
        }
        if let Some((k, v)) = &case.builder_header {
            cmd.env("OBS_FUZZ_BUILDER_HEADER_NAME", k).env("OBS_FUZZ_BUILDER_HEADER_VALUE", v);
        }
        let out = output(cmd);
        let (mut n, mut warned, mut errors) = counts.get();
        n += 1;
        warned += u64::from(out.stderr.contains("obs: WARN"));
        errors += u64::from(out.stdout.contains("OUTCOME: err"));
        counts.set((n, warned, errors));
        prop_assert!(out.ok && !out.stderr.contains("panicked"), "the child failed: {}{}", out.stdout, out.stderr);
        prop_assert!(out.stdout.contains("OUTCOME: "), "the child did not report: {}", out.stdout);
        for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if let Some(line) = text.lines().find(|l| l.contains(CANARY)) {
                return Err(TestCaseError::fail(format!("the canary is on {stream}: {line}")));
            }
        }
        Ok(())
    });
    let (n, warned, errors) = counts.get();
    println!(
        "otlp headers, one process per case: {n} cases in {:.2} s, {warned} with a warning, {errors} init errors, \
         0 panics, 0 canary leaks unless reported below",
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn many_cases_in_one_process() {
    let n = std::env::var("FUZZ_IN_PROCESS_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases(25) * 100);
    let mut cmd = child_command("many");
    cmd.env("OBS_FUZZ_MANY", n.to_string());
    let start = Instant::now();
    let out = output(cmd);
    let summary = out.stdout.lines().find_map(|l| l.split_once("MANY: ").map(|(_, s)| s.to_owned()));
    if let Some(alloc) = out.stdout.lines().find_map(|l| l.split_once("ALLOC: ").map(|(_, s)| s.to_owned())) {
        println!("otlp headers, in one process: {alloc}");
    }
    println!(
        "otlp headers, in one process: {} (child ran {:.2} s)",
        summary.as_deref().unwrap_or("no summary"),
        start.elapsed().as_secs_f64()
    );
    assert!(out.ok && !out.stderr.contains("panicked"), "the child failed: {}{}", out.stdout, out.stderr);
    assert!(summary.is_some(), "the child did not report: {}", out.stdout);
    let leaks: Vec<&str> = out.stdout.lines().chain(out.stderr.lines()).filter(|l| l.contains(CANARY)).collect();
    assert!(leaks.is_empty(), "{} lines carry the canary, first: {}", leaks.len(), leaks[0]);
}
