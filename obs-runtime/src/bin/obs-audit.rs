//! `obs-audit verify <path>`: checks an audit trail written by
//! `obs_runtime::audit` (and its rotated files). Exits 0 when the chain holds,
//! 1 when it breaks (saying where and why), 2 on a usage or read error.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [command, path] = args.as_slice() else {
        eprintln!("usage: obs-audit verify <path>");
        return ExitCode::from(2);
    };
    if command != "verify" {
        eprintln!("usage: obs-audit verify <path>");
        return ExitCode::from(2);
    }
    match obs_runtime::audit::verify(path) {
        Err(e) => {
            eprintln!("obs-audit: {e}");
            ExitCode::from(2)
        }
        Ok(report) => {
            let files = report.files.len();
            match report.broken {
                Some(broken) => {
                    println!(
                        "BROKEN at {}:{}: {} ({} records before it hold)",
                        broken.file.display(),
                        broken.line,
                        broken.reason,
                        report.records
                    );
                    ExitCode::from(1)
                }
                None => {
                    let torn = if report.torn_tail { "; the last line is incomplete (a crash mid-write)" } else { "" };
                    println!("OK: {} records in {files} file(s), the chain holds{torn}", report.records);
                    ExitCode::SUCCESS
                }
            }
        }
    }
}
