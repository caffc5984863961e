//! The storage peer's API v4 (`docs/peer-api.md`): route paths with their URL builders, and the typed request
//! and answer bodies that the peer serves and the router's peer client decodes.

pub mod messages;
pub mod paths;

pub use messages::*;
