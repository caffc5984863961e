//! HTTP API of the router: one module per resource.

pub mod cache;
