//! What the benches that measure one `init` configuration per process share:
//! the parent runs this binary again once per case (`OBS_BENCH_CASE`), each
//! child writes criterion's results under one directory, and the parent reads
//! the medians back to print ratios within the run.

use std::path::{Path, PathBuf};

/// Where the children's criterion results go: `CRITERION_HOME`, else a
/// directory of the bench's own under the temp dir.
pub fn output_dir(bench: &str) -> PathBuf {
    std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("obs-bench-{bench}")))
}

/// Runs this binary once per case, one after the other; panics when one fails.
pub fn run_cases<'a>(dir: &Path, cases: impl IntoIterator<Item = &'a str>) {
    let exe = std::env::current_exe().expect("this binary");
    for case in cases {
        let status = std::process::Command::new(&exe)
            .env("OBS_BENCH_CASE", case)
            .env("CRITERION_HOME", dir)
            .status()
            .expect("run a case");
        assert!(status.success(), "case {case} failed");
    }
}

/// The median of a child's benchmark `group/bench`, in nanoseconds, from criterion's estimates.
pub fn median_ns(dir: &Path, group: &str, bench: &str) -> f64 {
    let path = dir.join(group).join(bench).join("new/estimates.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("criterion's estimates");
    json["median"]["point_estimate"].as_f64().expect("a median")
}
