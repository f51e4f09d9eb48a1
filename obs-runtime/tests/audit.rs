//! The audit trail: the chain holds across files, and catches a flipped byte,
//! a deleted record and a reordered pair; a process killed mid-write and a
//! full disk lose nothing that was acknowledged.
#![cfg(feature = "audit")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use obs_runtime::audit::{self, AuditError, AuditLog, Options, Sync};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("obs-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, records: u64, options: Options) {
    let log = AuditLog::open(path, options).unwrap();
    for i in 0..records {
        log.record(&format!("user-{i}"), "refund", &format!("order/{i}"), "success").unwrap();
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn rewrite(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

#[test]
fn an_untouched_trail_verifies_and_every_kind_of_tampering_is_caught_at_its_record() {
    let dir = temp_dir("tamper");
    let path = dir.join("audit.jsonl");
    write(&path, 10, Options::default());
    let report = audit::verify(&path).unwrap();
    assert_eq!((report.records, report.broken.clone(), report.torn_tail), (10, None, false), "{report:?}");
    let first: serde_json::Value = serde_json::from_str(&lines(&path)[0]).unwrap();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["actor"], "user-0");
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["hash"].as_str().unwrap().len(), 64);
    let original = lines(&path);

    // One flipped byte in record 5.
    let mut flipped = original.clone();
    flipped[4] = flipped[4].replacen("user-4", "user-5", 1);
    rewrite(&path, &flipped);
    let broken = audit::verify(&path).unwrap().broken.expect("a flipped byte breaks the chain");
    assert_eq!(broken.line, 5, "{broken:?}");
    assert!(broken.reason.contains("changed"), "{broken:?}");

    // Record 4 deleted.
    let mut deleted = original.clone();
    deleted.remove(3);
    rewrite(&path, &deleted);
    let broken = audit::verify(&path).unwrap().broken.expect("a deleted record breaks the chain");
    assert_eq!(broken.line, 4, "{broken:?}");

    // Records 3 and 4 swapped.
    let mut swapped = original.clone();
    swapped.swap(2, 3);
    rewrite(&path, &swapped);
    let report = audit::verify(&path).unwrap();
    assert_eq!(report.broken.expect("a reordered pair breaks the chain").line, 3);
    assert_eq!(report.records, 2, "the records before the break hold");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_chain_continues_across_rotated_files_and_reopening() {
    let dir = temp_dir("rotate");
    let path = dir.join("audit.jsonl");
    let options = Options { max_bytes: 2048, keep: 100, ..Options::default() };
    write(&path, 30, options);
    write(&path, 30, options);
    let report = audit::verify(&path).unwrap();
    assert!(report.files.len() > 3, "rotated into several files: {:?}", report.files);
    assert_eq!((report.records, report.broken), (60, None));
    let last: serde_json::Value = serde_json::from_str(lines(&path).last().unwrap()).unwrap();
    assert_eq!(last["seq"], 60);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_cli_says_whether_the_chain_holds() {
    let dir = temp_dir("cli");
    let path = dir.join("audit.jsonl");
    write(&path, 3, Options::default());
    let cli = env!("CARGO_BIN_EXE_obs-audit");
    let ok = Command::new(cli).args(["verify", path.to_str().unwrap()]).output().unwrap();
    assert!(ok.status.success() && String::from_utf8_lossy(&ok.stdout).contains("OK: 3 records"), "{ok:?}");
    let mut lines = lines(&path);
    lines[1] = lines[1].replacen("refund", "delete", 1);
    rewrite(&path, &lines);
    let broken = Command::new(cli).args(["verify", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(broken.status.code(), Some(1), "{broken:?}");
    assert!(String::from_utf8_lossy(&broken.stdout).contains(":2: record 2 was changed"), "{broken:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The child of the two tests below: writes records until it is killed or the disk is full.
#[test]
#[ignore = "run as a child process by the tests below"]
fn child_writes_records() {
    let path = std::env::var("AUDIT_CHILD_PATH").unwrap();
    if let Ok(limit) = std::env::var("AUDIT_CHILD_FSIZE") {
        // A "disk" of `limit` bytes: writes past it fail with EFBIG instead of killing the process.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: limit.parse().unwrap(), rlim_max: libc::RLIM_INFINITY };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        }
    }
    let log = AuditLog::open(&path, Options { sync: Sync::Always, ..Options::default() }).unwrap();
    for i in 0.. {
        match log.record("user-1", "transfer", &format!("account/{i}"), "success") {
            Ok(seq) => println!("acknowledged {seq}"),
            Err(AuditError::Io(e)) => {
                println!("write failed: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn child(path: &Path, fsize: Option<u64>) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["child_writes_records", "--ignored", "--exact", "--nocapture", "--test-threads=1"]);
    command.env("AUDIT_CHILD_PATH", path);
    if let Some(limit) = fsize {
        command.env("AUDIT_CHILD_FSIZE", limit.to_string());
    }
    command
}

fn acknowledged(stdout: &[u8]) -> u64 {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("acknowledged ")?.parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_process_killed_mid_write_loses_nothing_acknowledged_and_the_chain_goes_on() {
    let dir = temp_dir("kill");
    let path = dir.join("audit.jsonl");
    let mut writer = child(&path, None).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    writer.kill().unwrap(); // SIGKILL
    let output = writer.wait_with_output().unwrap();
    let acknowledged = acknowledged(&output.stdout);
    assert!(acknowledged > 0, "the child wrote before it was killed");
    let report = audit::verify(&path).unwrap();
    assert_eq!(report.broken, None, "{report:?}");
    assert!(report.records >= acknowledged, "{} records on disk, {acknowledged} acknowledged", report.records);
    // Reopening cuts an incomplete last line off and chains on.
    write(&path, 1, Options::default());
    let report = audit::verify(&path).unwrap();
    assert_eq!((report.broken.clone(), report.torn_tail), (None, false), "{report:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_full_disk_is_an_error_to_the_caller_and_leaves_the_trail_whole() {
    let dir = temp_dir("full");
    let path = dir.join("audit.jsonl");
    let output = child(&path, Some(4096)).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the child did not panic or die: {output:?}");
    assert!(stdout.contains("write failed:"), "{stdout}");
    let report = audit::verify(&path).unwrap();
    assert_eq!((report.broken, report.torn_tail), (None, false), "no partial record is left behind");
    assert_eq!(report.records, acknowledged(&output.stdout));
    assert!(std::fs::metadata(&path).unwrap().len() <= 4096);
    std::fs::remove_dir_all(dir).unwrap();
}
