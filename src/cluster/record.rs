//! The object record of the cluster state and the rules that change it: which copies are current, what
//! a commit, a delete (tombstone), an update and a found copy do. Pure functions with an explicit `now`;
//! every backend stores these records as they are and decides nothing (`docs/replica-manager.md` §7, healing).
//!
//! A record describes one `bucket@key`:
//! * `holders`: the peers that hold a copy of the **current** `version` (never an older copy);
//! * `version`: the version of the newest acknowledged write, update, disable or delete. Peers keep the
//!   version of every copy (`Object-Version`), so copies can be compared after a restart or a rebuild;
//! * `rf`: the desired number of copies, recorded at placement (and kept on the peers with the object);
//! * `deleted`: set by a delete (the record is then a tombstone: no holders, `version` = the delete's);
//! * `cleanup`: peers whose copies at or below a version must be deleted (a tombstone not yet applied to a
//!   holder that did not answer, or a stale copy that missed a write).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// How long a tombstone whose deletes all went through is kept, against copies nobody knew of.
pub const TOMBSTONE_RETENTION_NS: u64 = 7 * 24 * 3600 * 1_000_000_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Holders of the current version: peer id → when the record was made (ns).
    #[serde(default)]
    pub holders: BTreeMap<String, u64>,
    /// Version of the newest acknowledged change; 0 = unknown (peers that do not report versions).
    #[serde(default)]
    pub version: u64,
    /// Desired number of copies; 0 = unknown (never repaired).
    #[serde(default)]
    pub rf: u32,
    /// When the object was deleted (ns); `Some` makes the record a tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at_ns: Option<u64>,
    /// Peer id → delete that peer's copy if its version is at most this.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cleanup: BTreeMap<String, u64>,
}

/// What a copy found on a peer (inventory, discovery) means for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// The copy is current: the peer is (now) a holder.
    Holder,
    /// The copy is newer than anything known: it became the current version, with this peer its only holder.
    Newer,
    /// The copy is older than the current version, or was deleted: scheduled for deletion, never served.
    Stale,
    /// The peer reports no version while the record has one: neither served nor deleted.
    Unknown,
}

impl ObjectRecord {
    /// A fresh version above everything this record has seen, based on the clock: `max(now, version + 1)`
    /// plus up to 1023 random nanoseconds so two routers placing in the same nanosecond do not collide.
    pub fn next_version(&self, now_ns: u64) -> u64 {
        let base = now_ns.max(self.version.saturating_add(1));
        base.saturating_add(rand::random::<u64>() % 1024)
    }

    /// True when the record has a readable current version.
    pub fn is_live(&self) -> bool {
        self.deleted_at_ns.is_none() && !self.holders.is_empty()
    }

    /// A record that says nothing any more is removed from the store.
    pub fn is_empty(&self) -> bool {
        self.holders.is_empty() && self.cleanup.is_empty() && self.deleted_at_ns.is_none()
    }

    /// Recorded holders sorted by peer id.
    pub fn holder_ids(&self) -> Vec<String> {
        self.holders.keys().cloned().collect()
    }

    /// Whether the repair loop must look at this record: fewer holders than desired, or copies to delete.
    /// A tombstone whose deletes all went through needs nothing until it expires
    /// ([`ObjectRecord::tombstone_expiry_ns`]), so it never delays repairs.
    pub fn needs_attention(&self) -> bool {
        (self.deleted_at_ns.is_none() && (self.holders.len() as u64) < u64::from(self.rf))
            || !self.cleanup.is_empty()
    }

    /// When this tombstone, whose deletes all went through, may be dropped; `None` for any other
    /// record. The stores keep these in their own structure ordered by this time.
    pub fn tombstone_expiry_ns(&self) -> Option<u64> {
        match self.deleted_at_ns {
            Some(at) if self.holders.is_empty() && self.cleanup.is_empty() => {
                Some(at.saturating_add(TOMBSTONE_RETENTION_NS))
            }
            _ => None,
        }
    }

    /// A write of `version` stored on exactly `holders` (phase 2, repair excluded). Former holders that did
    /// not get it hold an older copy: they are scheduled for deletion of everything older than `version`.
    /// A later commit of an older version (a late writer) does not replace the current one: its peers are
    /// stale instead.
    pub fn commit(&mut self, holders: &[String], version: u64, rf: u32, now_ns: u64) {
        if version < self.version {
            for p in holders {
                if !self.holders.contains_key(p) {
                    self.schedule_cleanup(p, version);
                }
            }
            return;
        }
        let old: Vec<String> = self.holders.keys().cloned().collect();
        self.holders = holders.iter().map(|p| (p.clone(), now_ns)).collect();
        for p in old {
            if !self.holders.contains_key(&p) {
                self.schedule_cleanup(&p, version.saturating_sub(1));
            }
        }
        for p in holders {
            self.cleanup.remove(p);
        }
        self.version = version;
        self.rf = self.rf.max(rf).max(1);
        self.deleted_at_ns = None;
    }

    /// Record that `peer` holds a copy of `version` (with `rf` kept by that peer) and say what it means.
    pub fn adopt(&mut self, peer: &str, version: u64, rf: u32, now_ns: u64) -> Adoption {
        self.rf = self.rf.max(rf);
        if version == 0 && self.version > 0 {
            return Adoption::Unknown;
        }
        if version > self.version {
            let old: Vec<String> = self.holders.keys().cloned().collect();
            for p in old {
                if p != peer {
                    self.schedule_cleanup(&p, version - 1);
                }
            }
            self.holders = [(peer.to_string(), now_ns)].into();
            self.cleanup.remove(peer);
            self.version = version;
            self.deleted_at_ns = None;
            return Adoption::Newer;
        }
        if version == self.version && self.deleted_at_ns.is_none() {
            // A known holder keeps the time its record was made: finding the same copy again changes
            // nothing, so a pass over an unchanged peer writes nothing.
            self.holders.entry(peer.to_string()).or_insert(now_ns);
            self.cleanup.remove(peer);
            return Adoption::Holder;
        }
        // Older than the current version, or the version a delete removed.
        self.holders.remove(peer);
        let bound = if self.deleted_at_ns.is_some() {
            self.version
        } else {
            self.version - 1
        };
        self.schedule_cleanup(peer, bound);
        Adoption::Stale
    }

    /// Drop holder records (a holder answered 404, or a complete inventory did not list the object).
    pub fn drop_holders(&mut self, peers: &[String]) -> usize {
        peers
            .iter()
            .filter(|p| self.holders.remove(p.as_str()).is_some())
            .count()
    }

    /// A delete at `version`: the object is gone for readers at once; `confirmed` peers deleted their copy,
    /// every other holder (stalled, failed, or not live) keeps a pending delete: the tombstone.
    pub fn delete(&mut self, confirmed: &[String], version: u64, now_ns: u64) {
        if version < self.version {
            // A write that started after this delete already committed: it wins.
            return;
        }
        let pending: Vec<String> = self
            .holders
            .keys()
            .filter(|p| !confirmed.contains(p))
            .cloned()
            .collect();
        self.holders.clear();
        for p in pending {
            self.schedule_cleanup(&p, version);
        }
        // Stale copies scheduled earlier are deleted too, whatever their version was.
        for bound in self.cleanup.values_mut() {
            *bound = (*bound).max(version);
        }
        for p in confirmed {
            self.cleanup.remove(p);
        }
        self.version = self.version.max(version);
        self.deleted_at_ns = Some(now_ns);
    }

    /// An update or disable at `version` that `ok` holders applied: the others keep an older copy.
    pub fn update(&mut self, ok: &[String], version: u64, now_ns: u64) {
        if version < self.version {
            return;
        }
        let old: Vec<String> = self.holders.keys().cloned().collect();
        for p in old {
            if !ok.contains(&p) {
                self.holders.remove(&p);
                self.schedule_cleanup(&p, version.saturating_sub(1));
            }
        }
        for p in ok {
            if self.holders.contains_key(p) {
                self.holders.insert(p.clone(), now_ns);
            }
        }
        self.version = self.version.max(version);
    }

    /// A pending delete of `peer`'s copy went through (or found a newer copy, or the peer left).
    pub fn cleanup_done(&mut self, peer: &str) {
        self.cleanup.remove(peer);
    }

    /// The tombstone has done its work: no pending delete and past the retention.
    pub fn tombstone_expired(&self, now_ns: u64) -> bool {
        self.holders.is_empty()
            && self.cleanup.is_empty()
            && self
                .deleted_at_ns
                .is_some_and(|at| now_ns.saturating_sub(at) >= TOMBSTONE_RETENTION_NS)
    }

    /// Forget peers that left the registry: their records and pending deletes.
    pub fn forget_peers(&mut self, gone: &BTreeSet<String>) -> bool {
        let before = (self.holders.len(), self.cleanup.len());
        self.holders.retain(|p, _| !gone.contains(p));
        self.cleanup.retain(|p, _| !gone.contains(p));
        before != (self.holders.len(), self.cleanup.len())
    }

    fn schedule_cleanup(&mut self, peer: &str, bound: u64) {
        let entry = self.cleanup.entry(peer.to_string()).or_insert(bound);
        *entry = (*entry).max(bound);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn commit_replaces_holders_and_schedules_stale_copies() {
        let mut r = ObjectRecord::default();
        r.commit(&s(&["a", "b", "c"]), 10, 3, 1);
        assert_eq!(r.holder_ids(), s(&["a", "b", "c"]));
        assert!(!r.needs_attention());
        // c was down during the overwrite
        r.commit(&s(&["a", "b"]), 20, 3, 2);
        assert_eq!(r.holder_ids(), s(&["a", "b"]));
        assert_eq!(r.cleanup.get("c"), Some(&19));
        assert!(r.needs_attention(), "under-replicated and a stale copy");
        // a late commit of an older version does not win
        r.commit(&s(&["d"]), 15, 3, 3);
        assert_eq!(r.version, 20);
        assert_eq!(r.holder_ids(), s(&["a", "b"]));
        assert_eq!(r.cleanup.get("d"), Some(&15));
    }

    #[test]
    fn found_copies_are_current_newer_or_stale() {
        let mut r = ObjectRecord::default();
        r.commit(&s(&["a"]), 10, 2, 1);
        assert_eq!(r.adopt("b", 10, 2, 2), Adoption::Holder);
        // finding a known holder again changes nothing (its record keeps when it was made)
        let before = r.clone();
        assert_eq!(r.adopt("b", 10, 2, 9), Adoption::Holder);
        assert_eq!(r, before);
        assert_eq!(r.adopt("c", 9, 2, 2), Adoption::Stale);
        assert!(!r.holders.contains_key("c"));
        assert_eq!(r.cleanup["c"], 9);
        assert_eq!(r.adopt("x", 0, 0, 2), Adoption::Unknown);
        assert_eq!(r.adopt("d", 11, 3, 3), Adoption::Newer);
        assert_eq!(r.holder_ids(), s(&["d"]));
        assert_eq!(r.cleanup["a"], 10);
        assert_eq!(r.rf, 3);
        // an unversioned store (version 0) adopts unversioned copies
        let mut legacy = ObjectRecord::default();
        assert_eq!(legacy.adopt("a", 0, 0, 1), Adoption::Holder);
    }

    #[test]
    fn a_delete_holds_until_every_holder_deleted_and_a_later_put_wins() {
        let mut r = ObjectRecord::default();
        r.commit(&s(&["a", "b"]), 10, 2, 1);
        r.delete(&s(&["a"]), 30, 5);
        assert!(!r.is_live());
        assert_eq!(r.cleanup, [("b".to_string(), 30)].into());
        // the stalled holder comes back with its old copy: it is not brought back
        assert_eq!(r.adopt("b", 10, 2, 6), Adoption::Stale);
        assert!(!r.is_live());
        // nor is a copy of exactly the deleted version
        assert_eq!(r.adopt("a", 30, 2, 6), Adoption::Stale);
        // a PUT after the delete wins
        r.commit(&s(&["a"]), 40, 2, 7);
        assert!(r.is_live());
        assert_eq!(r.cleanup.get("b"), Some(&30));
        r.cleanup_done("b");
        assert!(r.needs_attention(), "still under-replicated");
    }

    #[test]
    fn tombstones_expire_after_their_deletes_and_the_retention() {
        let mut r = ObjectRecord::default();
        r.commit(&s(&["a"]), 10, 1, 1);
        r.delete(&s(&[]), 20, 100);
        assert!(!r.tombstone_expired(100 + TOMBSTONE_RETENTION_NS));
        assert!(r.needs_attention(), "a pending delete");
        assert_eq!(r.tombstone_expiry_ns(), None);
        r.cleanup_done("a");
        assert!(!r.tombstone_expired(100));
        assert!(r.tombstone_expired(100 + TOMBSTONE_RETENTION_NS));
        assert!(
            !r.needs_attention(),
            "a finished tombstone does not delay repairs"
        );
        assert_eq!(r.tombstone_expiry_ns(), Some(100 + TOMBSTONE_RETENTION_NS));
        assert!(!r.is_empty());
    }

    #[test]
    fn updates_leave_failed_holders_stale_and_versions_only_grow() {
        let mut r = ObjectRecord::default();
        r.commit(&s(&["a", "b"]), 10, 2, 1);
        r.update(&s(&["a"]), 12, 2);
        assert_eq!(r.holder_ids(), s(&["a"]));
        assert_eq!(r.cleanup["b"], 11);
        // a delete or update that started before the last change loses
        let before = r.clone();
        r.delete(&s(&["a"]), 11, 3);
        r.update(&s(&[]), 11, 3);
        assert_eq!(r, before);
        assert!(r.next_version(5) > 12);
        assert!(r.next_version(1_000_000) >= 1_000_000);
        let gone: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        assert!(r.forget_peers(&gone));
        assert!(r.is_empty());
    }
}
