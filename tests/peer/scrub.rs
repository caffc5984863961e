//! The scrubber (`docs/peer-api.md` §9–§14): a corrupted copy is found and quarantined within a few
//! intervals while intact ones stay, and a pass reads no faster than `MICTLANX_PEER_SCRUB_BANDWIDTH`.
//! Invariant: no silent corruption — a rotten copy stops being served without anyone reading it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mictlanx_peer::PeerServer;
use mictlanx_testkit::disk::flip;
use mictlanx_testkit::peer::*;
use serde_json::Value;

const MIB: u64 = 1024 * 1024;

async fn scrubbing_peer(id: &str, dir: &Path, bandwidth: u64) -> PeerServer {
    let mut cfg = peer_config(id, dir);
    cfg.scrub_interval = Duration::from_millis(150);
    cfg.scrub_bandwidth = bandwidth;
    spawn_peer_with(cfg).await
}

async fn store(c: &reqwest::Client, peer: &PeerServer, key: &str, size: u64, seed: u64) {
    let task = put_metadata(c, peer, "b", key, size).await;
    let body = reqwest::Body::wrap_stream(object_stream(seed, size));
    assert_eq!(upload_chunked(c, peer, &task, body).await.status(), 201);
}

/// The data file of `key` under `dir` (from its record).
fn data_file(dir: &Path, key: &str) -> PathBuf {
    for sub in std::fs::read_dir(dir.join("local/meta")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let v: Value =
                serde_json::from_slice(&std::fs::read(f.unwrap().path()).unwrap()).unwrap();
            if v["key"] == key {
                return dir.join("data").join(v["data_file"].as_str().unwrap());
            }
        }
    }
    panic!("no record of {key}");
}

async fn status(c: &reqwest::Client, peer: &PeerServer, key: &str) -> u16 {
    get_json(c, peer, &format!("/api/v4/buckets/b/metadata/{key}"))
        .await
        .0
}

#[tokio::test]
async fn a_rotten_copy_is_quarantined_within_a_few_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let peer = scrubbing_peer("p-scrub", dir.path(), 500 * MIB).await;
    let c = http_client();
    store(&c, &peer, "big", 2 * MIB + 500, 1).await;
    store(&c, &peer, "small", 1000, 2).await;
    store(&c, &peer, "rotten", 3 * MIB, 3).await;
    flip(&data_file(dir.path(), "rotten"), 2 * MIB + 7);
    let started = Instant::now();
    let mut gone = false;
    while started.elapsed() < Duration::from_secs(20) {
        if status(&c, &peer, "rotten").await == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the scrubber quarantines the rotten copy");
    // the copy is hidden first and its files move after (the peer's quarantine order): wait for the move
    let quarantined = || {
        std::fs::read_dir(dir.path().join("local/quarantine"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    while quarantined() == 0 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(quarantined(), 1);
    // several more passes: the intact copies stay
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(status(&c, &peer, "big").await, 200);
    assert_eq!(status(&c, &peer, "small").await, 200);
    assert_eq!(get_object_sha(&c, &peer, "b", "big").await.2, 2 * MIB + 500);
    // and it is counted
    let text = c
        .get(format!("{}/metrics", peer.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("mictlanx_peer_scrub_objects_total{result=\"quarantined\"}"),
        1.0
    );
    assert_eq!(
        value("mictlanx_peer_checksum_mismatches_total{stage=\"scrub\"}"),
        1.0
    );
    assert_eq!(value("mictlanx_peer_quarantined_objects"), 1.0);
    assert!(
        value("mictlanx_peer_scrub_objects_total{result=\"ok\"}") >= 4.0,
        "two passes over two objects"
    );
    assert!(value("mictlanx_peer_scrub_bytes_total") >= (3 * MIB) as f64);
    peer.shutdown().await;
}

#[tokio::test]
async fn a_pass_reads_no_faster_than_the_bandwidth() {
    let dir = tempfile::tempdir().unwrap();
    // 1 MiB/s: the third block of a 3 MiB object is not read before ~3 s into a pass
    let peer = scrubbing_peer("p-pace", dir.path(), MIB).await;
    let c = http_client();
    store(&c, &peer, "k", 3 * MIB, 4).await;
    flip(&data_file(dir.path(), "k"), 3 * MIB - 1);
    let started = Instant::now();
    while status(&c, &peer, "k").await == 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never quarantined"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "3 MiB at 1 MiB/s took only {:?}",
        started.elapsed()
    );
    peer.shutdown().await;
}
