//! Each answer serialised as the peer serves it, against the `json!` literal the peer built before the
//! types existed: same keys, same JSON types (integer or float), same bytes.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::*;

/// The peer serves through a `Value` (sorted keys, as `json!` produced); the router decodes the bytes.
fn same_as_before<T: Serialize + DeserializeOwned + PartialEq + Debug>(typed: &T, before: Value) {
    let served = serde_json::to_string(&serde_json::to_value(typed).unwrap()).unwrap();
    assert_eq!(served, serde_json::to_string(&before).unwrap());
    let decoded: T = serde_json::from_str(&served).unwrap();
    assert_eq!(&decoded, typed);
}

fn meta(key: &str) -> Metadata {
    serde_json::from_value(json!({
        "key": key, "size": 3, "checksum": "c", "tags": {"index": "0"}, "content_type": "text/plain",
        "producer_id": "p", "ball_id": "ball", "bucket_id": "b", "is_disabled": false
    }))
    .unwrap()
}

const NODE: &str = "peer-0";

#[test]
fn health_and_capacity() {
    let health = Health {
        status: "ok".into(),
        peer_id: NODE.into(),
    };
    same_as_before(&health, json!({"status": "ok", "peer_id": NODE}));
    let (total, used, disk_uf) = (1000u64, 250u64, 0.25f64);
    let ufs = UfsStats {
        total_disk: total,
        used_disk: used,
        disk_uf,
    };
    same_as_before(
        &ufs,
        json!({"total_disk": total, "used_disk": used, "disk_uf": disk_uf}),
    );
    same_as_before(
        &UfsStats {
            total_disk: 0,
            used_disk: 0,
            disk_uf: 0.0,
        },
        json!({"total_disk": 0u64, "used_disk": 0u64, "disk_uf": 0.0}),
    );
}

#[test]
fn stats_has_seven_keys() {
    let (used, total, disk_uf) = (3u64, 10u64, 0.3f64);
    let balls = vec![meta("k")];
    let peers = vec!["peer-1".to_string()];
    let stats = PeerStats {
        peer_id: NODE.into(),
        used_disk: used,
        total_disk: total,
        available_disk: total.saturating_sub(used),
        disk_uf,
        balls: balls.clone(),
        peers: peers.clone(),
    };
    let before = json!({
        "peer_id": NODE,
        "used_disk": used,
        "total_disk": total,
        "available_disk": total.saturating_sub(used),
        "disk_uf": disk_uf,
        "balls": balls,
        "peers": peers,
    });
    assert_eq!(before.as_object().unwrap().len(), 7);
    same_as_before(&stats, before);
}

#[test]
fn listings() {
    let m = meta("k");
    same_as_before(
        &vec![XBallSize(m.bucket_id.clone(), m.key.clone(), m.size)],
        json!([json!([m.bucket_id, m.key, m.size])]),
    );
    let (version, replication_factor) = (7u64, 3u32);
    same_as_before(
        &vec![XBall {
            bucket_id: m.bucket_id.clone(),
            key: m.key.clone(),
            size: m.size,
            version,
            replication_factor,
        }],
        json!([json!({
            "bucket_id": m.bucket_id,
            "key": m.key,
            "size": m.size,
            "version": version,
            "replication_factor": replication_factor,
        })]),
    );
    let len: usize = 4;
    same_as_before(&BallsLen { len: len as u64 }, json!({"len": len}));

    let (ip_address, port) = ("10.0.0.1".to_string(), 25000u16);
    let mut balls = serde_json::Map::new();
    balls.insert(
        m.combined_key(),
        json!({"locations": [NODE], "size": m.size}),
    );
    let node = json!({"node_id": NODE, "ip_addr": ip_address, "port": port});
    let state = PeersState {
        nodes: vec![PeerAddress {
            node_id: NODE.into(),
            ip_addr: ip_address.clone(),
            port,
        }],
        balls: BTreeMap::from([(
            m.combined_key(),
            BallLocations {
                locations: vec![NODE.into()],
                size: m.size,
            },
        )]),
    };
    same_as_before(&state, json!({"nodes": [node], "balls": balls}));
}

#[test]
fn nodes_are_echoed() {
    let before = json!({"id": "n1", "disk": 10, "memory": 5, "ip_addr": "h", "port": 1,
        "weight": 0.5, "used_disk": 1, "used_memory": 2});
    let node: NodeInfo = serde_json::from_value(before.clone()).unwrap();
    same_as_before(&node, before);
}

#[test]
fn metadata_reads() {
    let balls = vec![meta("a"), meta("b")];
    same_as_before(
        &PeerBucketMetadata {
            peer_id: NODE.into(),
            balls: balls.clone(),
        },
        json!({"peer_id": NODE, "balls": balls}),
    );
    let entry = meta("k");
    let service_time = 12u64;
    same_as_before(
        &GetMetadataResponse {
            service_time: service_time as i64,
            peer_id: NODE.into(),
            local_peer_id: NODE.into(),
            metadata: entry.clone(),
        },
        json!({
            "service_time": service_time,
            "peer_id": NODE,
            "local_peer_id": NODE,
            "metadata": entry,
        }),
    );
    let (b, ball) = ("b", "ball");
    let size: u64 = balls.iter().map(|m| m.size).sum();
    same_as_before(
        &PeerBallGroup {
            bucket_id: b.into(),
            ball_id: ball.into(),
            size,
            balls: balls.clone(),
        },
        json!({"bucket_id": b, "ball_id": ball, "size": size, "balls": balls}),
    );
    let chunks: Vec<Value> = balls.iter().map(|m| json!(m)).collect();
    same_as_before(&balls, Value::Array(chunks));
}

#[test]
fn write_answers() {
    let (key, task_id, service_time) = ("k", "t1", 3u64);
    same_as_before(
        &PeerPutMetadataResponse {
            key: key.into(),
            service_time: service_time as i64,
            task_id: task_id.into(),
            node_id: NODE.into(),
        },
        json!({
            "key": key,
            "service_time": service_time,
            "task_id": task_id,
            "node_id": NODE,
        }),
    );
    let committed = meta("k");
    let (received, throughput, secs) = (3u64, 1.5f64, 2.0f64);
    same_as_before(
        &PeerPutDataResponse {
            node_id: NODE.into(),
            combined_key: committed.combined_key(),
            bucket_id: committed.bucket_id.clone(),
            key: committed.key.clone(),
            size: received,
            throughput,
            service_time: secs,
        },
        json!({
            "node_id": NODE,
            "combined_key": committed.combined_key(),
            "bucket_id": committed.bucket_id,
            "key": committed.key,
            "size": received,
            "throughput": throughput,
            "service_time": secs,
        }),
    );
    let (replica_peer_id, response_time) = ("peer-1", 9u64);
    same_as_before(
        &ReplicateResponse {
            peer_id: NODE.into(),
            replica_peer_id: replica_peer_id.into(),
            bucket_id: committed.bucket_id.clone(),
            key: committed.key.clone(),
            size: received,
            ok: true,
            response_time,
        },
        json!({
            "peer_id": NODE,
            "replica_peer_id": replica_peer_id,
            "bucket_id": committed.bucket_id,
            "key": committed.key,
            "size": received,
            "ok": true,
            "response_time": response_time,
        }),
    );
}

#[test]
fn object_answers() {
    let (b, k, size) = ("b", "k", 3u64);
    same_as_before(
        &GetSizeByKey {
            bucket_id: b.into(),
            key: k.into(),
            peer_id: NODE.into(),
            size,
        },
        json!({"bucket_id": b, "key": k, "peer_id": NODE, "size": size}),
    );
    let (n, ball) = (2u64, "ball");
    same_as_before(
        &DeleteBallResponse {
            n_deletes: n,
            ball_id: ball.into(),
        },
        json!({"n_deletes": n, "ball_id": ball}),
    );
    same_as_before(
        &DeleteResponse {
            n_deletes: 1,
            key: k.into(),
        },
        json!({"n_deletes": 1, "key": k}),
    );
    let count: NDeletes = serde_json::from_value(json!({"n_deletes": 1, "key": k})).unwrap();
    assert_eq!(count.n_deletes, 1);
}

#[test]
fn metadata_response_truncates_float_and_defaults_local_peer() {
    let v = json!({"service_time": 12.9, "peer_id": "p0", "metadata": {
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

#[test]
fn shard_digests_travel_as_hex_strings() {
    let d = ShardDigests {
        shards: 2,
        digests: vec![ShardDigest(0), ShardDigest(u64::MAX - 1)],
    };
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(
        v,
        json!({"shards": 2, "digests": ["0000000000000000", "fffffffffffffffe"]})
    );
    assert_eq!(serde_json::from_value::<ShardDigests>(v).unwrap(), d);
    for bad in [json!(["12"]), json!([12]), json!(["zzzzzzzzzzzzzzzz"])] {
        let v = json!({"shards": 1, "digests": bad});
        assert!(serde_json::from_value::<ShardDigests>(v).is_err());
    }
}
