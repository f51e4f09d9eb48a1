//! Circuit breakers, as the application's own breaker reports them:
//! `obs_circuit_breaker_state{circuit}` (0 closed, 1 open, 2 half-open), every
//! change of state counted in `obs_circuit_breaker_transitions_total{circuit,from,to}`,
//! and one WARN line each time a circuit opens.
//!
//! ```
//! use obs_runtime::circuit::{self, CircuitState};
//!
//! circuit::record("payments", CircuitState::Open); // the payments API keeps failing
//! circuit::record("payments", CircuitState::HalfOpen); // trying one request
//! circuit::record("payments", CircuitState::Closed);
//! ```
//!
//! Reporting a state is a lookup in a small map under a lock: meant for
//! state changes (a few a minute), not for every request.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::metrics::{CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRANSITIONS_TOTAL};

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Requests flow.
    Closed,
    /// Requests are refused without being tried.
    Open,
    /// A trial request decides whether to close again.
    HalfOpen,
}

impl CircuitState {
    /// The gauge's value: 0 closed, 1 open, 2 half-open.
    pub fn value(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        }
    }

    /// The label value: `closed`, `open`, `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

/// Circuits seen at most; the state of a circuit past this is still shown, its transitions
/// are not tracked (the names are the application's, but a name built from data must not grow a map).
const MAX_CIRCUITS: usize = 1024;

static STATES: Mutex<Option<HashMap<String, CircuitState>>> = Mutex::new(None);

/// Reports that the breaker `circuit` is now in `state`. A first report, or
/// one that repeats the current state, changes the gauge only.
pub fn record(circuit: &str, state: CircuitState) {
    metrics::gauge!(CIRCUIT_BREAKER_STATE.name(), "circuit" => circuit.to_owned()).set(state.value());
    let before = {
        let mut states = STATES.lock().unwrap_or_else(|e| e.into_inner());
        let states = states.get_or_insert_with(HashMap::new);
        match states.get_mut(circuit) {
            Some(known) => Some(std::mem::replace(known, state)),
            None => {
                if states.len() < MAX_CIRCUITS {
                    states.insert(circuit.to_owned(), state);
                }
                None
            }
        }
    };
    let Some(before) = before.filter(|before| *before != state) else { return };
    metrics::counter!(
        CIRCUIT_BREAKER_TRANSITIONS_TOTAL.name(),
        "circuit" => circuit.to_owned(),
        "from" => before.as_str(),
        "to" => state.as_str()
    )
    .increment(1);
    if state == CircuitState::Open {
        tracing::warn!(
            target: "obs_runtime::circuit",
            event = "circuit.opened",
            circuit,
            from = before.as_str(),
            "circuit {circuit} opened: its calls are refused until it closes again"
        );
    }
}

/// The last state reported for `circuit`.
pub fn state(circuit: &str) -> Option<CircuitState> {
    STATES.lock().unwrap_or_else(|e| e.into_inner()).as_ref()?.get(circuit).copied()
}
