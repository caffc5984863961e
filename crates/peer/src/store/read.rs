//! Reading a byte range of a stored object, verified block by block: whole blocks are read, their digest
//! is checked, and only then are the wanted bytes of the block released. Objects without digests (written
//! before digests existed) are read in plain chunks. Reads are positional (`pread`) on a shared file, so
//! the next block can be read while the previous one is being sent.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::blocks::{self, sidecar_of, Sha};
use super::index::{Entry, ObjectDigest};

/// Chunk size of unverified reads.
const PLAIN_CHUNK: u64 = 256 * 1024;
/// Blocks read ahead of the one being sent.
const READ_AHEAD: usize = 2;

/// Why a read stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The block's bytes do not match its digest: the stored copy is corrupt.
    #[error("block {block} (offset {offset}) does not match its digest")]
    Corrupt { block: u64, offset: u64 },
    #[error("object read failed: {0}")]
    Io(#[from] io::Error),
}

/// One positional read: `len` bytes at `pos`, of which `keep` is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub pos: u64,
    pub len: usize,
    pub keep: Range<usize>,
    /// The block index when the step is one verified block.
    pub block: Option<u64>,
}

/// The steps reading `[offset, offset + len)` of an object of `size` bytes.
pub fn steps(
    size: u64,
    digest: Option<ObjectDigest>,
    offset: u64,
    len: u64,
) -> impl Iterator<Item = Step> + Send + 'static {
    let end = offset.saturating_add(len).min(size);
    let unit = digest.map_or(PLAIN_CHUNK, |d| d.block_size);
    let verified = digest.is_some();
    // verified reads start at the block holding `offset`; plain reads at `offset` itself
    let mut pos = if verified {
        offset / unit * unit
    } else {
        offset
    };
    std::iter::from_fn(move || {
        if pos >= end {
            return None;
        }
        let read_end = (pos + unit).min(size);
        let keep_start = offset.saturating_sub(pos);
        let keep_end = end.min(read_end) - pos;
        let step = Step {
            pos,
            len: (read_end - pos) as usize,
            keep: keep_start as usize..keep_end as usize,
            block: verified.then_some(pos / unit),
        };
        pos = read_end;
        Some(if verified {
            step
        } else {
            Step {
                len: step.keep.end,
                ..step
            }
        })
    })
}

/// An open object: its data file and, for objects of several blocks, its block digests.
pub struct ObjectRead {
    data: File,
    sidecar: Option<File>,
    digest: Option<ObjectDigest>,
}

impl ObjectRead {
    /// Open the files of `entry` (blocking). `NotFound` when an overwrite unlinked them meanwhile.
    pub fn open(data_path: &Path, entry: &Entry) -> io::Result<Self> {
        let data = File::open(data_path)?;
        let sidecar = if entry.has_sidecar() {
            Some(File::open(sidecar_of(data_path))?)
        } else {
            None
        };
        Ok(Self {
            data,
            sidecar,
            digest: entry.digest,
        })
    }

    fn expected(&self, block: u64) -> io::Result<Sha> {
        match (&self.sidecar, self.digest) {
            (Some(sidecar), _) => {
                let mut sha = [0u8; 32];
                sidecar.read_exact_at(&mut sha, block * 32)?;
                Ok(sha)
            }
            (None, Some(d)) => Ok(d.sha256),
            (None, None) => Err(io::Error::other("no digest to verify with")),
        }
    }

    /// Read one step (blocking), verifying its block; returns the released bytes.
    pub fn read_step(&self, step: &Step) -> Result<Bytes, ReadError> {
        let mut buf = vec![0u8; step.len];
        match self.data.read_exact_at(&mut buf, step.pos) {
            // a data file shorter than its digests say is as corrupt as a flipped byte
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && step.block.is_some() => {
                return Err(ReadError::Corrupt {
                    block: step.block.unwrap_or(0),
                    offset: step.pos,
                });
            }
            other => other?,
        }
        if let Some(block) = step.block {
            if blocks::block_digest(&buf) != self.expected(block)? {
                return Err(ReadError::Corrupt {
                    block,
                    offset: step.pos,
                });
            }
        }
        let mut bytes = Bytes::from(buf);
        if step.keep != (0..step.len) {
            bytes = bytes.slice(step.keep.clone());
        }
        Ok(bytes)
    }

    /// Open `entry`'s files and read the first step of `plan` in one blocking call (blocking): a small
    /// object's GET costs one hop to a blocking thread. Returns the rest of the plan with the reader.
    #[allow(clippy::type_complexity)]
    pub fn open_with_first<P: Iterator<Item = Step>>(
        data_path: &Path,
        entry: &Entry,
        mut plan: P,
    ) -> io::Result<(Self, Option<Result<Bytes, ReadError>>, P)> {
        let read = Self::open(data_path, entry)?;
        let first = plan.next().map(|step| read.read_step(&step));
        Ok((read, first, plan))
    }

    /// Stream the steps of `plan`, reading ahead on blocking threads. The stream ends after its first
    /// error.
    pub fn stream(
        self,
        plan: impl Iterator<Item = Step> + Send + 'static,
    ) -> impl Stream<Item = Result<Bytes, ReadError>> + Send + 'static {
        let me = Arc::new(self);
        futures::stream::iter(plan)
            .map(move |step| {
                let me = me.clone();
                async move {
                    match tokio::task::spawn_blocking(move || me.read_step(&step)).await {
                        Ok(r) => r,
                        Err(e) => Err(ReadError::Io(io::Error::other(e.to_string()))),
                    }
                }
            })
            .buffered(READ_AHEAD)
            .scan(false, |failed, item| {
                let out = (!*failed).then(|| {
                    *failed = item.is_err();
                    item
                });
                futures::future::ready(out)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(block_size: u64) -> Option<ObjectDigest> {
        Some(ObjectDigest {
            sha256: [0; 32],
            block_size,
        })
    }

    fn plan(
        size: u64,
        digest: Option<ObjectDigest>,
        offset: u64,
        len: u64,
    ) -> Vec<(u64, usize, Range<usize>)> {
        steps(size, digest, offset, len)
            .map(|s| (s.pos, s.len, s.keep))
            .collect()
    }

    #[test]
    fn verified_steps_read_whole_blocks_and_keep_the_range() {
        // blocks of 10: [0,10) [10,20) [20,25)
        assert_eq!(
            plan(25, d(10), 0, 25),
            vec![(0, 10, 0..10), (10, 10, 0..10), (20, 5, 0..5)]
        );
        assert_eq!(plan(25, d(10), 12, 3), vec![(10, 10, 2..5)]);
        assert_eq!(
            plan(25, d(10), 8, 14),
            vec![(0, 10, 8..10), (10, 10, 0..10), (20, 5, 0..2)]
        );
        assert_eq!(plan(25, d(10), 24, 1), vec![(20, 5, 4..5)]);
        assert!(plan(0, d(10), 0, 0).is_empty());
        let blocks: Vec<_> = steps(25, d(10), 0, 25).map(|s| s.block).collect();
        assert_eq!(blocks, vec![Some(0), Some(1), Some(2)]);
    }

    #[test]
    fn plain_steps_read_only_the_range() {
        let c = PLAIN_CHUNK;
        let u = c as usize;
        assert_eq!(plan(c + 5, None, 3, c), vec![(3, u, 0..u)]);
        assert_eq!(
            plan(c + 5, None, 0, c + 5),
            vec![(0, u, 0..u), (c, 5, 0..5)]
        );
        assert_eq!(plan(c + 5, None, 1, 2), vec![(1, 2, 0..2)]);
        assert!(steps(10, None, 0, 10).all(|s| s.block.is_none()));
    }
}
