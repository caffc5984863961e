//! (placeholder) validate
