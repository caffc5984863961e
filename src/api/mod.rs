//! HTTP API of the router: one module per resource.
