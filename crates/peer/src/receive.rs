//! Phase-2 body reception: stream chunks into a guarded temp file, counting bytes against the declared
//! size, with an idle timeout between chunks, hashing them (whole object and 1 MiB blocks); then fsync.
//! Never holds more than two batches of chunks in memory.
//!
//! Hashing and writing run on a blocking thread, one batch at a time, while the next batch is received:
//! SHA-256 of a batch costs more than the ~0.5 ms an async worker should be held.

use std::fmt::Display;
use std::io::{self, Write};
use std::mem;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use metrics::Counter;
use tokio::task::JoinHandle;

use super::store::blocks::{BlockHasher, Digests};
use super::store::{is_no_space, TempFile};

/// Bytes collected before they are handed to the blocking writer.
const BATCH: usize = 256 * 1024;

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

/// What was received: the byte count and the digests of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub bytes: u64,
    pub digests: Digests,
}

/// The temp file and the running digests, moved to a blocking thread for each batch.
struct Sink {
    file: std::fs::File,
    hasher: BlockHasher,
}

impl Sink {
    fn write(&mut self, batch: Vec<Bytes>) -> io::Result<()> {
        for chunk in batch {
            self.hasher.update(&chunk);
            self.file.write_all(&chunk)?;
        }
        Ok(())
    }
}

type Job = JoinHandle<(Sink, io::Result<()>)>;

/// The sink back from the batch in flight (or the idle one), with that batch's write error if any.
async fn settle(job: &mut Option<Job>, idle: &mut Option<Sink>) -> Result<Sink, ReceiveError> {
    match job.take() {
        None => Ok(idle.take().expect("a sink is idle when no job runs")),
        Some(j) => match j.await {
            Ok((sink, Ok(()))) => Ok(sink),
            Ok((_, Err(e))) => Err(e.into()),
            Err(e) => Err(ReceiveError::Io(io::Error::other(e.to_string()))),
        },
    }
}

/// Write exactly `size` bytes of `body` into `part`, hash them, and fsync the file; every byte that
/// arrives is counted on `bytes_in`.
pub async fn receive_into<S, E>(
    mut body: S,
    part: &TempFile,
    size: u64,
    idle: Duration,
    bytes_in: &Counter,
) -> Result<Received, ReceiveError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let file = tokio::fs::File::create(part.path()).await?.into_std().await;
    let mut sink = Some(Sink {
        file,
        hasher: BlockHasher::for_size(size),
    });
    let mut job: Option<Job> = None;
    let (mut batch, mut batch_len) = (Vec::new(), 0usize);
    let mut received: u64 = 0;
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
        bytes_in.increment(chunk.len() as u64);
        if received > size {
            return Err(ReceiveError::SizeMismatch { received, size });
        }
        batch_len += chunk.len();
        batch.push(chunk);
        if batch_len >= BATCH {
            let mut s = settle(&mut job, &mut sink).await?;
            let ready = mem::take(&mut batch);
            batch_len = 0;
            job = Some(tokio::task::spawn_blocking(move || {
                let r = s.write(ready);
                (s, r)
            }));
        }
    }
    if received != size {
        return Err(ReceiveError::SizeMismatch { received, size });
    }
    let mut s = settle(&mut job, &mut sink).await?;
    let digests = tokio::task::spawn_blocking(move || {
        s.write(batch)?;
        s.file.sync_all()?;
        Ok::<_, io::Error>(s.hasher.finish())
    })
    .await
    .map_err(|e| ReceiveError::Io(io::Error::other(e.to_string())))??;
    Ok(Received {
        bytes: received,
        digests,
    })
}
