//! Operations: dashboards against a real Prometheus, the docs pages in a real browser, deployment files,
//! configuration tables of docs/config.md, the bench tool, telemetry exporters and the router's memory bound.

mod bench_tool;
mod config_docs;
mod dashboards;
mod deploy_files;
mod docs_browser;
mod router_memory;
mod telemetry_exporters;
