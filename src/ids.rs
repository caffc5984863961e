//! (placeholder) ids
