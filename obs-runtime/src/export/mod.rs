//! Exporters: where the recorded telemetry leaves the process.

#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus;
