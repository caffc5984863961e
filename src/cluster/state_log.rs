//! `state.log`: the embedded store's durable part besides `peers.json` — tombstones and durable documents
//! (drains). An append-only file of JSON lines, each the whole new state of one item with a sequence
//! number; replay keeps the highest sequence per item (appends may reach the file out of order). Opening
//! compacts it (tmp file, fsync, rename, fsync dir). A torn last line (crash mid-append) is ignored.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::record::ObjectRecord;

/// One durable item's new state. `record: None` / `value: null` = the item is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Object {
        key: String,
        record: Option<ObjectRecord>,
    },
    Doc {
        name: String,
        value: Value,
    },
}

impl Entry {
    fn id(&self) -> String {
        match self {
            Entry::Object { key, .. } => format!("o/{key}"),
            Entry::Doc { name, .. } => format!("d/{name}"),
        }
    }

    fn is_gone(&self) -> bool {
        match self {
            Entry::Object { record, .. } => record.is_none(),
            Entry::Doc { value, .. } => value.is_null(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Line {
    seq: u64,
    #[serde(flatten)]
    entry: Entry,
}

#[derive(Clone)]
pub struct StateLog {
    path: PathBuf,
    file: Arc<Mutex<File>>,
    seq: Arc<AtomicU64>,
}

impl StateLog {
    /// Replays and compacts `path`; returns the log and the live entries in order.
    pub fn open(path: &Path) -> std::io::Result<(StateLog, Vec<Entry>)> {
        let mut latest: BTreeMap<String, (u64, Entry)> = BTreeMap::new();
        match File::open(path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line?;
                    let Ok(Line { seq, entry }) = serde_json::from_str::<Line>(&line) else {
                        tracing::warn!(path = %path.display(), "unreadable state.log line ignored");
                        continue;
                    };
                    let id = entry.id();
                    if latest.get(&id).is_none_or(|(s, _)| *s < seq) {
                        latest.insert(id, (seq, entry));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut live: Vec<(u64, Entry)> =
            latest.into_values().filter(|(_, e)| !e.is_gone()).collect();
        live.sort_by_key(|(s, _)| *s);
        let entries: Vec<Entry> = live.into_iter().map(|(_, e)| e).collect();
        let tmp = path.with_extension("log.tmp");
        {
            let mut f = File::create(&tmp)?;
            for (i, entry) in entries.iter().enumerate() {
                let line = Line {
                    seq: i as u64 + 1,
                    entry: entry.clone(),
                };
                serde_json::to_writer(&mut f, &line)?;
                f.write_all(b"\n")?;
            }
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        let file = OpenOptions::new().append(true).open(path)?;
        let log = StateLog {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
            seq: Arc::new(AtomicU64::new(entries.len() as u64)),
        };
        Ok((log, entries))
    }

    /// The sequence number of the next change. Take it where changes are ordered (under the caller's
    /// state lock), so an item's later change always has the higher number whatever order the appends
    /// reach the file in.
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Append the new states durably (fsync) before returning.
    pub async fn append(&self, entries: Vec<(u64, Entry)>) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let log = self.clone();
        tokio::task::spawn_blocking(move || log.append_blocking(entries))
            .await
            .map_err(std::io::Error::other)?
    }

    fn append_blocking(&self, entries: Vec<(u64, Entry)>) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = Vec::new();
        for (seq, entry) in entries {
            serde_json::to_writer(&mut buf, &Line { seq, entry })?;
            buf.push(b'\n');
        }
        file.write_all(&buf)?;
        file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replay_keeps_the_latest_state_and_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.log");
        let (log, entries) = StateLog::open(&path).unwrap();
        assert!(entries.is_empty());
        let rec = ObjectRecord {
            version: 7,
            deleted_at_ns: Some(1),
            ..Default::default()
        };
        let seq = |e: Entry| (log.next_seq(), e);
        log.append(vec![
            seq(Entry::Object {
                key: "b@k".into(),
                record: Some(rec.clone()),
            }),
            seq(Entry::Object {
                key: "b@gone".into(),
                record: Some(rec.clone()),
            }),
            seq(Entry::Doc {
                name: "drain/p".into(),
                value: serde_json::json!({"state": "running"}),
            }),
        ])
        .await
        .unwrap();
        // reaches the file before an older change of the same item: the higher number still wins
        let newer = log.next_seq();
        log.append(vec![(
            newer,
            Entry::Object {
                key: "b@gone".into(),
                record: None,
            },
        )])
        .await
        .unwrap();
        log.append(vec![(
            1,
            Entry::Object {
                key: "b@gone".into(),
                record: Some(rec.clone()),
            },
        )])
        .await
        .unwrap();
        // a torn last line
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"seq\":9,\"key\":\"b@")
            .unwrap();
        drop(log);
        let (_, entries) = StateLog::open(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0],
            Entry::Object {
                key: "b@k".into(),
                record: Some(rec)
            }
        );
        assert!(matches!(&entries[1], Entry::Doc { name, .. } if name == "drain/p"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "compacted");
    }
}
