//! The Redis key layout of one storage space. Every key starts with the hash tag `{prefix}`, so the whole
//! space lives in one Redis Cluster slot and every script and transaction touches one slot only; several
//! spaces share one Redis with different prefixes (`MICTLANX_ROUTER_REDIS_PREFIX`).
//!
//! | key | type | content |
//! |---|---|---|
//! | `{p}:reg:added` | hash | peer id → `PeerInfo` JSON (peers added at run time) |
//! | `{p}:reg:removed` | set | peer ids removed at run time |
//! | `{p}:o:{bucket@key}` | hash | `v` = `ObjectRecord` JSON, `rev` = revision, `ver` = version (decimal) |
//! | `{p}:op:{peer}` | set | combined keys the peer holds (the per-peer index) |
//! | `{p}:attn` | set | combined keys whose record needs attention (repair, pending deletes, tombstones) |
//! | `{p}:count:o` | string | number of object records |
//! | `{p}:g:{group}` | hash | `v` = `TaskGroup` JSON, `rev`; expires with the group (PEXPIRE) |
//! | `{p}:t:{task}` | string | group id of a member task id; expires with the group |
//! | `{p}:groups` | zset | group id scored by expiry (ms), for the gauge and the sweep |
//! | `{p}:resv`, `{p}:resvd` | zset, hash | reservation id scored by expiry (ms); id → `Reservation` JSON |
//! | `{p}:rev` | string | the revision counter (every write takes the next value: no ABA) |
//! | `{p}:lease:{name}` | string | owner of a lease (PX = its TTL), e.g. `leader` |
//! | `{p}:doc:{name}`, `{p}:docs` | string, set | JSON documents (drain and repair status); their names |
//! | `{p}:epoch` | string | identity of the data set; a Redis that restarted empty has none, so a new one |

pub struct Keys {
    tag: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            tag: format!("{{{prefix}}}"),
        }
    }

    fn k(&self, rest: &str) -> String {
        format!("{}:{rest}", self.tag)
    }

    pub fn added(&self) -> String {
        self.k("reg:added")
    }
    pub fn removed(&self) -> String {
        self.k("reg:removed")
    }
    pub fn object(&self, combined: &str) -> String {
        self.k(&format!("o:{combined}"))
    }
    pub fn peer_index(&self, peer_id: &str) -> String {
        self.k(&format!("op:{peer_id}"))
    }
    pub fn attention(&self) -> String {
        self.k("attn")
    }
    pub fn object_count(&self) -> String {
        self.k("count:o")
    }
    pub fn group(&self, id: &str) -> String {
        self.k(&format!("g:{id}"))
    }
    pub fn task(&self, id: &str) -> String {
        self.k(&format!("t:{id}"))
    }
    pub fn groups(&self) -> String {
        self.k("groups")
    }
    pub fn reservations(&self) -> String {
        self.k("resv")
    }
    pub fn reservation_data(&self) -> String {
        self.k("resvd")
    }
    pub fn rev(&self) -> String {
        self.k("rev")
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
    pub fn epoch(&self) -> String {
        self.k("epoch")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_shares_the_hash_tag() {
        let k = Keys::new("space1");
        for key in [
            k.added(),
            k.object("b@k"),
            k.peer_index("p"),
            k.group("g"),
            k.task("t"),
            k.lease("leader"),
            k.doc("drain/p"),
            k.epoch(),
        ] {
            assert!(key.starts_with("{space1}:"), "{key}");
        }
    }
}
