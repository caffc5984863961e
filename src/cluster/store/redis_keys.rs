//! The Redis key layout of one storage space. The objects of a space are spread over [`SHARDS`] shards
//! by a hash of the object's `bucket@key` (not of the bucket, so one huge bucket does not pin a node);
//! every key of a shard carries the hash tag `{prefix:N}`, so on a Redis Cluster a shard is one slot and
//! the shards spread over the masters. Everything one atomic step touches is in one shard: an object's
//! record, its index entries, the shard's counters and the object's upload group. The small space-wide
//! state (registry, reservations, leases, documents, epoch) has the tag `{prefix}`, a slot of its own.
//! Standalone Redis ignores the tags and keeps the same layout. Several spaces share one Redis with
//! different prefixes (`MICTLANX_ROUTER_REDIS_PREFIX`).
//!
//! | key | type | content |
//! |---|---|---|
//! | `{p}:reg:added` | hash | peer id → `PeerInfo` JSON (peers added at run time) |
//! | `{p}:reg:removed` | set | peer ids removed at run time |
//! | `{p}:resv`, `{p}:resvd` | zset, hash | reservation id scored by expiry (ms); id → `Reservation` JSON |
//! | `{p}:lease:{name}` | string | owner of a lease (PX = its TTL), e.g. `leader` |
//! | `{p}:doc:{name}`, `{p}:docs` | string, set | JSON documents (drain and repair status); their names |
//! | `{p}:epoch:s1024` | string | identity of the data set (named after the layout); a Redis that restarted empty has none, so a new one |
//! | `{p:N}:o:{bucket@key}` | hash | `v` = `ObjectRecord` JSON, `rev` = revision, `ver` = version (decimal) |
//! | `{p:N}:op:{peer}` | hash | the shard's keys the peer holds (the per-peer index), as fields with empty values: a small hash stays a compact listpack (`hash-max-listpack-entries`) |
//! | `{p:N}:attn` | set | the shard's keys whose record needs attention (repair, pending deletes) |
//! | `{p:N}:tomb` | zset | the shard's finished tombstones (no pending delete) scored by expiry (ms) |
//! | `{p:N}:count:o` | string | number of object records in the shard |
//! | `{p:N}:rev` | string | the shard's revision counter (every write takes the next value: no ABA) |
//! | `{p:N}:g:{group}` | hash | `v` = `TaskGroup` JSON, `rev`; in its object's shard, expires with the group |
//! | `{p:N}:groups` | zset | the shard's group ids scored by expiry (ms), for the gauge and the sweep |
//! | `{p:M}:loc:{id}` | string | `N group` for a group id or member task id (M = the id's own shard); expires with the group |
//!
//! A group is found by any of its ids through its locators, which are written (with the group's TTL)
//! before the atomic step that writes the group: a crash in between leaves only locators that expire.

pub use mictlanx_proto::shard::{shard_of, SHARDS};

pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_string(),
        }
    }

    /// A space-wide key.
    fn k(&self, rest: &str) -> String {
        format!("{{{}}}:{rest}", self.prefix)
    }

    /// A key of shard `shard`.
    fn s(&self, shard: u16, rest: &str) -> String {
        format!("{{{}:{shard}}}:{rest}", self.prefix)
    }

    pub fn added(&self) -> String {
        self.k("reg:added")
    }
    pub fn removed(&self) -> String {
        self.k("reg:removed")
    }
    pub fn reservations(&self) -> String {
        self.k("resv")
    }
    pub fn reservation_data(&self) -> String {
        self.k("resvd")
    }
    pub fn lease(&self, name: &str) -> String {
        self.k(&format!("lease:{name}"))
    }
    pub fn doc(&self, name: &str) -> String {
        self.k(&format!("doc:{name}"))
    }
    pub fn docs(&self) -> String {
        self.k("docs")
    }
    /// Named after the shard count: a space written with another layout has another epoch, so the
    /// routers rebuild the replica map from the peers after an upgrade, as after an empty Redis.
    pub fn epoch(&self) -> String {
        self.k(&format!("epoch:s{SHARDS}"))
    }

    pub fn object(&self, combined: &str) -> String {
        self.s(shard_of(combined), &format!("o:{combined}"))
    }
    pub fn peer_index(&self, shard: u16, peer_id: &str) -> String {
        self.s(shard, &format!("op:{peer_id}"))
    }
    pub fn attention(&self, shard: u16) -> String {
        self.s(shard, "attn")
    }
    pub fn object_count(&self, shard: u16) -> String {
        self.s(shard, "count:o")
    }
    pub fn rev(&self, shard: u16) -> String {
        self.s(shard, "rev")
    }
    pub fn group(&self, shard: u16, id: &str) -> String {
        self.s(shard, &format!("g:{id}"))
    }
    pub fn groups(&self, shard: u16) -> String {
        self.s(shard, "groups")
    }
    pub fn tombstones(&self, shard: u16) -> String {
        self.s(shard, "tomb")
    }
    /// The locator of a group or member task id, in the id's own shard.
    pub fn locator(&self, id: &str) -> String {
        self.s(shard_of(id), &format!("loc:{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_and_its_index_entries_share_one_hash_tag() {
        let k = Keys::new("space1");
        let n = shard_of("b@k");
        let tag = format!("{{space1:{n}}}:");
        for key in [
            k.object("b@k"),
            k.peer_index(n, "p"),
            k.attention(n),
            k.object_count(n),
            k.rev(n),
            k.group(n, "g"),
            k.groups(n),
            k.tombstones(n),
        ] {
            assert!(key.starts_with(&tag), "{key}");
        }
        for key in [k.added(), k.lease("leader"), k.doc("drain/p"), k.epoch()] {
            assert!(key.starts_with("{space1}:"), "{key}");
        }
    }

    #[test]
    fn objects_of_one_bucket_spread_over_the_shards() {
        let used: std::collections::BTreeSet<u16> = (0..10_000)
            .map(|i| shard_of(&format!("bucket@key-{i}")))
            .collect();
        assert!(used.len() > usize::from(SHARDS) * 9 / 10, "{}", used.len());
        assert!(used.iter().all(|s| *s < SHARDS));
    }
}
