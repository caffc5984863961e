//! (placeholder) telemetry
