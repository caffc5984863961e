//! (placeholder) units
