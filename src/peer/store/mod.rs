//! The peer's durable object store: disk layout and atomic writes, the in-memory index, start-up recovery.

pub mod disk;
pub mod index;
pub mod objects;
mod recover;

pub use disk::{now_ns, TempFile};
pub use index::{Entry, Index};
pub use objects::{is_no_space, MetadataUpdate, Store, StoreError};
