//! Fuzzing (with proptest: cargo-fuzz needs a nightly toolchain) of
//! `RedisCheck`'s reply reader: a fake server on 127.0.0.1 answers the check
//! with arbitrary bytes (random bytes, near-valid RESP with lying lengths,
//! lines past the 64 KiB limit, up to 70 KB) and closes. The check never
//! panics, ends on its own, allocates a bounded amount (a counting allocator
//! on the checking thread), and when unhealthy its message is short and
//! carries no more than 80 bytes of what the server sent.
//!
//! The default run is short; a long run:
//! `PROPTEST_CASES=20000 cargo test -p obs-runtime --release --all-features --test fuzz_redis_reply -- --nocapture`.
#![cfg(feature = "redis")]

mod fuzz_support;

use std::cell::RefCell;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use fuzz_support::{Counting, Tally, cases, peak_above, reset_peak};
use obs_runtime::health::{Check, CheckResult, HealthStatus, RedisCheck};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[global_allocator]
static ALLOC: Counting = Counting;

/// What the check may hold at once: a 1 MiB bulk reply, a 64 KiB line, buffers.
const MEMORY_BOUND: usize = 4 << 20;
/// The longest run of the server's bytes a message may carry.
const MAX_RAW: usize = 80;
/// The longest message (fixed text plus at most `MAX_RAW` bytes, escaped).
const MAX_MESSAGE: usize = 512;

/// `std::panic::catch_unwind`, with the panic's message.
fn catch_unwind<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> Result<R, String> {
    std::panic::catch_unwind(f).map_err(|e| {
        e.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| e.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned())
    })
}

/// The start of a long text, for a failure message.
fn start_of(text: &str) -> String {
    text.chars().take(200).collect()
}

/// One RESP-looking piece: a type byte, a payload, a line end (sometimes wrong).
fn piece() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop::sample::select(b"+-$*:_#,(!=%~>\r\nxP".to_vec());
    let payload = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..40),
        2 => "-?[0-9]{1,20}".prop_map(String::into_bytes),
        1 => prop::sample::select(vec![
            "PONG", "OK", "-1", "0", "1048576", "1048577", "999999999999999999999", "18446744073709551615",
            "used_memory:1024\r\nused_memory_human:1K", "ERR wrong", "NOAUTH Authentication required",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ];
    let end = prop::sample::select(vec![&b"\r\n"[..], b"\n", b"\r", b"", b"\r\n\r\n"]);
    (kind, payload, end).prop_map(|(k, mut p, e)| {
        p.insert(0, k);
        p.extend_from_slice(e);
        p
    })
}

fn reply() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(piece(), 0..12).prop_map(|p| p.concat()),
        3 => prop::collection::vec(any::<u8>(), 0..512),
        // A valid PONG, then a bulk reply whose length may lie, with random content.
        2 => (0usize..70_000, prop::collection::vec(any::<u8>(), 1..64), 0usize..70_000).prop_map(|(said, pattern, sent)| {
            let mut out = b"+PONG\r\n".to_vec();
            out.extend_from_slice(format!("${said}\r\n").as_bytes());
            out.extend(pattern.iter().copied().cycle().take(sent));
            out.extend_from_slice(b"\r\n");
            out
        }),
        // One long line of any type (past the 64 KiB line limit or just under it).
        1 => (prop::sample::select(b"+-$:x".to_vec()), prop::collection::vec(any::<u8>(), 1..64), 60_000usize..70_000)
            .prop_map(|(kind, pattern, n)| {
                let mut out = vec![kind];
                out.extend(pattern.iter().copied().filter(|b| *b != b'\n').cycle().take(n));
                out.extend_from_slice(b"\r\n");
                out
            }),
    ]
}

/// A server that reads the first command, sends `reply`, closes its side and
/// drains what the check still sends.
fn serve(reply: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else { return };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0u8; 512];
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(&reply);
        let _ = stream.shutdown(Shutdown::Write);
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    });
    url
}

/// The longest run of `message`'s bytes that also occurs in `input`, when over `MAX_RAW`.
fn raw_run(message: &str, input: &[u8]) -> Option<usize> {
    let bytes = message.as_bytes();
    if bytes.len() <= MAX_RAW {
        return None;
    }
    let window = MAX_RAW + 1;
    (0..=bytes.len() - window).find(|&at| input.windows(window).any(|w| w == &bytes[at..at + window])).map(|_| window)
}

/// Messages too long or quoting too much of the reply, when not failing on them.
#[derive(Default)]
struct Quoted {
    messages: u64,
    longest: usize,
}

fn run_case(
    runtime: &tokio::runtime::Runtime,
    input: &[u8],
    tally: &mut Tally,
    quoted: Option<&mut Quoted>,
) -> Result<(), TestCaseError> {
    let url = serve(input.to_vec());
    let check = RedisCheck::new(url);
    let base = reset_peak();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), check.check()).await })
    }));
    let peak = peak_above(base);
    tally.add(input.len(), peak);
    let result: CheckResult = match outcome {
        Err(panic) => return Err(TestCaseError::fail(format!("the check panicked: {panic}"))),
        Ok(Err(_)) => return Err(TestCaseError::fail("the check did not end within 10 s of the server closing")),
        Ok(Ok(result)) => result,
    };
    prop_assert!(peak <= MEMORY_BOUND, "the check held {} bytes at once for a {}-byte reply", peak, input.len());
    match result.status() {
        HealthStatus::Unhealthy => {
            let message = result.error().unwrap_or_default();
            prop_assert!(!message.is_empty(), "an unhealthy result says why");
            let too_long = message.len() > MAX_MESSAGE;
            let run = raw_run(message, input);
            match quoted {
                Some(quoted) if too_long || run.is_some() => {
                    quoted.messages += 1;
                    quoted.longest = quoted.longest.max(message.len());
                }
                Some(_) => {}
                None => {
                    prop_assert!(!too_long, "a {}-byte message: {:?}…", message.len(), start_of(message));
                    prop_assert!(
                        run.is_none(),
                        "the message carries a run of more than {} bytes the server sent: {:?}…",
                        MAX_RAW,
                        start_of(message)
                    );
                }
            }
        }
        // Only a reply that is valid RESP (PONG, then a bulk string) is healthy.
        HealthStatus::Healthy => {
            prop_assert!(input.starts_with(b"+PONG\r\n$"), "healthy on a reply that is not PONG + bulk: {:?}", result);
        }
        other => prop_assert!(false, "the check is healthy or unhealthy, never {:?}", other),
    }
    Ok(())
}

fn fuzz(strict: bool) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut runner = TestRunner::new(Config { cases: cases(200), failure_persistence: None, ..Config::default() });
    let tally = RefCell::new(Tally::default());
    let quoted = RefCell::new(Quoted::default());
    let start = Instant::now();
    let result = runner.run(&reply(), |input| {
        let mut quoted = quoted.borrow_mut();
        run_case(&runtime, &input, &mut tally.borrow_mut(), (!strict).then_some(&mut *quoted))
    });
    tally.borrow().report("redis reply reader", start.elapsed());
    let quoted = quoted.borrow();
    if !strict {
        println!(
            "redis reply reader: {} unhealthy messages longer than {MAX_MESSAGE} bytes or quoting more than {MAX_RAW} \
             bytes of the reply (longest {} bytes)",
            quoted.messages, quoted.longest
        );
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// No panic, an end without a timeout, bounded memory, healthy only on a
/// valid reply; long quoting messages are counted and printed.
#[test]
fn arbitrary_replies_never_panic_and_stay_bounded() {
    fuzz(false);
}

/// The whole property, messages included (an error reply was once copied whole).
#[test]
fn arbitrary_replies_quote_at_most_80_bytes() {
    fuzz(true);
}

/// The defect once found, in one case, with its figures.
#[test]
fn a_long_error_reply_is_not_copied_into_the_message() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut reply = b"-ERR ".to_vec();
    reply.extend(std::iter::repeat_n(b'x', 60_000));
    reply.extend_from_slice(b"\r\n");
    let check = RedisCheck::new(serve(reply));
    let result = runtime.block_on(check.check());
    let message = result.error().unwrap_or_default();
    println!("a 60,005-byte error reply gives a {}-byte message", message.len());
    assert!(message.len() <= MAX_MESSAGE, "a {}-byte message: {:?}…", message.len(), start_of(message));
}
