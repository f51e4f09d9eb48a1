//! The standard process metrics on `/metrics`: present under the names every
//! Prometheus client gives them (whatever obs's namespace), plausible against
//! what the kernel says of this process, read anew at each scrape, and
//! accepted by `promtool check metrics` together with everything else.

mod support;

use std::time::{Duration, Instant};

use obs_runtime::observe;
use support::{http_get, promtool_check, sample};

#[observe]
fn spin(until: Instant) -> u64 {
    let mut n = 0u64;
    while Instant::now() < until {
        n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    n
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn vm_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    let kib: f64 = line.split_whitespace().nth(1).expect("VmRSS value").parse().expect("a number");
    kib * 1024.0
}

fn value(text: &str, name: &str) -> f64 {
    sample(text, name, &[]).unwrap_or_else(|| panic!("{name} is not on /metrics:\n{text}"))
}

#[test]
fn process_metrics_are_present_plausible_and_accepted_by_promtool() {
    let guard = obs_runtime::builder()
        .service_name("process-test")
        .namespace("shop")
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .init()
        .expect("init");
    let http = guard.http_addr().expect("http server");
    let scrape = || {
        let (status, text) = http_get(http, "/metrics").expect("scrape");
        assert_eq!(status, 200);
        text
    };

    let first = scrape();
    let rss_now = vm_rss();
    let rss = value(&first, "process_resident_memory_bytes");
    assert!((rss - rss_now).abs() <= rss_now * 0.10, "resident memory {rss} vs VmRSS {rss_now}");
    assert!(value(&first, "process_virtual_memory_bytes") >= rss, "virtual memory below resident memory");
    assert!(value(&first, "process_open_fds") >= 3.0, "stdin, stdout, stderr at least");
    assert!(value(&first, "process_max_fds") >= value(&first, "process_open_fds"));
    // The test thread, the HTTP server, the log writer and the upkeep thread at least.
    assert!(value(&first, "process_threads") >= 3.0);
    let started = value(&first, "process_start_time_seconds");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(started <= now + 1.0 && started > now - 3600.0, "started at {started}, now {now}");
    assert!(first.contains("# TYPE process_cpu_seconds_total counter\n"), "{first}");
    assert!(first.contains("# TYPE process_resident_memory_bytes gauge\n"), "{first}");
    assert!(!first.contains("shop_process_"), "the process families keep their standard names");

    let cpu_before = value(&first, "process_cpu_seconds_total");
    spin(Instant::now() + Duration::from_millis(600));
    let second = scrape();
    let cpu_after = value(&second, "process_cpu_seconds_total");
    assert!(cpu_after - cpu_before >= 0.2, "CPU seconds went from {cpu_before} to {cpu_after} over a 600 ms busy loop");

    // The whole scrape (function families, runtime families, process families) is valid.
    promtool_check(&second);
}
