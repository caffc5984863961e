//! (placeholder) replication
