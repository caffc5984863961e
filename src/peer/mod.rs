//! The storage-peer server (`mictlanx-peer`, `peer-api.md`): config, HTTP api, pending tasks, the
//! streamed body receiver and the durable disk store.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod header_deadline;
pub mod healthcheck;
pub mod logging;
pub mod receive;
pub mod server;
pub mod state;
pub mod store;
pub mod tasks;

pub use cli::{ConfigError, PeerArgs};
pub use config::{LogFormat, PeerConfig};
pub use server::{serve, PeerServer};
