//! (placeholder) app
