//! The server-side scripts of the Redis store. `APPLY` is the one script every change goes through: it
//! checks every revision a batch read, then applies the whole batch (records, indexes, groups,
//! reservations) in one atomic step; numbers it must compare are passed as strings, so 64-bit versions
//! never go through Lua's doubles. [`Batch`] encodes a batch of [`Write`]s as the script's KEYS and ARGV.

use std::collections::HashMap;

use super::redis_keys::Keys;
use super::Write;
use crate::cluster::state::now_ns;

/// KEYS[1..6] = rev counter, attention set, object count, groups zset, reservations zset and hash; then
/// the keys the ops name by index. ARGV = now (ms), op count, then per op: `o` / `g` / `r` / `x` and its
/// fields (see the Rust encoder below).
pub const APPLY: &str = r#"
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local REV, ATTN, COUNT, GROUPS, RESV, RESVD = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local ops = {}
local i = 3
local function keys(count)
  local out = {}
  for j = 1, count do out[j] = KEYS[tonumber(ARGV[i])]; i = i + 1 end
  return out
end
for o = 1, n do
  local op = {t = ARGV[i]}; i = i + 1
  if op.t == 'o' or op.t == 'g' then
    op.key = KEYS[tonumber(ARGV[i])]; op.expect = ARGV[i + 1]; op.has = ARGV[i + 2] == '1'
    op.json = ARGV[i + 3]; op.extra = ARGV[i + 4]; op.flag = ARGV[i + 5]; op.member = ARGV[i + 6]
    i = i + 7
    local old = tonumber(ARGV[i]); i = i + 1
    op.old = keys(old)
    local new = tonumber(ARGV[i]); i = i + 1
    op.new = keys(new)
  elseif op.t == 'r' then
    op.id = ARGV[i]; op.json = ARGV[i + 1]; op.exp = ARGV[i + 2]; i = i + 3
  else
    op.id = ARGV[i]; i = i + 1
  end
  ops[o] = op
end
for _, op in ipairs(ops) do
  if op.t == 'o' or op.t == 'g' then
    local cur = redis.call('HGET', op.key, 'rev')
    if not cur then cur = '0' end
    if cur ~= op.expect then return 0 end
  end
end
for _, op in ipairs(ops) do
  if op.t == 'o' then
    local existed = redis.call('EXISTS', op.key) == 1
    for _, k in ipairs(op.old) do redis.call('SREM', k, op.member) end
    if op.has then
      local rev = redis.call('INCR', REV)
      redis.call('HSET', op.key, 'v', op.json, 'rev', rev, 'ver', op.extra)
      for _, k in ipairs(op.new) do redis.call('SADD', k, op.member) end
      if op.flag == '1' then redis.call('SADD', ATTN, op.member) else redis.call('SREM', ATTN, op.member) end
      if not existed then redis.call('INCR', COUNT) end
    else
      redis.call('DEL', op.key)
      redis.call('SREM', ATTN, op.member)
      if existed then redis.call('DECR', COUNT) end
    end
  elseif op.t == 'g' then
    for _, k in ipairs(op.old) do
      if redis.call('GET', k) == op.member then redis.call('DEL', k) end
    end
    if op.has then
      local ttl = tonumber(op.extra)
      local rev = redis.call('INCR', REV)
      redis.call('HSET', op.key, 'v', op.json, 'rev', rev)
      redis.call('PEXPIRE', op.key, ttl)
      for _, k in ipairs(op.new) do redis.call('SET', k, op.member, 'PX', ttl) end
      redis.call('ZADD', GROUPS, now + ttl, op.member)
    else
      redis.call('DEL', op.key)
      redis.call('ZREM', GROUPS, op.member)
    end
  elseif op.t == 'r' then
    redis.call('ZADD', RESV, op.exp, op.id)
    redis.call('HSET', RESVD, op.id, op.json)
  else
    redis.call('ZREM', RESV, op.id)
    redis.call('HDEL', RESVD, op.id)
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

/// The KEYS and ARGV of one `APPLY` call.
pub struct Batch {
    pub keys: Vec<String>,
    pub args: Vec<String>,
    index: HashMap<String, usize>,
}

impl Batch {
    pub fn encode(k: &Keys, writes: &[Write]) -> Result<Batch, serde_json::Error> {
        let keys = vec![
            k.rev(),
            k.attention(),
            k.object_count(),
            k.groups(),
            k.reservations(),
            k.reservation_data(),
        ];
        let mut b = Batch {
            index: keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i))
                .collect(),
            keys,
            args: vec![(now_ns() / 1_000_000).to_string(), writes.len().to_string()],
        };
        for w in writes {
            match w {
                Write::Object { key, prev, next } => {
                    let old: Vec<String> = prev
                        .iter()
                        .flat_map(|p| p.value.holders.keys().map(|h| k.peer_index(h)))
                        .collect();
                    let new: Vec<String> = next
                        .iter()
                        .flat_map(|r| r.holders.keys().map(|h| k.peer_index(h)))
                        .collect();
                    let json = match next {
                        Some(r) => serde_json::to_string(r)?,
                        None => String::new(),
                    };
                    let version = next.as_ref().map_or(0, |r| r.version).to_string();
                    let attention = next.as_ref().is_some_and(|r| r.needs_attention());
                    b.op(
                        "o",
                        &k.object(key),
                        prev.as_ref().map_or(0, |p| p.rev),
                        next.is_some(),
                        json,
                        version,
                        attention,
                        key,
                        &old,
                        &new,
                    );
                }
                Write::Group {
                    id,
                    prev,
                    next,
                    ttl,
                } => {
                    let tasks = |g: &crate::cluster::TaskGroup| -> Vec<String> {
                        g.tasks
                            .iter()
                            .filter(|t| t.task_id != g.group_id)
                            .map(|t| k.task(&t.task_id))
                            .collect()
                    };
                    let old: Vec<String> = prev.iter().flat_map(|p| tasks(&p.value)).collect();
                    let new: Vec<String> = next.iter().flat_map(tasks).collect();
                    let json = match next {
                        Some(g) => serde_json::to_string(g)?,
                        None => String::new(),
                    };
                    let ttl_ms = (ttl.as_millis() as u64).max(1).to_string();
                    b.op(
                        "g",
                        &k.group(id),
                        prev.as_ref().map_or(0, |p| p.rev),
                        next.is_some(),
                        json,
                        ttl_ms,
                        false,
                        id,
                        &old,
                        &new,
                    );
                }
                Write::Reserve(r) => {
                    b.args.push("r".into());
                    b.args.push(r.id.clone());
                    b.args.push(serde_json::to_string(r)?);
                    b.args.push((r.expires_at_ns / 1_000_000).to_string());
                }
                Write::Release(id) => {
                    b.args.push("x".into());
                    b.args.push(id.clone());
                }
            }
        }
        Ok(b)
    }

    fn key_index(&mut self, key: &str) -> String {
        let next = self.keys.len();
        let i = *self.index.entry(key.to_string()).or_insert(next);
        if i == next {
            self.keys.push(key.to_string());
        }
        (i + 1).to_string()
    }

    #[allow(clippy::too_many_arguments)]
    fn op(
        &mut self,
        kind: &str,
        key: &str,
        expect: u64,
        has_next: bool,
        json: String,
        extra: String,
        flag: bool,
        member: &str,
        old: &[String],
        new: &[String],
    ) {
        let key_i = self.key_index(key);
        self.args.extend([
            kind.to_string(),
            key_i,
            expect.to_string(),
            if has_next { "1" } else { "0" }.to_string(),
            json,
            extra,
            if flag { "1" } else { "0" }.to_string(),
            member.to_string(),
            old.len().to_string(),
        ]);
        for o in old {
            let i = self.key_index(o);
            self.args.push(i);
        }
        self.args.push(new.len().to_string());
        for n in new {
            let i = self.key_index(n);
            self.args.push(i);
        }
    }
}
