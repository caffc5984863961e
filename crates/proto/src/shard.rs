//! The shards objects are spread over: the state store keeps its records and per-peer indexes by shard
//! (`src/cluster/store/redis_keys.rs`), and a storage peer keeps a digest and an ordered listing per shard,
//! so an inventory pass can skip a shard whose copies did not change (`docs/replica-manager.md` §7.2).
//! Both sides must agree on the function: it is part of the Redis layout and of the peer API.

/// How many shards one space is spread over. Part of the layout: changing it moves every object.
pub const SHARDS: u16 = 1024;

/// The shard of an object (`bucket@key`), a group or task id: CRC-32 (IEEE) of the name modulo [`SHARDS`].
pub fn shard_of(name: &str) -> u16 {
    (crc32fast::hash(name.as_bytes()) % u32::from(SHARDS)) as u16
}

/// The shard of the object `key` of bucket `bucket_id` (the shard of `bucket_id@key`), without building
/// the combined name.
pub fn object_shard(bucket_id: &str, key: &str) -> u16 {
    let mut h = crc32fast::Hasher::new();
    h.update(bucket_id.as_bytes());
    h.update(b"@");
    h.update(key.as_bytes());
    (h.finalize() % u32::from(SHARDS)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_shard_is_the_shard_of_the_combined_key() {
        for (b, k) in [("b", "k"), ("bucket", "key-1"), ("x", ""), ("a@b", "c")] {
            assert_eq!(object_shard(b, k), shard_of(&format!("{b}@{k}")));
        }
        // part of the Redis layout: these values must never change
        assert_eq!(shard_of("b@k"), (crc32fast::hash(b"b@k") % 1024) as u16);
        assert_eq!(shard_of(""), 0);
    }
}
