//! Phase-2 body reception: stream chunks into a guarded temp file, counting bytes against the declared
//! size, with an idle timeout between chunks; then fsync. Never holds more than one chunk in memory.

use std::fmt::Display;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::store::{is_no_space, TempFile};

/// Why a body could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("Data size mistmatch {received} != {size}")]
    SizeMismatch { received: u64, size: u64 },
    #[error("request body failed: {0}")]
    Transport(String),
    #[error("request body idle for longer than {0:?}")]
    IdleTimeout(Duration),
    #[error("No space left on device")]
    NoSpace,
    #[error("temp file i/o error: {0}")]
    Io(io::Error),
}

impl From<io::Error> for ReceiveError {
    fn from(e: io::Error) -> Self {
        if is_no_space(&e) {
            ReceiveError::NoSpace
        } else {
            ReceiveError::Io(e)
        }
    }
}

/// What was received: the byte count and, when debug logging is on, the SHA-256 hex of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub bytes: u64,
    pub sha256: Option<String>,
}

/// Write exactly `size` bytes of `body` into `part` and fsync it.
pub async fn receive_into<S, E>(
    mut body: S,
    part: &TempFile,
    size: u64,
    idle: Duration,
) -> Result<Received, ReceiveError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let mut file = tokio::fs::File::create(part.path()).await?;
    let mut received: u64 = 0;
    // checksums are never enforced; computing one only pays off when someone reads debug logs
    let mut hasher = tracing::enabled!(tracing::Level::DEBUG).then(Sha256::new);
    loop {
        let next = match tokio::time::timeout(idle, body.next()).await {
            Ok(next) => next,
            Err(_) => return Err(ReceiveError::IdleTimeout(idle)),
        };
        let chunk = match next {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => return Err(ReceiveError::Transport(e.to_string())),
        };
        received += chunk.len() as u64;
        if received > size {
            return Err(ReceiveError::SizeMismatch { received, size });
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        file.write_all(&chunk).await?;
    }
    if received != size {
        return Err(ReceiveError::SizeMismatch { received, size });
    }
    file.flush().await?;
    file.sync_all().await?;
    Ok(Received {
        bytes: received,
        sha256: hasher.map(|h| hex::encode(h.finalize())),
    })
}
