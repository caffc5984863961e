//! The data path between the HTTP api and the storage peers: the write fan-out ("tee" of one client body
//! to every replica of a task group, [`fanout`], dropping stragglers), hedged reads with failover across
//! holders ([`read`], [`hedge`]), ranged continuation of a read mid-stream ([`resume`]) and the relay of
//! one peer body to the client with its size cap, cache fill and abort-on-failure rule ([`relay`]).
//!
//! Contracts in one place (`docs/router-api.md` §6.0, §6.2 #17/#21/#20, `docs/replica-manager.md` §6–§7):
//! * a write succeeds when at least the write quorum of replicas answered 2xx after receiving exactly the
//!   declared bytes; a replica that makes no progress while others do is dropped, never waited for;
//! * before its first byte a read may hedge or move to another holder; after it, a holder that fails or
//!   stalls is continued from another holder of the same version at the same byte offset (`Range`); when
//!   none can continue, the client response is aborted (the body ends with an error, never cleanly).

pub mod fanout;
pub mod hedge;
pub mod late_tags;
pub mod read;
pub mod relay;
mod replica_set;
pub mod resume;
pub mod tail_metrics;
pub mod write;

pub use fanout::{
    fan_out, FanOutError, FanOutReport, FanOutStrategy, FanOutTarget, ReplicaFailure,
};
pub use hedge::{Hedger, ReadKind};
pub use read::{
    discover_holders, live_holders, read_hedged, read_with_failover, Attempt, Candidate, Hedging,
    Holders, ReadFailure, Start,
};
pub use relay::{
    abort_client, relay_bytes, relay_peer_body, relay_stream, BodySender, BytesOut, CacheFill,
    RelayError,
};
pub use resume::{Resume, Upstream};
