//! On-disk layout and durable file primitives of the peer store (`docs/peer-api.md` §4): hashed names, atomic
//! record writes (temp + fsync + rename + fsync dir), and the temp-file drop guard.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use mictlanx_proto::model::Metadata;

/// Where things live: bytes under `DATA_PATH`, metadata records under `LOCAL_PATH`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub data: PathBuf,
    pub local: PathBuf,
}

impl Layout {
    pub fn tmp_dir(&self) -> PathBuf {
        self.data.join("tmp")
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.data.join("objects")
    }

    pub fn meta_dir(&self) -> PathBuf {
        self.local.join("meta")
    }

    /// A fresh `tmp/{random}.part` path for an upload.
    pub fn new_part(&self) -> PathBuf {
        self.tmp_dir().join(format!(
            "{}.part",
            nanoid::nanoid!(21, &nanoid::alphabet::SAFE)
        ))
    }

    /// `objects/{h[0..2]}/{h}.{version}.data`, relative to `DATA_PATH` (what records store).
    pub fn new_data_rel(h: &str) -> String {
        format!(
            "objects/{}/{h}.{:016x}.data",
            &h[..2],
            rand::random::<u64>()
        )
    }

    /// The metadata record of a hashed key.
    pub fn meta_file(&self, h: &str) -> PathBuf {
        self.meta_dir().join(&h[..2]).join(format!("{h}.json"))
    }
}

/// Lowercase hex SHA-256 of `bucket_id + "\0" + key`: file names never derive from ids directly.
pub fn key_hash(bucket_id: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(bucket_id.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    hex::encode(h.finalize())
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The durable metadata record: the nine `Metadata` fields plus the data file, commit time, object version
/// and replication factor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub meta: Metadata,
    /// Data file path relative to `DATA_PATH`.
    pub data_file: String,
    pub committed_at: u64,
    /// Absent in records written before versions existed; such records load with `committed_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `0` = unknown (also for records written before the field existed).
    #[serde(default)]
    pub replication_factor: u32,
    /// Lowercase hex SHA-256 of the bytes as received; absent in records written before digests existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Present when block digests exist: `sha256` itself for objects of at most one block, else the
    /// `{data_file}.blocks` sidecar (see `blocks.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u64>,
}

/// fsync a directory so a rename or unlink inside it is durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Write `bytes` to `path` atomically and durably: temp file in the same directory, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("record path has no parent"))?;
    fs::create_dir_all(dir)?;
    let tmp = TempFile::new(dir.join(format!(
        "{}.{:016x}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("record"),
        rand::random::<u64>()
    )));
    let mut f = fs::File::create(tmp.path())?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(tmp.path(), path)?;
    tmp.disarm();
    fsync_dir(dir)
}

/// Unlink a file and fsync its directory; `false` when it did not exist.
pub fn remove_durable(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                fsync_dir(dir)?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A file that is deleted when the guard drops unless disarmed: partial uploads and half-done commits
/// disappear even when the handler future is cancelled by a client disconnect.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rename the file and keep guarding it under its new name.
    pub fn rename_to(mut self, to: PathBuf) -> io::Result<TempFile> {
        fs::rename(&self.path, &to)?;
        self.armed = false;
        Ok(TempFile::new(to))
    }

    /// Keep the file.
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = fs::remove_file(&self.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), error = %e, "could not remove temp file");
                }
            }
        }
    }
}
