//! Start-up recovery (`docs/peer-api.md` §4): create the directories, drop upload temp files, load every valid
//! metadata record (quarantining copies whose block digests are gone), and (with `TRAVERSE_AND_CLEAN`)
//! delete data files that no record references.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;

use super::blocks;
use super::disk::{Layout, Record};
use super::index::{Entry, Index};

/// Rebuild the index from disk. Blocking; run it on a blocking thread.
pub fn recover(layout: &Layout, traverse_and_clean: bool) -> io::Result<Index> {
    for dir in [layout.tmp_dir(), layout.objects_dir(), layout.meta_dir()] {
        fs::create_dir_all(&dir)?;
        probe_writable(&dir)?;
    }
    let mut removed_parts = 0usize;
    for entry in fs::read_dir(layout.tmp_dir())? {
        let path = entry?.path();
        if path.is_file() {
            fs::remove_file(&path)?;
            removed_parts += 1;
        }
    }
    let mut index = Index::default();
    let (mut dropped, mut quarantined) = (0usize, 0usize);
    for path in files_two_levels(&layout.meta_dir())? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".tmp") {
            fs::remove_file(&path)?;
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        match load_record(layout, &path) {
            Ok(entry) => {
                index.insert(entry);
            }
            Err(Broken::Record(reason)) => {
                tracing::warn!(record = %path.display(), %reason, "dropping broken metadata record");
                fs::remove_file(&path)?;
                dropped += 1;
            }
            // the bytes may be fine, but they cannot be verified any more: keep them out of the live store
            Err(Broken::Digests(entry, reason)) => {
                super::quarantine::move_to_quarantine(layout, &entry, &reason)?;
                quarantined += 1;
            }
        }
    }
    let mut orphans = 0usize;
    if traverse_and_clean {
        let mut referenced: HashSet<String> = HashSet::new();
        for e in index.entries() {
            if e.has_sidecar() {
                let sidecar = blocks::sidecar_of(Path::new(&e.data_file));
                referenced.insert(sidecar.to_string_lossy().into_owned());
            }
            referenced.insert(e.data_file.clone());
        }
        for path in files_two_levels(&layout.objects_dir())? {
            let rel = path
                .strip_prefix(&layout.data)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if !referenced.contains(&rel) {
                fs::remove_file(&path)?;
                orphans += 1;
            }
        }
    }
    tracing::info!(
        objects = index.len(),
        used_disk = index.used(),
        removed_parts,
        dropped_records = dropped,
        quarantined,
        removed_orphans = orphans,
        "store recovered"
    );
    Ok(index)
}

/// Fail at start-up, not at the first upload, when a directory is read-only.
fn probe_writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    fs::write(&probe, b"ok")
        .and_then(|()| fs::remove_file(&probe))
        .map_err(|e| io::Error::new(e.kind(), format!("{} is not writable: {e}", dir.display())))
}

/// Why a record is not loaded.
enum Broken {
    /// Unusable record or data file: the record is dropped.
    Record(String),
    /// Missing or short block digests: the copy is quarantined.
    Digests(Box<Entry>, String),
}

impl From<String> for Broken {
    fn from(reason: String) -> Self {
        Broken::Record(reason)
    }
}

fn load_record(layout: &Layout, path: &Path) -> Result<Entry, Broken> {
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    let record: Record = serde_json::from_slice(&bytes).map_err(|e| format!("unparsable: {e}"))?;
    let data = layout.data.join(&record.data_file);
    let len = fs::metadata(&data)
        .map_err(|e| format!("data file {}: {e}", data.display()))?
        .len();
    if len != record.meta.size {
        return Err(Broken::Record(format!(
            "data file has {len} bytes, record says {}",
            record.meta.size
        )));
    }
    let entry = Entry::from_record(record)?;
    if entry.has_sidecar() {
        let sidecar = blocks::sidecar_of(&data);
        let want = blocks::block_count(len, entry.digest.map_or(1, |d| d.block_size)) * 32;
        let have = fs::metadata(&sidecar).map_or(0, |m| m.len());
        if have != want {
            let reason = format!("block digests have {have} bytes, expected {want}");
            return Err(Broken::Digests(Box::new(entry), reason));
        }
    }
    Ok(entry)
}

/// Files of `root/*/*` (the two-level fan-out both trees use).
fn files_two_levels(root: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for dir in fs::read_dir(root)? {
        let dir = dir?.path();
        if !dir.is_dir() {
            continue;
        }
        for f in fs::read_dir(&dir)? {
            let f = f?.path();
            if f.is_file() {
                out.push(f);
            }
        }
    }
    Ok(out)
}
