//! An audit trail that can be shown to be untouched: an append-only file of
//! JSON lines, each carrying the SHA-256 of the one before, so that changing,
//! removing or reordering a record breaks the chain at that record.
//!
//! ```no_run
//! use obs_runtime::audit::{self, AuditLog, Options, Sync};
//!
//! let log = AuditLog::open("/var/log/shop/audit.jsonl", Options { sync: Sync::Always, ..Options::default() })?;
//! audit::install(log);
//! audit::record("user-42", "refund", "order/1017", "success")?;
//! let report = audit::verify("/var/log/shop/audit.jsonl")?;
//! assert!(report.broken.is_none());
//! # Ok::<(), audit::AuditError>(())
//! ```
//!
//! A record is one line: `seq` (from 1, continuing across files), `ts`
//! (RFC 3339, UTC), `actor`, `action`, `resource`, `outcome`, `prev` (the
//! previous record's hash; 64 zeros for the first) and `hash`, the SHA-256 of
//! the line as written without its `hash` field. It is written with one
//! `write` call and, with [`Sync::Always`], on disk before `record` returns.
//!
//! * **A crash** mid-write leaves at most one incomplete last line: opening the
//!   file again cuts it off (it was never acknowledged) and the chain goes on
//!   from the last whole record; earlier records are never rewritten.
//! * **A full disk** (any write error) is an error returned to the caller and
//!   counted in `obs_audit_write_errors_total`, never a panic.
//! * **Rotation** by size: past [`Options::max_bytes`] the file is renamed
//!   `<path>.1` (older ones shift to `.2`, ...) and a new one started whose
//!   first record chains to the last of the old one. [`verify`] follows the
//!   files oldest first.
//!
//! The chain proves order and integrity, not authorship: someone who can
//! rewrite the whole file can rewrite the chain too. Ship the file (or its
//! last hash) somewhere the writer cannot change, and compare.
//!
//! `cargo run -p obs-runtime --features audit --bin obs-audit -- verify <path>` checks a trail.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::metrics::AUDIT_WRITE_ERRORS_TOTAL;

/// When records reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Before `record` returns (`fdatasync` per record): nothing acknowledged is lost.
    Always,
    /// Every `n` records, and when the log is dropped: a crash loses at most `n - 1`.
    Every(u32),
    /// When the operating system writes it back (a crash of the machine, not of
    /// the process, can lose recent records).
    Never,
}

/// How an [`AuditLog`] writes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub sync: Sync,
    /// The size past which the file is rotated.
    pub max_bytes: u64,
    /// Rotated files kept (`<path>.1` to `<path>.<keep>`); older ones are removed.
    pub keep: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options { sync: Sync::Always, max_bytes: 64 << 20, keep: 16 }
    }
}

/// Why a record could not be written or a trail not read.
#[derive(Debug)]
pub enum AuditError {
    /// Writing or reading the file failed (a full disk, permissions, a missing file).
    Io(std::io::Error),
    /// No log was [`install`]ed for [`record`].
    NotInstalled,
    /// A field is longer than [`MAX_FIELD_BYTES`].
    TooLong(&'static str),
}

impl std::fmt::Display for AuditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditError::Io(e) => write!(f, "audit log: {e}"),
            AuditError::NotInstalled => f.write_str("no audit log installed (obs_runtime::audit::install)"),
            AuditError::TooLong(field) => {
                write!(f, "audit record field `{field}` is longer than {MAX_FIELD_BYTES} bytes")
            }
        }
    }
}

impl std::error::Error for AuditError {}

impl From<std::io::Error> for AuditError {
    fn from(e: std::io::Error) -> Self {
        AuditError::Io(e)
    }
}

/// The longest `actor`, `action`, `resource` or `outcome`.
pub const MAX_FIELD_BYTES: usize = 4096;

/// The longest line a record can make (four fields at their limit, escaped, and the rest).
const MAX_LINE_BYTES: u64 = 4 * 6 * MAX_FIELD_BYTES as u64 + 1024;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One record as written (`hash` is left out of what is hashed).
#[derive(Serialize, Deserialize)]
struct Record<'a> {
    seq: u64,
    ts: String,
    actor: &'a str,
    action: &'a str,
    resource: &'a str,
    outcome: &'a str,
    prev: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// An open audit trail.
pub struct AuditLog {
    path: PathBuf,
    options: Options,
    state: Mutex<State>,
    /// `obs_audit_write_errors_total`, at zero from the moment a trail is open.
    errors: metrics::Counter,
}

struct State {
    file: File,
    size: u64,
    seq: u64,
    last: String,
    unsynced: u32,
}

impl AuditLog {
    /// Opens (or creates) the trail at `path`, continuing its chain; an
    /// incomplete last line left by a crash is cut off.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<AuditLog, AuditError> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        let (seq, last, whole) = last_whole_record(&mut file)?;
        let (seq, last) = match seq {
            Some(seq) => (seq, last),
            // A new (or emptied) file after a rotation chains to the newest rotated one.
            None => match rotated(&path, 1).exists().then(|| tail_of(&rotated(&path, 1))).transpose()? {
                Some((Some(seq), last)) => (seq, last),
                _ => (0, GENESIS.to_owned()),
            },
        };
        if file.metadata()?.len() > whole {
            file.set_len(whole)?;
            file.sync_data()?;
        }
        let state = State { file, size: whole, seq, last, unsynced: 0 };
        let errors = metrics::counter!(AUDIT_WRITE_ERRORS_TOTAL.name());
        Ok(AuditLog { path, options, state: Mutex::new(state), errors })
    }

    /// Appends one record; with [`Sync::Always`] it is on disk when this returns.
    pub fn record(&self, actor: &str, action: &str, resource: &str, outcome: &str) -> Result<u64, AuditError> {
        for (name, value) in [("actor", actor), ("action", action), ("resource", resource), ("outcome", outcome)] {
            if value.len() > MAX_FIELD_BYTES {
                return Err(AuditError::TooLong(name));
            }
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.append(&mut state, actor, action, resource, outcome);
        if result.is_err() {
            self.errors.increment(1);
        }
        result
    }

    fn append(
        &self,
        state: &mut State,
        actor: &str,
        action: &str,
        resource: &str,
        outcome: &str,
    ) -> Result<u64, AuditError> {
        if state.size >= self.options.max_bytes && state.size > 0 {
            self.rotate(state)?;
        }
        let seq = state.seq + 1;
        let mut record =
            Record { seq, ts: now_rfc3339(), actor, action, resource, outcome, prev: state.last.clone(), hash: None };
        let unhashed = serde_json::to_string(&record).map_err(std::io::Error::other)?;
        let hash = sha256_hex(unhashed.as_bytes());
        record.hash = Some(hash.clone());
        let mut line = serde_json::to_string(&record).map_err(std::io::Error::other)?;
        line.push('\n');
        if let Err(e) = state.file.write_all(line.as_bytes()) {
            // A partial line must not stay in front of the next record.
            let _ = state.file.set_len(state.size);
            return Err(e.into());
        }
        state.unsynced += 1;
        let due = match self.options.sync {
            Sync::Always => true,
            Sync::Every(n) => state.unsynced >= n.max(1),
            Sync::Never => false,
        };
        if due {
            state.file.sync_data()?;
            state.unsynced = 0;
        }
        state.size += line.len() as u64;
        state.seq = seq;
        state.last = hash;
        Ok(seq)
    }

    fn rotate(&self, state: &mut State) -> Result<(), AuditError> {
        state.file.sync_data()?;
        let keep = self.options.keep.max(1);
        let _ = std::fs::remove_file(rotated(&self.path, keep));
        for n in (1..keep).rev() {
            let from = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        state.file = OpenOptions::new().read(true).append(true).create(true).open(&self.path)?;
        state.size = 0;
        Ok(())
    }

    /// The path of the current file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if state.unsynced > 0 {
            let _ = state.file.sync_data();
        }
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The seq and hash of the last whole record of `file`, and the length of its whole lines.
fn last_whole_record(file: &mut File) -> Result<(Option<u64>, String, u64), AuditError> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(&mut *file);
    let (mut seq, mut last, mut whole) = (None, GENESIS.to_owned(), 0u64);
    let mut line = String::new();
    loop {
        line.clear();
        // A record is a few KiB at most: a longer "line" is not one of ours.
        let read = (&mut reader).take(MAX_LINE_BYTES).read_line(&mut line)?;
        if read == 0 || !line.ends_with('\n') {
            break;
        }
        let Ok(record) = serde_json::from_str::<Record<'_>>(line.trim_end()) else { break };
        seq = Some(record.seq);
        last = record.hash.unwrap_or_default();
        whole += read as u64;
    }
    Ok((seq, last, whole))
}

fn tail_of(path: &Path) -> Result<(Option<u64>, String), AuditError> {
    let mut file = File::open(path)?;
    let (seq, last, _) = last_whole_record(&mut file)?;
    Ok((seq, last))
}

static INSTALLED: Mutex<Option<AuditLog>> = Mutex::new(None);

/// Makes `log` the trail [`record`] appends to (replacing one installed before).
pub fn install(log: AuditLog) {
    *INSTALLED.lock().unwrap_or_else(|e| e.into_inner()) = Some(log);
}

/// Appends a record to the installed trail: who did what to which resource, and how it ended.
pub fn record(actor: &str, action: &str, resource: &str, outcome: &str) -> Result<u64, AuditError> {
    let installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    installed.as_ref().ok_or(AuditError::NotInstalled)?.record(actor, action, resource, outcome)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Whole records whose chain holds, in all files.
    pub records: u64,
    /// The files read, oldest first.
    pub files: Vec<PathBuf>,
    /// The first record that breaks the chain, if one does.
    pub broken: Option<Broken>,
    /// The last file ends in an incomplete line (a crash mid-write; opening the log cuts it off).
    pub torn_tail: bool,
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub file: PathBuf,
    /// 1-based line number in that file.
    pub line: u64,
    pub reason: String,
}

/// Checks the trail at `path` and its rotated files, oldest first, and
/// reports the first record whose chain breaks.
pub fn verify(path: impl AsRef<Path>) -> Result<Verified, AuditError> {
    let path = path.as_ref();
    let mut files: Vec<PathBuf> = (1..=u32::MAX).map(|n| rotated(path, n)).take_while(|p| p.exists()).collect();
    files.reverse();
    files.push(path.to_path_buf());
    let mut verified = Verified { records: 0, files: files.clone(), broken: None, torn_tail: false };
    let (mut prev, mut seq) = (None::<String>, None::<u64>);
    for (index, file) in files.iter().enumerate() {
        let mut text = String::new();
        File::open(file)?.read_to_string(&mut text)?;
        let last_file = index + 1 == files.len();
        let mut lines = text.split_inclusive('\n').enumerate().peekable();
        while let Some((number, line)) = lines.next() {
            let break_at = |reason: String| Broken { file: file.clone(), line: number as u64 + 1, reason };
            if !line.ends_with('\n') {
                if last_file && lines.peek().is_none() {
                    verified.torn_tail = true;
                    break;
                }
                verified.broken = Some(break_at("an incomplete line inside the trail".into()));
                return Ok(verified);
            }
            let problem = check(line.trim_end(), prev.as_deref(), seq);
            match problem {
                Ok((this_seq, hash)) => {
                    verified.records += 1;
                    prev = Some(hash);
                    seq = Some(this_seq);
                }
                Err(reason) => {
                    verified.broken = Some(break_at(reason));
                    return Ok(verified);
                }
            }
        }
    }
    Ok(verified)
}

/// Checks one line against the previous record: its hash, its link, its number.
fn check(line: &str, prev: Option<&str>, seq: Option<u64>) -> Result<(u64, String), String> {
    let mut record: Record<'_> = serde_json::from_str(line).map_err(|e| format!("not an audit record: {e}"))?;
    let Some(stated) = record.hash.take() else { return Err("the record has no hash".into()) };
    let unhashed = serde_json::to_string(&record).map_err(|e| e.to_string())?;
    if sha256_hex(unhashed.as_bytes()) != stated {
        return Err(format!("record {} was changed: its hash does not match its content", record.seq));
    }
    if let Some(prev) = prev
        && record.prev != prev
    {
        return Err(format!("record {} does not follow the record before it (one was removed or moved)", record.seq));
    }
    if let Some(seq) = seq
        && record.seq != seq + 1
    {
        return Err(format!("record {} comes after record {seq}", record.seq));
    }
    Ok((record.seq, stated))
}

/// Now, as RFC 3339 in UTC (microseconds), the way log lines write it.
fn now_rfc3339() -> String {
    let mut out = String::with_capacity(28);
    crate::log::format::write_timestamp(&mut out);
    out
}
