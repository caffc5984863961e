//! (placeholder) cache
