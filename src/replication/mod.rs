//! The data path between the HTTP api and the storage peers: the write fan-out ("tee" of one client body
//! to every replica of a task group, [`fanout`]), read failover across holders ([`read`]) and the relay of
//! one peer body to the client with its size cap, cache fill and abort-on-failure rule ([`relay`]).
//!
//! Contracts in one place (`router-api.md` §6.0, §6.2 #17/#21/#20, `replica-manager.md` §6–§7):
//! * a write succeeds when at least one replica answered 2xx after receiving exactly the declared bytes;
//! * a read may move to another holder only before its first byte went to the client; afterwards any
//!   upstream failure aborts the client response (the body ends with an error, never cleanly).

pub mod deadline;
pub mod fanout;
pub mod read;
pub mod relay;
mod replica_set;

pub use deadline::within_deadline;
pub use fanout::{
    fan_out, FanOutError, FanOutReport, FanOutStrategy, FanOutTarget, ReplicaFailure,
};
pub use read::{
    discover_holders, live_holders, read_with_failover, Attempt, Candidate, Holders, ReadFailure,
    Start,
};
pub use relay::{
    abort_client, relay_bytes, relay_peer_body, relay_stream, BodySender, CacheFill, RelayError,
};
