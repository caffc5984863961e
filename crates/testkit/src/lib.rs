//! The workspace's test kit: one cluster builder (storage peers and the router in process or as child
//! processes, embedded or Redis state, faults on real processes), a typed client of the router API, and
//! the helpers the integration tests share.

pub mod bins;
pub mod chaos;
pub mod client;
pub mod cluster;
pub mod datapath;
pub mod deploy;
pub mod disk;
pub mod faults;
pub mod healing;
pub mod isolate;
pub mod log;
pub mod peer;
pub mod process;
pub mod redis;
pub mod redis_cluster;
pub mod tools;
pub mod wait;

pub use client::RouterClient;
pub use cluster::{Cluster, ClusterBuilder, Peer, RouterNode};
