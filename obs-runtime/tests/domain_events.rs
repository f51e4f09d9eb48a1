//! Circuit breakers and security events, as a user reads them: the scrape
//! text and the JSON lines.

use obs_runtime::circuit::{self, CircuitState};
use obs_runtime::log::MemoryWriter;
use obs_runtime::security::{self, SecurityEvent};

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn circuits_and_security_events_are_counted_and_logged() {
    let lines = MemoryWriter::new();
    let guard = obs_runtime::builder().without_http().log_writer(lines.clone()).init().unwrap();

    circuit::record("payments", CircuitState::Closed);
    circuit::record("payments", CircuitState::Open);
    circuit::record("payments", CircuitState::Open);
    circuit::record("payments", CircuitState::HalfOpen);
    circuit::record("payments", CircuitState::Open);
    assert_eq!(circuit::state("payments"), Some(CircuitState::Open));

    security::event(SecurityEvent::authentication("user-42").failure("bad password").source("203.0.113.9"));
    security::event(SecurityEvent::authentication("user-42").failure("bad password"));
    security::event(
        SecurityEvent::authorization("user-7")
            .resource("https://files.example/invoice/17?token=sk_live_canary")
            .success(),
    );
    security::event(SecurityEvent::rate_limit("203.0.113.9").failure("see https://admin:hunter2@ops.example/limits"));

    let text = guard.render_metrics().unwrap();
    assert_eq!(sample(&text, r#"obs_circuit_breaker_state{circuit="payments"}"#), Some(1.0), "{text}");
    let transitions = |from: &str, to: &str| {
        sample(
            &text,
            &format!(r#"obs_circuit_breaker_transitions_total{{circuit="payments",from="{from}",to="{to}"}}"#),
        )
    };
    assert_eq!(transitions("closed", "open"), Some(1.0));
    assert_eq!(transitions("open", "half_open"), Some(1.0));
    assert_eq!(transitions("half_open", "open"), Some(1.0));
    assert_eq!(transitions("open", "open"), None, "repeating a state is no transition");
    let events = |category: &str, outcome: &str| {
        sample(&text, &format!(r#"obs_security_events_total{{category="{category}",outcome="{outcome}"}}"#))
    };
    assert_eq!(events("authentication", "failure"), Some(2.0));
    assert_eq!(events("authorization", "success"), Some(1.0));
    assert_eq!(events("rate_limit", "failure"), Some(1.0));

    let logged = lines.lines();
    let opened: Vec<_> = logged.iter().filter(|l| l["event"] == "circuit.opened").collect();
    assert_eq!(opened.len(), 2, "one WARN line per opening: {logged:#?}");
    assert_eq!(opened[0]["level"], "WARN");
    assert_eq!(opened[0]["circuit"], "payments");
    assert_eq!(opened[1]["from"], "half_open");

    let login = logged.iter().find(|l| l["event"] == "security.authentication").expect("the failed login");
    assert_eq!(login["level"], "WARN");
    assert_eq!(login["event.category"], "authentication");
    assert_eq!(login["event.outcome"], "failure");
    assert_eq!(login["user.id"], "user-42");
    assert_eq!(login["source.address"], "203.0.113.9");
    assert_eq!(login["event.reason"], "bad password");
    let granted = logged.iter().find(|l| l["event"] == "security.authorization").unwrap();
    assert_eq!(granted["level"], "INFO");
    assert_eq!(granted["resource"], "https://files.example/invoice/17?token=[redacted]", "query values are redacted");
    // Every event is counted by level: as many as there are lines of that level.
    let text = guard.render_metrics().unwrap();
    for level in ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"] {
        let written = logged.iter().filter(|l| l["level"] == level).count() as f64;
        let series = format!(r#"obs_log_events_total{{level="{}"}}"#, level.to_lowercase());
        assert_eq!(sample(&text, &series), Some(written), "{series}\n{text}");
    }
    assert_eq!(sample(&text, r#"obs_log_events_total{level="warn"}"#), Some(5.0), "2 openings, 3 failures");
    let limited = logged.iter().find(|l| l["event"] == "security.rate_limit").unwrap();
    assert!(!limited["event.reason"].as_str().unwrap().contains("hunter2"), "{limited}");
}
