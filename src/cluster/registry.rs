//! The persisted part of the peer registry (`docs/replica-manager.md` §3): `{state_dir}/peers.json` records the
//! runtime additions and removals on top of the seed; the effective registry is
//! (seed ∪ added, added winning) − removed. Writes are atomic (tmp file, fsync, rename, fsync dir).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::types::PeerInfo;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot use the state dir {path}: {source}")]
    StateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("unparsable {path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The `peers.json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeersDoc {
    pub version: u32,
    pub added: Vec<PeerInfo>,
    pub removed: Vec<String>,
}

impl Default for PeersDoc {
    fn default() -> Self {
        Self {
            version: 1,
            added: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl PeersDoc {
    /// Upsert into `added`, delete from `removed`.
    pub fn with_added(&self, peers: &[PeerInfo]) -> PeersDoc {
        let mut doc = self.clone();
        for p in peers {
            doc.added.retain(|a| a.peer_id != p.peer_id);
            doc.added.push(p.clone());
            doc.removed.retain(|r| r != &p.peer_id);
        }
        doc
    }

    /// Delete from `added`, add the ids to `removed`.
    pub fn with_removed(&self, ids: &[String]) -> PeersDoc {
        let mut doc = self.clone();
        for id in ids {
            doc.added.retain(|a| &a.peer_id != id);
            if !doc.removed.contains(id) {
                doc.removed.push(id.clone());
            }
        }
        doc
    }

    /// The effective registry, by `peer_id`.
    pub fn effective(&self, seed: &[PeerInfo]) -> BTreeMap<String, PeerInfo> {
        let mut out: BTreeMap<String, PeerInfo> = seed
            .iter()
            .map(|p| (p.peer_id.clone(), p.clone()))
            .collect();
        for p in &self.added {
            out.insert(p.peer_id.clone(), p.clone());
        }
        for id in &self.removed {
            out.remove(id);
        }
        out
    }
}

/// `peers.json` inside the state dir.
#[derive(Debug, Clone)]
pub struct RegistryFile {
    dir: PathBuf,
}

impl RegistryFile {
    /// Creates the state dir and checks that it is writable.
    pub fn open(dir: &Path) -> Result<RegistryFile, RegistryError> {
        let err = |source| RegistryError::StateDir {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"ok").map_err(err)?;
        std::fs::remove_file(&probe).map_err(err)?;
        Ok(RegistryFile {
            dir: dir.to_path_buf(),
        })
    }

    /// The state dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("peers.json")
    }

    /// The stored document; absent = empty. Unparsable is an error (never silently discarded).
    pub fn load(&self) -> Result<PeersDoc, RegistryError> {
        let path = self.path();
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PeersDoc::default()),
            Err(source) => {
                return Err(RegistryError::Read {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let doc: PeersDoc = serde_json::from_slice(&text).map_err(|e| RegistryError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if doc.version != 1 {
            return Err(RegistryError::Parse {
                path: path.display().to_string(),
                reason: format!("unsupported version {}", doc.version),
            });
        }
        Ok(doc)
    }

    /// Atomic replace: write `peers.json.tmp`, fsync, rename over `peers.json`, fsync the directory.
    pub fn save(&self, doc: &PeersDoc) -> Result<(), RegistryError> {
        let path = self.path();
        let tmp = self.dir.join("peers.json.tmp");
        let werr = |source| RegistryError::Write {
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_vec_pretty(doc).map_err(|e| werr(std::io::Error::other(e)))?;
        let mut f = std::fs::File::create(&tmp).map_err(werr)?;
        f.write_all(&text).map_err(werr)?;
        f.sync_all().map_err(werr)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(werr)?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(werr)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, port: u16) -> PeerInfo {
        PeerInfo {
            peer_id: id.into(),
            ip_addr: "h".into(),
            port,
            protocol: "http".into(),
            api_version: 4,
        }
    }

    #[test]
    fn effective_registry_rules() {
        let seed = vec![peer("a", 1), peer("b", 2)];
        let doc = PeersDoc::default()
            .with_added(&[peer("c", 3), peer("a", 9)])
            .with_removed(&["b".into()]);
        let eff = doc.effective(&seed);
        assert_eq!(eff.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(eff["a"].port, 9, "an added entry replaces the seed entry");
        let back = doc.with_added(&[peer("b", 2)]);
        assert!(back.removed.is_empty());
        assert_eq!(back.effective(&seed).len(), 3);
        let gone = back.with_removed(&["c".into()]);
        assert!(!gone.added.iter().any(|p| p.peer_id == "c"));
        // a peer newly added to the seed still appears
        assert!(gone.effective(&[peer("new", 5)]).contains_key("new"));
    }

    #[test]
    fn save_load_round_trip_and_corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = RegistryFile::open(&dir.path().join("state")).unwrap();
        assert_eq!(file.load().unwrap(), PeersDoc::default());
        let doc = PeersDoc::default()
            .with_added(&[peer("x", 7)])
            .with_removed(&["y".into()]);
        file.save(&doc).unwrap();
        assert_eq!(file.load().unwrap(), doc);
        assert!(!dir.path().join("state/peers.json.tmp").exists());
        std::fs::write(file.path(), b"{not json").unwrap();
        assert!(matches!(file.load(), Err(RegistryError::Parse { .. })));
    }

    #[test]
    fn unwritable_state_dir_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        assert!(matches!(
            RegistryFile::open(&blocker.join("sub")),
            Err(RegistryError::StateDir { .. })
        ));
    }
}
