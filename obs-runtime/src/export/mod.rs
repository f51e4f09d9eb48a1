//! Exporters: where the recorded telemetry leaves the process.

#[cfg(feature = "prometheus")]
pub mod prometheus;
