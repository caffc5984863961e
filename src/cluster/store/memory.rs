//! The embedded store: the cluster state of one router, in process. The peer registry's runtime changes
//! are persisted in `{state_dir}/peers.json` (`docs/replica-manager.md` §3, written before memory changes);
//! tombstones and durable documents (drains) in the append-only `{state_dir}/state.log`
//! ([`super::super::state_log`]), so a delete holds across a restart. Everything else is rebuilt from
//! the peers after a restart, as the peers are the source of truth.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{Page, Rev, StateStore, StoreError, Versioned, Write};
use crate::cluster::record::ObjectRecord;
use crate::cluster::registry::{PeersDoc, RegistryFile};
use crate::cluster::state_log::{Entry, StateLog};
use crate::cluster::types::{PeerInfo, Reservation, TaskGroup};
use mictlanx_proto::shard::shard_of;

pub struct MemoryStore {
    file: RegistryFile,
    /// Serialises registry changes: the file is written first, then memory.
    registry: tokio::sync::Mutex<PeersDoc>,
    state: Mutex<MemState>,
    log: StateLog,
    epoch: String,
}

#[derive(Default)]
struct MemState {
    rev: Rev,
    objects: HashMap<String, (Rev, ObjectRecord)>,
    /// The per-peer index, ordered by shard first ([`shard_of`]), so one shard's keys of a peer are one
    /// range.
    by_peer: HashMap<String, BTreeSet<(u16, String)>>,
    attention: BTreeSet<String>,
    /// Finished tombstones: (expiry ns, key).
    tombstones: BTreeSet<(u64, String)>,
    /// group id → (rev, group, expires at ns)
    groups: HashMap<String, (Rev, TaskGroup, u64)>,
    /// member task id → group id
    tasks: HashMap<String, String>,
    reservations: HashMap<String, Reservation>,
    /// name → (value, expires at ns)
    docs: HashMap<String, (Value, Option<u64>)>,
}

fn lock(m: &Mutex<MemState>) -> MutexGuard<'_, MemState> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ns() -> u64 {
    crate::cluster::state::now_ns()
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl MemoryStore {
    /// Opens the state dir: `peers.json` (unparsable = error) and `state.log` (replayed and compacted).
    pub fn open(file: RegistryFile) -> Result<MemoryStore, StoreError> {
        let doc = file
            .load()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let (log, entries) = StateLog::open(&file.dir().join("state.log"))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut st = MemState::default();
        for entry in entries {
            match entry {
                Entry::Object {
                    key,
                    record: Some(record),
                } => {
                    st.rev += 1;
                    let rev = st.rev;
                    st.index(&key, None, Some(&record));
                    st.objects.insert(key, (rev, record));
                }
                Entry::Object { record: None, .. } => {}
                Entry::Doc { name, value } => {
                    st.docs.insert(name, (value, None));
                }
            }
        }
        Ok(MemoryStore {
            file,
            registry: tokio::sync::Mutex::new(doc),
            state: Mutex::new(st),
            log,
            epoch: format!("embedded-{}", nanoid::nanoid!(10)),
        })
    }
}

impl MemState {
    fn next_rev(&mut self) -> Rev {
        self.rev += 1;
        self.rev
    }

    /// Keep the per-peer index and the attention set in step with one record change.
    fn index(&mut self, key: &str, old: Option<&ObjectRecord>, new: Option<&ObjectRecord>) {
        if let Some(old) = old {
            for p in old.holders.keys() {
                if let Some(set) = self.by_peer.get_mut(p) {
                    set.remove(&(shard_of(key), key.to_string()));
                    if set.is_empty() {
                        self.by_peer.remove(p);
                    }
                }
            }
        }
        if let Some(new) = new {
            for p in new.holders.keys() {
                self.by_peer
                    .entry(p.clone())
                    .or_default()
                    .insert((shard_of(key), key.to_string()));
            }
        }
        if new.is_some_and(ObjectRecord::needs_attention) {
            self.attention.insert(key.to_string());
        } else {
            self.attention.remove(key);
        }
        if let Some(at) = old.and_then(ObjectRecord::tombstone_expiry_ns) {
            self.tombstones.remove(&(at, key.to_string()));
        }
        if let Some(at) = new.and_then(ObjectRecord::tombstone_expiry_ns) {
            self.tombstones.insert((at, key.to_string()));
        }
    }

    fn object_rev(&self, key: &str) -> Rev {
        self.objects.get(key).map_or(0, |(r, _)| *r)
    }

    fn live_group(&self, id: &str, now: u64) -> Option<&(Rev, TaskGroup, u64)> {
        let gid = if self.groups.contains_key(id) {
            id
        } else {
            self.tasks.get(id)?.as_str()
        };
        self.groups.get(gid).filter(|(_, _, exp)| now < *exp)
    }

    fn group_rev(&self, id: &str, now: u64) -> Rev {
        self.groups
            .get(id)
            .filter(|(_, _, exp)| now < *exp)
            .map_or(0, |(r, _, _)| *r)
    }

    fn put_group(&mut self, id: &str, next: Option<TaskGroup>, ttl: Duration, now: u64) {
        if let Some((_, old, _)) = self.groups.remove(id) {
            for t in &old.tasks {
                if self.tasks.get(&t.task_id).map(String::as_str) == Some(id) {
                    self.tasks.remove(&t.task_id);
                }
            }
        }
        if let Some(group) = next {
            for t in &group.tasks {
                if t.task_id != id {
                    self.tasks.insert(t.task_id.clone(), id.to_string());
                }
            }
            let rev = self.next_rev();
            self.groups
                .insert(id.to_string(), (rev, group, now.saturating_add(nanos(ttl))));
        }
    }
}

/// Tombstones are what must survive a restart (no peer keeps a delete's version).
fn durable(record: Option<&ObjectRecord>) -> bool {
    record.is_some_and(|r| r.deleted_at_ns.is_some())
}

/// A page of the per-peer index; the cursor is the last key of the previous page.
fn peer_page(set: &BTreeSet<(u16, String)>, cursor: Option<String>, count: usize) -> Page {
    let start = match cursor {
        Some(c) => Bound::Excluded((shard_of(&c), c)),
        None => Bound::Unbounded,
    };
    let keys: Vec<String> = set
        .range((start, Bound::Unbounded))
        .take(count.max(1))
        .map(|(_, k)| k.clone())
        .collect();
    let next = (keys.len() == count.max(1))
        .then(|| keys.last().cloned())
        .flatten();
    Page { keys, next }
}

fn page(set: &BTreeSet<String>, cursor: Option<String>, count: usize) -> Page {
    let start = match &cursor {
        Some(c) => Bound::Excluded(c.clone()),
        None => Bound::Unbounded,
    };
    let keys: Vec<String> = set
        .range((start, Bound::Unbounded))
        .take(count.max(1))
        .cloned()
        .collect();
    let next = (keys.len() == count.max(1))
        .then(|| keys.last().cloned())
        .flatten();
    Page { keys, next }
}

#[async_trait]
impl StateStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn registry(&self) -> Result<PeersDoc, StoreError> {
        Ok(self.registry.lock().await.clone())
    }

    async fn change_registry(
        &self,
        add: Vec<PeerInfo>,
        remove: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut doc = self.registry.lock().await;
        let next = doc.with_added(&add).with_removed(&remove);
        if next == *doc {
            return Ok(());
        }
        let file = self.file.clone();
        let to_save = next.clone();
        tokio::task::spawn_blocking(move || file.save(&to_save))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        *doc = next;
        Ok(())
    }

    async fn object(&self, key: &str) -> Result<Option<Versioned<ObjectRecord>>, StoreError> {
        Ok(lock(&self.state)
            .objects
            .get(key)
            .map(|(rev, r)| Versioned {
                rev: *rev,
                value: r.clone(),
            }))
    }

    async fn objects(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Versioned<ObjectRecord>>>, StoreError> {
        let st = lock(&self.state);
        Ok(keys
            .iter()
            .map(|k| {
                st.objects.get(k).map(|(rev, r)| Versioned {
                    rev: *rev,
                    value: r.clone(),
                })
            })
            .collect())
    }

    async fn object_version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(lock(&self.state).objects.get(key).map(|(_, r)| r.version))
    }

    async fn peer_objects(
        &self,
        peer_id: &str,
        cursor: Option<String>,
        count: usize,
    ) -> Result<Page, StoreError> {
        let st = lock(&self.state);
        Ok(st
            .by_peer
            .get(peer_id)
            .map(|set| peer_page(set, cursor, count))
            .unwrap_or_default())
    }

    async fn peer_shard_objects(
        &self,
        peer_id: &str,
        shard: u16,
    ) -> Result<Vec<String>, StoreError> {
        let st = lock(&self.state);
        Ok(st.by_peer.get(peer_id).map_or_else(Vec::new, |set| {
            set.range((shard, String::new())..)
                .take_while(|(s, _)| *s == shard)
                .map(|(_, k)| k.clone())
                .collect()
        }))
    }

    async fn peer_object_count(&self, peer_id: &str) -> Result<u64, StoreError> {
        Ok(lock(&self.state)
            .by_peer
            .get(peer_id)
            .map_or(0, |set| set.len() as u64))
    }

    async fn attention(&self, cursor: Option<String>, count: usize) -> Result<Page, StoreError> {
        Ok(page(&lock(&self.state).attention, cursor, count))
    }

    async fn attention_len(&self) -> Result<u64, StoreError> {
        Ok(lock(&self.state).attention.len() as u64)
    }

    async fn expired_tombstones(
        &self,
        now_ns: u64,
        count: usize,
    ) -> Result<Vec<String>, StoreError> {
        Ok(lock(&self.state)
            .tombstones
            .iter()
            .take_while(|(at, _)| *at <= now_ns)
            .take(count)
            .map(|(_, k)| k.clone())
            .collect())
    }

    async fn object_count(&self) -> Result<u64, StoreError> {
        Ok(lock(&self.state).objects.len() as u64)
    }

    async fn group(&self, id: &str) -> Result<Option<Versioned<TaskGroup>>, StoreError> {
        Ok(lock(&self.state)
            .live_group(id, now_ns())
            .map(|(rev, g, _)| Versioned {
                rev: *rev,
                value: g.clone(),
            }))
    }

    async fn group_count(&self) -> Result<u64, StoreError> {
        let now = now_ns();
        Ok(lock(&self.state)
            .groups
            .values()
            .filter(|(_, _, exp)| now < *exp)
            .count() as u64)
    }

    async fn reservations(&self, now_ns: u64) -> Result<Vec<Reservation>, StoreError> {
        Ok(lock(&self.state)
            .reservations
            .values()
            .filter(|r| now_ns < r.expires_at_ns)
            .cloned()
            .collect())
    }

    async fn apply(&self, writes: Vec<Write>) -> Result<bool, StoreError> {
        let now = now_ns();
        let mut durable_changes = Vec::new();
        {
            let mut st = lock(&self.state);
            let unchanged = writes.iter().all(|w| match w {
                Write::Object { key, prev, .. } => {
                    st.object_rev(key) == prev.as_ref().map_or(0, |p| p.rev)
                }
                Write::Group { id, prev, .. } => {
                    st.group_rev(id, now) == prev.as_ref().map_or(0, |p| p.rev)
                }
                Write::Reserve(_) | Write::Release(_) => true,
            });
            if !unchanged {
                return Ok(false);
            }
            for w in writes {
                match w {
                    Write::Object { key, next, .. } => {
                        let old = st.objects.remove(&key).map(|(_, r)| r);
                        st.index(&key, old.as_ref(), next.as_ref());
                        if durable(old.as_ref()) || durable(next.as_ref()) {
                            durable_changes.push((
                                self.log.next_seq(),
                                Entry::Object {
                                    key: key.clone(),
                                    record: next.clone().filter(|r| durable(Some(r))),
                                },
                            ));
                        }
                        if let Some(record) = next {
                            let rev = st.next_rev();
                            st.objects.insert(key, (rev, record));
                        }
                    }
                    Write::Group { id, next, ttl, .. } => st.put_group(&id, next, ttl, now),
                    Write::Reserve(r) => {
                        st.reservations.insert(r.id.clone(), r);
                    }
                    Write::Release(id) => {
                        st.reservations.remove(&id);
                    }
                }
            }
        }
        self.log
            .append(durable_changes)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(true)
    }

    async fn lease(&self, _name: &str, _owner: &str, _ttl: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn put_doc(
        &self,
        name: &str,
        value: Option<Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let expires = ttl.map(|t| now_ns().saturating_add(nanos(t)));
        let seq = {
            let mut st = lock(&self.state);
            match &value {
                Some(v) => st.docs.insert(name.to_string(), (v.clone(), expires)),
                None => st.docs.remove(name),
            };
            ttl.is_none().then(|| self.log.next_seq())
        };
        if let Some(seq) = seq {
            let entry = Entry::Doc {
                name: name.to_string(),
                value: value.unwrap_or(Value::Null),
            };
            self.log
                .append(vec![(seq, entry)])
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        Ok(())
    }

    async fn doc(&self, name: &str) -> Result<Option<Value>, StoreError> {
        let now = now_ns();
        Ok(lock(&self.state)
            .docs
            .get(name)
            .filter(|(_, exp)| exp.is_none_or(|e| now < e))
            .map(|(v, _)| v.clone()))
    }

    async fn docs(&self, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let now = now_ns();
        let mut out: Vec<(String, Value)> = lock(&self.state)
            .docs
            .iter()
            .filter(|(k, (_, exp))| k.starts_with(prefix) && exp.is_none_or(|e| now < e))
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn epoch(&self) -> Result<String, StoreError> {
        Ok(self.epoch.clone())
    }

    async fn sweep(&self, now_ns: u64) -> Result<u64, StoreError> {
        let mut st = lock(&self.state);
        let expired: Vec<String> = st
            .groups
            .iter()
            .filter(|(_, (_, _, exp))| now_ns >= *exp)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            st.put_group(id, None, Duration::ZERO, now_ns);
        }
        st.reservations.retain(|_, r| now_ns < r.expires_at_ns);
        st.docs.retain(|_, (_, exp)| exp.is_none_or(|e| now_ns < e));
        Ok(expired.len() as u64)
    }

    async fn tombstones(&self, keys: &[String]) -> Result<Vec<bool>, StoreError> {
        let st = lock(&self.state);
        Ok(keys
            .iter()
            .map(|k| {
                st.objects
                    .get(k)
                    .is_some_and(|(_, r)| r.deleted_at_ns.is_some())
            })
            .collect())
    }
}
