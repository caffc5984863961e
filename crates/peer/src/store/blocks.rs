//! Object digests: SHA-256 of the whole object and of every 1 MiB block, computed while the bytes arrive.
//!
//! Where the block digests live: an object of at most one block needs none besides the whole digest (its
//! only block *is* the object), which the record keeps. Larger objects get a sidecar file next to the data
//! file, `{data_file}.blocks`, holding the raw 32-byte digests in block order; it is written and fsynced
//! before the record that names the data file, and unlinked with it. A sidecar rather than the record
//! because the record is rewritten by every disable or update and its metadata sits in the in-memory index:
//! 32 bytes per MiB (640 hex characters per MiB in JSON) would grow both with the object, while serving
//! reads the sidecar sequentially, 32 bytes per block.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Block size of the per-block digests (recorded per object, so it can change later).
pub const BLOCK_SIZE: u64 = 1024 * 1024;

/// Digest of a byte string.
pub type Sha = [u8; 32];

/// The digests of one received object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub sha256: Sha,
    /// One per `BLOCK_SIZE` block (the last may be shorter); empty for a 0-byte object.
    pub blocks: Vec<Sha>,
}

impl Digests {
    /// Whether the block digests need a sidecar (more than one block).
    pub fn needs_sidecar(&self) -> bool {
        self.blocks.len() > 1
    }
}

/// Incremental whole + per-block SHA-256.
pub struct BlockHasher {
    whole: Sha256,
    block: Sha256,
    in_block: u64,
    blocks: Vec<Sha>,
    total: u64,
    /// At most one block is coming: its digest will be the whole digest, so hash once.
    single: bool,
}

impl Default for BlockHasher {
    fn default() -> Self {
        Self {
            whole: Sha256::new(),
            block: Sha256::new(),
            in_block: 0,
            blocks: Vec::new(),
            total: 0,
            single: false,
        }
    }
}

impl BlockHasher {
    /// A hasher for an object declared to have `size` bytes (never fed more than that).
    pub fn for_size(size: u64) -> Self {
        Self {
            single: size <= BLOCK_SIZE,
            ..Self::default()
        }
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        self.whole.update(bytes);
        self.total += bytes.len() as u64;
        if self.single {
            return;
        }
        while !bytes.is_empty() {
            let room = (BLOCK_SIZE - self.in_block) as usize;
            let (head, rest) = bytes.split_at(room.min(bytes.len()));
            self.block.update(head);
            self.in_block += head.len() as u64;
            if self.in_block == BLOCK_SIZE {
                self.blocks.push(self.block.finalize_reset().into());
                self.in_block = 0;
            }
            bytes = rest;
        }
    }

    pub fn finish(mut self) -> Digests {
        let sha256: Sha = self.whole.finalize().into();
        if self.single && self.total > 0 {
            self.blocks.push(sha256);
        } else if self.in_block > 0 {
            self.blocks.push(self.block.finalize().into());
        }
        Digests {
            sha256,
            blocks: self.blocks,
        }
    }
}

/// SHA-256 of one block.
pub fn block_digest(bytes: &[u8]) -> Sha {
    Sha256::digest(bytes).into()
}

/// Number of blocks of an object of `size` bytes.
pub fn block_count(size: u64, block_size: u64) -> u64 {
    size.div_ceil(block_size)
}

/// The sidecar of a data file (absolute or relative path alike).
pub fn sidecar_of(data: &Path) -> PathBuf {
    let mut name = data.as_os_str().to_owned();
    name.push(".blocks");
    PathBuf::from(name)
}

/// Write the block digests next to the data file and fsync them (the caller fsyncs the directory).
pub fn write_sidecar(data: &Path, blocks: &[Sha]) -> io::Result<()> {
    let mut f = fs::File::create(sidecar_of(data))?;
    f.write_all(blocks.concat().as_slice())?;
    f.sync_all()
}

/// `true` when the 64-hex-digit form of `declared` names a digest (callers may send placeholders).
pub fn declared_sha256(declared: &str) -> Option<String> {
    let d = declared.trim();
    (d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())).then(|| d.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_digests_do_not_depend_on_chunking() {
        let data: Vec<u8> = (0..(2 * BLOCK_SIZE + 5)).map(|i| (i % 251) as u8).collect();
        let mut one = BlockHasher::default();
        one.update(&data);
        let mut many = BlockHasher::default();
        for chunk in data.chunks(7777) {
            many.update(chunk);
        }
        let (a, b) = (one.finish(), many.finish());
        assert_eq!(a, b);
        assert_eq!(a.blocks.len(), 3);
        assert_eq!(a.sha256, block_digest(&data));
        assert_eq!(a.blocks[2], block_digest(&data[2 * BLOCK_SIZE as usize..]));
        assert!(a.needs_sidecar());
    }

    #[test]
    fn small_objects_have_at_most_one_block_equal_to_the_whole_digest() {
        let empty = BlockHasher::default().finish();
        assert!(empty.blocks.is_empty() && !empty.needs_sidecar());
        let mut h = BlockHasher::default();
        h.update(&[1u8; BLOCK_SIZE as usize]);
        let d = h.finish();
        assert_eq!(d.blocks, vec![d.sha256]);
        let mut once = BlockHasher::for_size(BLOCK_SIZE);
        once.update(&[1u8; BLOCK_SIZE as usize]);
        assert_eq!(once.finish(), d, "one pass for one block, same digests");
        assert!(BlockHasher::for_size(0).finish().blocks.is_empty());
        assert_eq!(
            (block_count(0, 4), block_count(4, 4), block_count(5, 4)),
            (0, 1, 2)
        );
    }

    #[test]
    fn only_64_hex_digits_declare_a_digest() {
        let hex = "AB".repeat(32);
        assert_eq!(declared_sha256(&hex), Some("ab".repeat(32)));
        for other in ["abc", "-", "", &"g".repeat(64), &"a".repeat(63)] {
            assert_eq!(declared_sha256(other), None, "{other}");
        }
        assert_eq!(
            sidecar_of(Path::new("objects/ab/x.data")),
            Path::new("objects/ab/x.data.blocks")
        );
    }
}
