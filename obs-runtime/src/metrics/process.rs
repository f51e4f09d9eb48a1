//! The standard process metrics (CPU time, memory, file descriptors, threads,
//! start time), read when `/metrics` is rendered, under the names every
//! Prometheus client library gives them, so existing dashboards work.
//!
//! The reading is `metrics-process`'s (a port of the Go client's collector:
//! `/proc/self` on Linux, the system calls elsewhere); obs renders the values
//! itself with the help and type of its family table. What a platform cannot
//! tell is absent from the scrape, never a made-up zero.

use super::Family;
use super::families::{
    PROCESS_CPU_SECONDS_TOTAL, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY_BYTES,
    PROCESS_START_TIME_SECONDS, PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY_BYTES,
};

/// The process families, in the order they are rendered.
pub(crate) const RENDERED: [&Family; 7] = [
    &PROCESS_CPU_SECONDS_TOTAL,
    &PROCESS_RESIDENT_MEMORY_BYTES,
    &PROCESS_VIRTUAL_MEMORY_BYTES,
    &PROCESS_OPEN_FDS,
    &PROCESS_MAX_FDS,
    &PROCESS_THREADS,
    &PROCESS_START_TIME_SECONDS,
];

/// Whether `family` is a process family (rendered here, not through the facade).
pub(crate) fn renders(family: &Family) -> bool {
    RENDERED.contains(&family)
}

/// The value of each process family the platform reports, read now.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
#[cfg(all(
    feature = "process",
    any(target_os = "linux", target_os = "macos", target_os = "windows", target_os = "freebsd", target_os = "openbsd")
))]
pub(crate) fn read() -> Vec<(&'static Family, f64)> {
    let now = metrics_process::collector::collect();
    let values = [
        now.cpu_seconds_total,
        now.resident_memory_bytes.map(|v| v as f64),
        now.virtual_memory_bytes.map(|v| v as f64),
        now.open_fds.map(|v| v as f64),
        now.max_fds.map(|v| v as f64),
        now.threads.map(|v| v as f64),
        now.start_time_seconds.map(|v| v as f64),
    ];
    RENDERED.iter().zip(values).filter_map(|(family, value)| Some((*family, value?))).collect()
}

/// Without the `process` feature, or on a platform `metrics-process` does not know: none.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
#[cfg(not(all(
    feature = "process",
    any(target_os = "linux", target_os = "macos", target_os = "windows", target_os = "freebsd", target_os = "openbsd")
)))]
pub(crate) fn read() -> Vec<(&'static Family, f64)> {
    Vec::new()
}
