//! The router's HTTP API around the data path: foundation (routes, docs, OpenAPI, metrics, CORS), the
//! cache and peer administration APIs, configuration on the command line and the binary's process life.

mod api_docs;
mod cache_api;
mod config_cli;
mod foundation;
mod listing_pages;
mod process;
mod replica_api;
