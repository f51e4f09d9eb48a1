//! The standard process metrics on `/metrics`: present under the names every
//! Prometheus client gives them (whatever obs's namespace), plausible against
//! what the kernel says of this process, read anew at each scrape, and
//! accepted by `promtool check metrics` together with everything else.

mod support;

use std::time::{Duration, Instant};

use obs_runtime::observe;
use support::{http_get, promtool_check, sample};

/// CPU seconds (user + system) the kernel has charged this process, from
/// `/proc/self/stat` (in clock ticks, which Linux exposes to user space at 100 a second).
fn kernel_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after_name = &stat[stat.rfind(')').expect("(comm)") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted from the state (field 3) here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// Burns CPU until the kernel has charged `seconds` more of it (on a busy
/// machine that takes longer than `seconds` of wall time), at most 20 s.
#[observe]
fn spin(seconds: f64) -> u64 {
    let (start, deadline) = (kernel_cpu_seconds(), Instant::now() + Duration::from_secs(20));
    let mut n = 0u64;
    while kernel_cpu_seconds() - start < seconds && Instant::now() < deadline {
        for _ in 0..100_000 {
            n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
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
    let kernel_before = kernel_cpu_seconds();
    spin(0.5);
    let second = scrape();
    let kernel_after = kernel_cpu_seconds();
    let cpu_after = value(&second, "process_cpu_seconds_total");
    assert!(cpu_after - cpu_before >= 0.45, "CPU seconds went from {cpu_before} to {cpu_after} over a 0.5 s busy loop");
    assert!(
        cpu_after <= kernel_after + 0.01 && cpu_after - cpu_before <= kernel_after - kernel_before + 0.05,
        "obs says {cpu_before} → {cpu_after}, the kernel {kernel_before} → {kernel_after}"
    );

    // The whole scrape (function families, runtime families, process families) is valid.
    promtool_check(&second);
}
