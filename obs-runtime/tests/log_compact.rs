//! `OBS_LOG_FORMAT=compact` forces the compact format (over `Auto`, which picks
//! JSON for a given writer): one short line per event, no colour codes into
//! anything but a terminal, with the event, the unit, its duration, the error
//! and a short trace id.

use obs_runtime::log::MemoryWriter;
use obs_runtime::{ErrorKind, node, observe, workflow};

#[derive(Debug, ErrorKind)]
enum PayError {
    Declined,
}

impl std::fmt::Display for PayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for PayError {}

#[observe]
fn charge_card(total: u32) -> Result<u32, PayError> {
    if total > 100 { Err(PayError::Declined) } else { Ok(total) }
}

#[node]
async fn pay(total: u32) -> Result<u32, PayError> {
    charge_card(total)
}

#[workflow]
async fn checkout(note: String) -> Result<u32, PayError> {
    let _ = note;
    pay(500).await
}

#[tokio::test]
async fn the_compact_format_is_one_short_plain_line_per_event() {
    // SAFETY: the only test in this process, before anything reads the environment.
    unsafe { std::env::set_var("OBS_LOG_FORMAT", "compact") };
    let lines = MemoryWriter::new();
    let guard = obs_runtime::builder().without_http().log_writer(lines.clone()).init().unwrap();
    tracing::info!(items = 3, "cart emptied");
    let _ = checkout("x".repeat(300)).await;
    drop(guard);

    let text = lines.text();
    assert!(!text.contains('\u{1b}'), "colour codes into a writer: {text}");
    assert!(!text.contains('{'), "not JSON: {text}");
    let lines: Vec<&str> = text.lines().collect();
    let find = |event: &str| *lines.iter().find(|l| l.contains(event)).unwrap_or_else(|| panic!("{event}: {text}"));

    let user = find("cart emptied");
    assert!(user.contains(" INFO ") && user.contains("log_compact: cart emptied items=3"), "{user}");

    let error = find("function.error");
    let words: Vec<&str> = error.split_whitespace().collect();
    // 10:04:05.123 ERROR function.error charge_card 0.1ms declined: card declined trace=4bf92f35
    assert_eq!(words[0].len(), 12, "{error}");
    assert_eq!(&words[1..4], ["ERROR", "function.error", "charge_card"], "{error}");
    assert!(words[4].ends_with("ms"), "{error}");
    assert_eq!(&words[5..8], ["declined:", "card", "declined"], "{error}");
    assert!(error.contains(" run=") && words.last().unwrap().starts_with("trace="), "{error}");
    assert_eq!(words.last().unwrap().len(), "trace=".len() + 8, "{error}");

    let workflow = find("workflow.error");
    assert!(workflow.contains(" WARN ") && workflow.contains("(logged by charge_card)"), "{workflow}");
    // Every line of the run is in the same trace, and short.
    let trace = words.last().unwrap();
    assert!(workflow.ends_with(trace) && find("node.start").ends_with(trace), "{text}");
    assert!(lines.iter().all(|l| l.len() < 160), "{text}");
}
