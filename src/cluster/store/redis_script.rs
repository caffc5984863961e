//! The server-side scripts of the Redis store. `APPLY` is the one script every record and group change
//! goes through, one call per shard: it checks every revision the shard's part of a batch read, then
//! applies that part (records, indexes, counters, groups) in one atomic step. Numbers it must compare are
//! passed as strings, so 64-bit versions never go through Lua's doubles. [`Plan`] splits a batch of
//! [`Write`]s into those per-shard calls, the group locators to write first and the reservation changes
//! to make after.

use std::collections::BTreeMap;
use std::collections::HashMap;

use super::record_codec;
use super::redis_keys::{shard_of, Keys};
use super::Write;
use crate::cluster::state::now_ns;
use crate::cluster::types::{Reservation, TaskGroup};

/// KEYS[1..5] = the shard's rev counter, attention set, object count, groups zset and tombstones zset;
/// then the keys
/// the ops name by index. ARGV = now (ms), op count, then per op: `o` / `g` and its fields (see
/// [`ShardCall::op`]).
pub const APPLY: &str = r#"
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local REV, ATTN, COUNT, GROUPS, TOMBS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local ops = {}
local i = 3
local function keys(count)
  local out = {}
  for j = 1, count do out[j] = KEYS[tonumber(ARGV[i])]; i = i + 1 end
  return out
end
for o = 1, n do
  local op = {t = ARGV[i]}
  op.key = KEYS[tonumber(ARGV[i + 1])]; op.expect = ARGV[i + 2]; op.has = ARGV[i + 3] == '1'
  op.json = ARGV[i + 4]; op.extra = ARGV[i + 5]; op.flag = ARGV[i + 6]; op.member = ARGV[i + 7]
  op.tomb = ARGV[i + 8]
  i = i + 9
  local old = tonumber(ARGV[i]); i = i + 1
  op.old = keys(old)
  local new = tonumber(ARGV[i]); i = i + 1
  op.new = keys(new)
  ops[o] = op
end
for _, op in ipairs(ops) do
  local cur = redis.call('HGET', op.key, 'rev')
  if not cur then cur = '0' end
  if cur ~= op.expect then return 0 end
end
for _, op in ipairs(ops) do
  if op.t == 'o' then
    local existed = redis.call('EXISTS', op.key) == 1
    for _, k in ipairs(op.old) do redis.call('HDEL', k, op.member) end
    if op.has then
      local rev = redis.call('INCR', REV)
      redis.call('HSET', op.key, 'v', op.json, 'rev', rev, 'ver', op.extra)
      for _, k in ipairs(op.new) do redis.call('HSET', k, op.member, '') end
      if op.flag == '1' then redis.call('SADD', ATTN, op.member) else redis.call('SREM', ATTN, op.member) end
      if op.tomb ~= '' then redis.call('ZADD', TOMBS, op.tomb, op.member) else redis.call('ZREM', TOMBS, op.member) end
      if not existed then redis.call('INCR', COUNT) end
    else
      redis.call('DEL', op.key)
      redis.call('SREM', ATTN, op.member)
      redis.call('ZREM', TOMBS, op.member)
      if existed then redis.call('DECR', COUNT) end
    end
  else
    if op.has then
      local ttl = tonumber(op.extra)
      local rev = redis.call('INCR', REV)
      redis.call('HSET', op.key, 'v', op.json, 'rev', rev)
      redis.call('PEXPIRE', op.key, ttl)
      redis.call('ZADD', GROUPS, now + ttl, op.member)
    else
      redis.call('DEL', op.key)
      redis.call('ZREM', GROUPS, op.member)
    end
  end
end
return 1
"#;

/// Live reservations: KEYS = zset, hash; ARGV = now (ms). Returns their JSON documents.
pub const RESERVATIONS: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
"#;

/// Take or keep a lease: KEYS = lease key; ARGV = owner, ttl (ms). 1 when `owner` holds it.
pub const LEASE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// The KEYS and ARGV of one `APPLY` call (one shard).
pub struct ShardCall {
    pub shard: u16,
    pub keys: Vec<String>,
    /// Binary-safe: records go in their compact encoding.
    pub args: Vec<Vec<u8>>,
    index: HashMap<String, usize>,
    ops: usize,
}

/// A locator: key, value (`shard group`), TTL (ms).
pub type Locator = (String, String, u64);

/// A batch of writes as Redis calls: locators first, then one `APPLY` per shard, then the reservations.
#[derive(Default)]
pub struct Plan {
    pub locators: Vec<Locator>,
    pub shards: Vec<ShardCall>,
    pub reserve: Vec<Reservation>,
    pub release: Vec<String>,
}

/// The shard of a group: its object's.
pub fn group_shard(g: &TaskGroup) -> u16 {
    shard_of(&format!("{}@{}", g.bucket_id, g.key))
}

impl Plan {
    pub fn encode(k: &Keys, writes: Vec<Write>) -> Result<Plan, serde_json::Error> {
        let now_ms = (now_ns() / 1_000_000).to_string();
        let mut plan = Plan::default();
        let mut shards: BTreeMap<u16, ShardCall> = BTreeMap::new();
        for w in writes {
            match w {
                Write::Object { key, prev, next } => {
                    let shard = shard_of(&key);
                    let index = |holders: Vec<&String>| -> Vec<String> {
                        holders
                            .into_iter()
                            .map(|h| k.peer_index(shard, h))
                            .collect()
                    };
                    let old = index(prev.iter().flat_map(|p| p.value.holders.keys()).collect());
                    let new = index(next.iter().flat_map(|r| r.holders.keys()).collect());
                    let json = next.as_ref().map_or(Vec::new(), record_codec::encode);
                    let version = next.as_ref().map_or(0, |r| r.version).to_string();
                    let attention = next.as_ref().is_some_and(|r| r.needs_attention());
                    let tomb = next
                        .as_ref()
                        .and_then(|r| r.tombstone_expiry_ns())
                        .map_or(String::new(), |at| (at / 1_000_000).to_string());
                    call(&mut shards, k, shard, &now_ms).op(Op {
                        kind: "o",
                        key: &k.object(&key),
                        expect: prev.as_ref().map_or(0, |p| p.rev),
                        has_next: next.is_some(),
                        json,
                        extra: version,
                        flag: attention,
                        tomb,
                        member: &key,
                        old: &old,
                        new: &new,
                    });
                }
                Write::Group {
                    id,
                    prev,
                    next,
                    ttl,
                } => {
                    let Some(g) = next.as_ref().or(prev.as_ref().map(|p| &p.value)) else {
                        continue;
                    };
                    let shard = group_shard(g);
                    let ttl_ms = (ttl.as_millis() as u64).max(1);
                    let json = match &next {
                        Some(g) => {
                            let at = format!("{shard} {id}");
                            plan.locators.push((k.locator(&id), at.clone(), ttl_ms));
                            for t in g.tasks.iter().filter(|t| t.task_id != id) {
                                plan.locators
                                    .push((k.locator(&t.task_id), at.clone(), ttl_ms));
                            }
                            serde_json::to_vec(g)?
                        }
                        None => Vec::new(),
                    };
                    call(&mut shards, k, shard, &now_ms).op(Op {
                        kind: "g",
                        key: &k.group(shard, &id),
                        expect: prev.as_ref().map_or(0, |p| p.rev),
                        has_next: next.is_some(),
                        json,
                        extra: ttl_ms.to_string(),
                        flag: false,
                        tomb: String::new(),
                        member: &id,
                        old: &[],
                        new: &[],
                    });
                }
                Write::Reserve(r) => plan.reserve.push(r),
                Write::Release(id) => plan.release.push(id),
            }
        }
        plan.shards = shards.into_values().collect();
        Ok(plan)
    }
}

/// The `APPLY` call of `shard`, made on first use.
fn call<'a>(
    shards: &'a mut BTreeMap<u16, ShardCall>,
    k: &Keys,
    shard: u16,
    now_ms: &str,
) -> &'a mut ShardCall {
    shards.entry(shard).or_insert_with(|| {
        ShardCall::new(
            shard,
            vec![
                k.rev(shard),
                k.attention(shard),
                k.object_count(shard),
                k.groups(shard),
                k.tombstones(shard),
            ],
            now_ms,
        )
    })
}

/// One op of an `APPLY` call.
pub struct Op<'a> {
    pub kind: &'static str,
    pub key: &'a str,
    pub expect: u64,
    pub has_next: bool,
    /// The stored value (a compact record or a group's JSON); empty when deleted.
    pub json: Vec<u8>,
    pub extra: String,
    pub flag: bool,
    /// A finished tombstone's expiry (ms), or empty.
    pub tomb: String,
    pub member: &'a str,
    pub old: &'a [String],
    pub new: &'a [String],
}

impl ShardCall {
    fn new(shard: u16, keys: Vec<String>, now_ms: &str) -> ShardCall {
        ShardCall {
            shard,
            index: keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i))
                .collect(),
            keys,
            ops: 0,
            args: vec![now_ms.as_bytes().to_vec(), b"0".to_vec()],
        }
    }

    fn key_index(&mut self, key: &str) -> Vec<u8> {
        let next = self.keys.len();
        let i = *self.index.entry(key.to_string()).or_insert(next);
        if i == next {
            self.keys.push(key.to_string());
        }
        (i + 1).to_string().into_bytes()
    }

    /// ARGV per op: kind, key index, expected rev, has next, JSON, extra (version or TTL ms), attention
    /// flag, member, tombstone expiry (ms or empty), then the counts and indexes of the index sets to leave and to join.
    fn op(&mut self, op: Op<'_>) {
        self.ops += 1;
        self.args[1] = self.ops.to_string().into_bytes();
        let key_i = self.key_index(op.key);
        let flag = |b: bool| if b { b"1".to_vec() } else { b"0".to_vec() };
        self.args.extend([
            op.kind.as_bytes().to_vec(),
            key_i,
            op.expect.to_string().into_bytes(),
            flag(op.has_next),
            op.json,
            op.extra.into_bytes(),
            flag(op.flag),
            op.member.as_bytes().to_vec(),
            op.tomb.into_bytes(),
            op.old.len().to_string().into_bytes(),
        ]);
        for o in op.old {
            let i = self.key_index(o);
            self.args.push(i);
        }
        self.args.push(op.new.len().to_string().into_bytes());
        for n in op.new {
            let i = self.key_index(n);
            self.args.push(i);
        }
    }
}
