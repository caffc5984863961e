//! The peer's durable object store: disk layout and atomic writes, object and block digests, the
//! in-memory index (with per-shard listings and digests), commits, in-place changes and deletes,
//! verified reads, quarantine, start-up recovery.

pub mod blocks;
mod changes;
pub mod disk;
pub mod index;
pub mod objects;
mod quarantine;
pub mod read;
mod recover;
pub mod shards;

pub use changes::{DeleteOutcome, MetadataUpdate};
pub use disk::{now_ns, TempFile};
pub use index::{Entry, Index, ObjectDigest};
pub use objects::{is_no_space, next_version, CommitOptions, Store, StoreError};
