//! The data-path tests' cluster: a real router (`App::spawn`) in front of real in-process storage peers
//! named `peer-{i}`, with fast health probes; plus the deterministic objects those tests store.

use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::Config;

pub use crate::client::{detail, dto, BOUNDARY};
pub use crate::cluster::{peer_info, sorted_ids, Cluster};

pub fn peer_id(i: usize) -> String {
    format!("peer-{i}")
}

/// Deterministic bytes of `len` for seed `seed`.
pub fn object(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(31)
                .wrapping_add(seed as u64 * 7 + (i as u64 >> 8)) as u8
        })
        .collect()
}

/// A reqwest client usable without TLS setup.
pub fn client() -> reqwest::Client {
    crate::peer::http_client()
}

/// `n` peers and a router with fast health probes; `tweak` adjusts its config before it starts.
pub async fn start(n: usize, tweak: impl FnOnce(&mut Config)) -> Cluster {
    start_with(n, Vec::new(), tweak).await
}

/// Like [`start`], with extra (fake) peers registered in the seed list.
pub async fn start_with(
    n: usize,
    extra: Vec<PeerInfo>,
    tweak: impl FnOnce(&mut Config),
) -> Cluster {
    Cluster::builder()
        .peers(n)
        .extra_seed(extra)
        .config(tweak)
        .start()
        .await
}
