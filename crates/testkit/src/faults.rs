//! The fault suite's cluster: real `mictlanx-peer` processes (so SIGSTOP and SIGKILL are real) behind an
//! in-process router, whose replica manager and `/metrics` the tests read; and streams that inject a fault
//! at a byte offset. Fault tests run one at a time ([`serial`]): they bound times in seconds, which a
//! neighbour test loading the machine would blur.

use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use mictlanx_router::config::Config;

use crate::cluster::Cluster;
use crate::peer::{object_stream, sha256_stream};

pub const MIB: u64 = 1 << 20;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Run the fault tests of one binary one at a time.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// `n` peer processes `f0..`, every one answering, then an in-process router (`tweak` adjusts its config:
/// the health interval is long, so a stalled peer stays "available" unless a test wants the health loop to
/// notice). Peer data on tmpfs when there is one.
pub async fn start(n: usize, tweak: impl FnOnce(&mut Config)) -> Cluster {
    Cluster::builder()
        .peers(n)
        .peer_prefix("f")
        .peer_processes()
        .tmpfs()
        .health_interval(Duration::from_secs(30))
        .config(tweak)
        .start()
        .await
}

/// The SHA-256 of [`object_stream`]`(seed, size)`.
pub async fn expected_sha(seed: u64, size: u64) -> String {
    sha256_stream(object_stream(seed, size)).await.0
}

/// [`object_stream`] that calls `at_offset` once, when the bytes produced reach `offset`.
pub fn object_stream_with_hook(
    seed: u64,
    size: u64,
    offset: u64,
    at_offset: impl FnOnce() + Send + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let mut hook = Some(at_offset);
    let mut produced = 0u64;
    object_stream(seed, size).map(move |chunk| {
        if let Ok(c) = &chunk {
            produced += c.len() as u64;
            if produced >= offset {
                if let Some(h) = hook.take() {
                    h();
                }
            }
        }
        chunk
    })
}

/// Read a response body to the end, calling `at_offset` once when `offset` bytes arrived; returns the
/// SHA-256 and the length, or the error that ended the body.
pub async fn read_with_hook(
    res: reqwest::Response,
    offset: u64,
    at_offset: impl FnOnce(),
) -> Result<(String, u64), String> {
    use sha2::Digest;
    let mut hook = Some(at_offset);
    let mut h = sha2::Sha256::new();
    let mut n = 0u64;
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("body failed after {n} bytes: {e}"))?;
        n += chunk.len() as u64;
        h.update(&chunk);
        if n >= offset {
            if let Some(f) = hook.take() {
                f();
            }
        }
    }
    Ok((hex::encode(h.finalize()), n))
}
