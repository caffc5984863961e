//! Wire shapes of the peer API v4 answers the router reads (`peer-api.md` §3, §6), parsed leniently where
//! peers may differ (float `service_time`, missing `local_peer_id`).

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

use mictlanx_proto::model::{default_content_type, Metadata};

/// `GET /api/v4/stats/ufs`: the health probe's disk figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UfsStats {
    pub total_disk: u64,
    pub used_disk: u64,
    pub disk_uf: f64,
}

/// One item of `GET /api/v4/xballs` (inventory paging).
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

/// `GET /api/v4/buckets/{b}/metadata/{k}` (`router-api.md` §5.5): exactly four keys when relayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GetMetadataResponse {
    /// Always an integer (a float from a peer is truncated).
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

/// Body of the peer's put metadata (`peer-api.md` §3.1). `is_disabled` goes out as `is_disable`, the
/// spelling the original router sent.
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

/// The peer's 201 answer to put metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerPutMetadataResponse {
    pub key: String,
    #[serde(default, deserialize_with = "int_or_float")]
    pub service_time: i64,
    pub task_id: String,
    pub node_id: String,
}

/// The peer's 201 answer to a data upload (`peer-api.md` §3.2 step 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerPutDataResponse {
    pub node_id: String,
    pub combined_key: String,
    pub bucket_id: String,
    pub key: String,
    pub size: u64,
    #[serde(default)]
    pub throughput: f64,
    #[serde(default)]
    pub service_time: f64,
}

/// `GET /api/v4/buckets/{b}/metadata` on one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerBucketMetadata {
    pub peer_id: String,
    pub balls: Vec<Metadata>,
}

/// `GET /api/v4/buckets/{b}/metadata/{ball_id}/group` on one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerBallGroup {
    pub bucket_id: String,
    pub ball_id: String,
    pub size: u64,
    pub balls: Vec<Metadata>,
}

/// `GET /api/v4/buckets/{b}/{k}/size` (`router-api.md` §5.10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GetSizeByKey {
    pub bucket_id: String,
    pub key: String,
    pub peer_id: String,
    pub size: u64,
}

/// Body of the peer's delete answers; the count normally comes from the `n-deletes` header.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct NDeletes {
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
mod tests {
    use super::*;

    #[test]
    fn metadata_response_truncates_float_and_defaults_local_peer() {
        let v = serde_json::json!({"service_time": 12.9, "peer_id": "p0", "metadata": {
            "key": "k", "size": 1, "checksum": "c", "tags": {}, "content_type": "x",
            "producer_id": "u", "ball_id": "k", "bucket_id": "b", "is_disabled": false}});
        let r: GetMetadataResponse = serde_json::from_value(v).unwrap();
        assert_eq!(r.service_time, 12);
        assert_eq!(r.local_peer_id, "p0");
        let out = serde_json::to_value(&r).unwrap();
        assert_eq!(out.as_object().unwrap().len(), 4);
        assert!(out["service_time"].is_i64());
    }

    #[test]
    fn put_metadata_sends_is_disable() {
        let m = PeerPutMetadata {
            bucket_id: "b".into(),
            key: "k".into(),
            ball_id: "k".into(),
            checksum: "c".into(),
            size: 3,
            tags: BTreeMap::new(),
            producer_id: "p".into(),
            content_type: "text/plain".into(),
            is_disabled: true,
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["is_disable"], true);
        assert!(v.get("is_disabled").is_none());
    }
}
