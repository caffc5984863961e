//! The storage-peer server (`mictlanx-peer`, `docs/peer-api.md` and `docs/peer-api.md` §9–§14): config,
//! access control, HTTP api, pending tasks, the streamed body receiver, the durable disk store and its
//! scrubber.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod healthcheck;
pub mod logging;
pub mod metrics;
pub mod receive;
pub mod scrub;
pub mod server;
pub mod state;
pub mod store;
pub mod tasks;

pub use cli::{ConfigError, PeerArgs};
pub use config::{LogFormat, PeerConfig};
pub use server::{serve, PeerServer};
