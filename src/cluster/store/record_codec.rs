//! The compact encoding of an object record in Redis: short enough (about 75 bytes for an rf-3 object
//! with 15-character peer ids) that Redis keeps the record's hash in its compact listpack encoding
//! (with `hash-max-listpack-value 128`), instead of a hash table of JSON.
//!
//! Layout: the byte `1`, then LEB128 varints: version, rf, a tombstone flag (0/1) and, when set, the delete
//! time; the holders (count, then per holder: id length, id bytes, recorded-at); the pending deletes
//! (count, then per peer: id length, id bytes, version bound). Times and bounds are stored as zigzag
//! differences from the version, which a clock-based version keeps small. A record whose differences do
//! not fit is stored as JSON; [`decode`] reads both (a JSON record starts with `{`).

use std::collections::BTreeMap;

use integer_encoding::VarInt;

use crate::cluster::record::ObjectRecord;

const COMPACT: u8 = 1;

/// The stored form of `r`.
pub fn encode(r: &ObjectRecord) -> Vec<u8> {
    compact(r).unwrap_or_else(|| serde_json::to_vec(r).expect("a record serialises"))
}

/// A record from its stored form (compact or JSON).
pub fn decode(bytes: &[u8]) -> Result<ObjectRecord, String> {
    match bytes.split_first() {
        Some((&COMPACT, rest)) => {
            let mut reader = Reader { bytes: rest };
            reader
                .record()
                .ok_or_else(|| "a truncated compact record".to_string())
        }
        _ => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
    }
}

fn compact(r: &ObjectRecord) -> Option<Vec<u8>> {
    let base = i128::from(r.version);
    let delta = |x: u64| i64::try_from(i128::from(x) - base).ok();
    let mut out = vec![COMPACT];
    let put = |out: &mut Vec<u8>, n: u64| out.extend(n.encode_var_vec());
    put(&mut out, r.version);
    put(&mut out, u64::from(r.rf));
    match r.deleted_at_ns {
        None => put(&mut out, 0),
        Some(at) => {
            put(&mut out, 1);
            out.extend(delta(at)?.encode_var_vec());
        }
    }
    for map in [&r.holders, &r.cleanup] {
        put(&mut out, map.len() as u64);
        for (peer, at) in map {
            put(&mut out, peer.len() as u64);
            out.extend(peer.as_bytes());
            out.extend(delta(*at)?.encode_var_vec());
        }
    }
    Some(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn var<T: VarInt>(&mut self) -> Option<T> {
        let (n, used) = T::decode_var(self.bytes)?;
        self.bytes = &self.bytes[used..];
        Some(n)
    }

    fn after_base(&mut self, base: u64) -> Option<u64> {
        let d: i64 = self.var()?;
        u64::try_from(i128::from(base) + i128::from(d)).ok()
    }

    fn map(&mut self, base: u64) -> Option<BTreeMap<String, u64>> {
        let n: u64 = self.var()?;
        let mut out = BTreeMap::new();
        for _ in 0..n {
            let len = usize::try_from(self.var::<u64>()?).ok()?;
            let id = self.bytes.get(..len)?;
            let id = String::from_utf8(id.to_vec()).ok()?;
            self.bytes = &self.bytes[len..];
            out.insert(id, self.after_base(base)?);
        }
        Some(out)
    }

    fn record(&mut self) -> Option<ObjectRecord> {
        let version: u64 = self.var()?;
        let rf = u32::try_from(self.var::<u64>()?).ok()?;
        let deleted_at_ns = match self.var::<u64>()? {
            0 => None,
            _ => Some(self.after_base(version)?),
        };
        let holders = self.map(version)?;
        let cleanup = self.map(version)?;
        self.bytes.is_empty().then_some(ObjectRecord {
            holders,
            version,
            rf,
            deleted_at_ns,
            cleanup,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("mictlanx-peer-{i}")).collect()
    }

    #[test]
    fn records_round_trip_compactly() {
        let now = 1_765_000_000_123_456_789u64;
        let mut r = ObjectRecord::default();
        r.commit(&peers(3), now + 517, 3, now);
        let stored = encode(&r);
        assert_eq!(stored[0], COMPACT);
        assert!(stored.len() <= 80, "{} bytes", stored.len());
        assert_eq!(decode(&stored).unwrap(), r);
        // a tombstone with a pending delete
        r.delete(&peers(2), now + 9_000, now + 10_000);
        assert_eq!(decode(&encode(&r)).unwrap(), r);
    }

    #[test]
    fn extreme_values_fall_back_to_json_and_json_still_reads() {
        let mut r = ObjectRecord::default();
        r.commit(&peers(2), u64::MAX - 7, 3, 1);
        let stored = encode(&r);
        assert_eq!(stored[0], b'{');
        assert_eq!(decode(&stored).unwrap(), r);
        assert!(decode(&[COMPACT, 5]).is_err(), "truncated");
        assert!(decode(b"not a record").is_err());
    }
}
