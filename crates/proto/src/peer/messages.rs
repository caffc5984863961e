//! Request and answer bodies of the peer API v4 (`docs/peer-api.md` §3, §6). The peer serves these types and
//! the router's peer client decodes them, so one definition fixes the field names and JSON types on both
//! sides. Decoding is lenient where peers may differ (a float `service_time`, a missing `local_peer_id`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{default_content_type, Metadata};

/// #1 `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub peer_id: String,
}

/// #2 `GET /api/v4/stats/ufs`: the health probe's disk figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UfsStats {
    pub total_disk: u64,
    pub used_disk: u64,
    pub disk_uf: f64,
}

/// #3 `GET /api/v4/stats`: exactly these seven keys (the router relays them in `/api/v4/peers/stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeerStats {
    pub peer_id: String,
    pub used_disk: u64,
    pub total_disk: u64,
    pub available_disk: u64,
    pub disk_uf: f64,
    pub balls: Vec<Metadata>,
    pub peers: Vec<String>,
}

/// One row of #4 `GET /api/v4/xballs/size`: the array `[bucket_id, key, size]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XBallSize(pub String, pub String, pub u64);

/// One item of #5 `GET /api/v4/xballs` (inventory paging).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XBall {
    pub bucket_id: String,
    pub key: String,
    pub size: u64,
    /// Peer API extension: the copy's version (0 = the peer does not report one).
    #[serde(default)]
    pub version: u64,
    /// Peer API extension: the desired rf recorded with the copy (0 = unknown).
    #[serde(default)]
    pub replication_factor: u32,
}

/// #5a `GET /api/v4/xballs/digests`: one digest per shard ([`crate::shard`]), `digests[n]` for shard `n`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardDigests {
    /// The number of shards (`SHARDS`); a caller that expects another number must not use the digests.
    pub shards: u16,
    pub digests: Vec<ShardDigest>,
}

/// The digest of one shard: XOR over its committed objects of a 64-bit hash of the object's `bucket_id`,
/// `key`, `version` and `replication_factor` (`0` = an empty shard). On the wire a string of 16 lowercase
/// hex digits, as JSON numbers lose precision above 2^53.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ShardDigest(pub u64);

impl Serialize for ShardDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:016x}", self.0))
    }
}

impl<'de> Deserialize<'de> for ShardDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != 16 {
            return Err(serde::de::Error::custom(format!(
                "a shard digest is 16 hex digits, not {s:?}"
            )));
        }
        u64::from_str_radix(&s, 16)
            .map(ShardDigest)
            .map_err(|e| serde::de::Error::custom(format!("shard digest {s:?}: {e}")))
    }
}

/// #6 `GET /api/v4/balls/len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallsLen {
    pub len: u64,
}

/// #8 `POST /api/v4/nodes`: a neighbour's announcement, echoed as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: String,
    pub disk: i64,
    pub memory: i64,
    pub ip_addr: String,
    pub port: i64,
    pub weight: f64,
    pub used_disk: i64,
    pub used_memory: i64,
}

/// #9 `GET /api/v4/peers/state`: this peer's address and its objects in the window, by combined key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeersState {
    pub nodes: Vec<PeerAddress>,
    pub balls: BTreeMap<String, BallLocations>,
}

/// An entry of [`PeersState::nodes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAddress {
    pub node_id: String,
    pub ip_addr: String,
    pub port: u16,
}

/// A value of [`PeersState::balls`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallLocations {
    pub locations: Vec<String>,
    pub size: u64,
}

/// #10 `GET /api/v4/buckets/{b}/metadata`: the bucket's objects on one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerBucketMetadata {
    pub peer_id: String,
    pub balls: Vec<Metadata>,
}

/// Body of #11, put metadata (`docs/peer-api.md` §3.1), as the router sends it. `is_disabled` goes out as
/// `is_disable`, the spelling the original router sent (the peer accepts both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerPutMetadata {
    pub bucket_id: String,
    pub key: String,
    pub ball_id: String,
    pub checksum: String,
    pub size: u64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub producer_id: String,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    #[serde(rename = "is_disable", default)]
    pub is_disabled: bool,
}

/// The 201 answer of #11.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerPutMetadataResponse {
    pub key: String,
    /// Milliseconds, always an integer (the MictlanX client's model rejects floats).
    #[serde(default, deserialize_with = "int_or_float")]
    pub service_time: i64,
    pub task_id: String,
    pub node_id: String,
}

/// #12 `GET /api/v4/buckets/{b}/metadata/{k}` (`docs/router-api.md` §5.5): exactly four keys when relayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetMetadataResponse {
    /// Milliseconds, always an integer (a float from a peer is truncated).
    pub service_time: i64,
    pub peer_id: String,
    pub local_peer_id: String,
    pub metadata: Metadata,
}

impl<'de> Deserialize<'de> for GetMetadataResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default, deserialize_with = "int_or_float")]
            service_time: i64,
            peer_id: String,
            #[serde(default)]
            local_peer_id: Option<String>,
            metadata: Metadata,
        }
        let raw = Raw::deserialize(d)?;
        let local_peer_id = raw.local_peer_id.unwrap_or_else(|| raw.peer_id.clone());
        Ok(Self {
            service_time: raw.service_time,
            peer_id: raw.peer_id,
            local_peer_id,
            metadata: raw.metadata,
        })
    }
}

/// #13 `GET /api/v4/buckets/{b}/metadata/{ball_id}/group` on one peer (#14 answers the bare `balls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerBallGroup {
    pub bucket_id: String,
    pub ball_id: String,
    pub size: u64,
    pub balls: Vec<Metadata>,
}

/// The 201 answer of #15 and #16, the data upload (`docs/peer-api.md` §3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerPutDataResponse {
    pub node_id: String,
    pub combined_key: String,
    pub bucket_id: String,
    pub key: String,
    pub size: u64,
    /// Bytes per second.
    #[serde(default)]
    pub throughput: f64,
    /// Seconds, a float (unlike the other `service_time`s).
    #[serde(default)]
    pub service_time: f64,
}

/// #17 `GET /api/v4/buckets/{b}/{k}/size` (`docs/router-api.md` §5.10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetSizeByKey {
    pub bucket_id: String,
    pub key: String,
    pub peer_id: String,
    pub size: u64,
}

/// #19 `POST /api/v4/buckets/{b}/{k}/replicate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicateResponse {
    pub peer_id: String,
    pub replica_peer_id: String,
    pub bucket_id: String,
    pub key: String,
    pub size: u64,
    pub ok: bool,
    /// Milliseconds.
    pub response_time: u64,
}

/// #20 `DELETE /api/v4/buckets/{b}/bid/{ball_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteBallResponse {
    pub n_deletes: u64,
    pub ball_id: String,
}

/// #22 `DELETE /api/v4/buckets/{b}/{k}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteResponse {
    pub n_deletes: u64,
    pub key: String,
}

/// What both delete answers share; callers read the count from the `n-deletes` header first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NDeletes {
    pub n_deletes: u64,
}

fn int_or_float<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = serde_json::Number::deserialize(d)?;
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() => Ok(f.trunc() as i64),
        _ => Err(serde::de::Error::custom("service_time is not a number")),
    }
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
