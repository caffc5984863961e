//! `Range` on the data GET (`docs/peer-api.md` §9–§14): the three single-range forms answer 206 with
//! exactly those bytes, unsatisfiable ranges 416 with `Content-Range: bytes */size`, multi-range and
//! malformed headers the whole object, absent and disabled objects 404.

use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::*;
use serde_json::{json, Value};

const SIZE: u64 = 3 * 1024 * 1024 + 17;

async fn ranged(
    c: &reqwest::Client,
    peer: &PeerServer,
    key: &str,
    range: &str,
) -> reqwest::Response {
    c.get(format!("{}/api/v4/buckets/b/{key}", peer.base_url()))
        .header("Range", range)
        .send()
        .await
        .unwrap()
}

async fn stored(c: &reqwest::Client, peer: &PeerServer, key: &str, size: u64, seed: u64) {
    let task = put_metadata(c, peer, "b", key, size).await;
    let body = reqwest::Body::wrap_stream(object_stream(seed, size));
    assert_eq!(upload_chunked(c, peer, &task, body).await.status(), 201);
}

#[tokio::test]
async fn single_ranges_answer_206_with_exactly_those_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-range", dir.path()).await;
    let c = http_client();
    stored(&c, &peer, "k", SIZE, 5).await;
    let all = object_bytes(5, SIZE);
    let mib = 1024 * 1024;
    let cases: Vec<(String, u64, u64)> = vec![
        ("bytes=0-0".into(), 0, 0),
        ("bytes=1000-2000".into(), 1000, 2000),
        (
            format!("bytes={}-{}", mib - 10, 2 * mib + 10),
            mib - 10,
            2 * mib + 10,
        ),
        (format!("bytes={mib}-"), mib, SIZE - 1),
        ("bytes=-100".into(), SIZE - 100, SIZE - 1),
        (format!("bytes={}-", SIZE - 1), SIZE - 1, SIZE - 1),
        ("bytes=5-99999999999".into(), 5, SIZE - 1),
        (format!("bytes=-{}", SIZE + 5), 0, SIZE - 1),
    ];
    for (range, start, end) in cases {
        let res = ranged(&c, &peer, "k", &range).await;
        assert_eq!(res.status(), 206, "{range}");
        let h = res.headers();
        assert_eq!(
            h["content-range"],
            format!("bytes {start}-{end}/{SIZE}").as_str(),
            "{range}"
        );
        assert_eq!(h["content-length"], (end - start + 1).to_string().as_str());
        assert_eq!(h["accept-ranges"], "bytes");
        assert!(h.contains_key("object-version"));
        let body = res.bytes().await.unwrap();
        assert!(
            body[..] == all[start as usize..=end as usize],
            "{range}: wrong bytes"
        );
    }
    let res = c
        .get(format!("{}/api/v4/buckets/b/k", peer.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    peer.shutdown().await;
}

#[tokio::test]
async fn unsatisfiable_ranges_are_416_and_ignored_ones_200() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-416", dir.path()).await;
    let c = http_client();
    stored(&c, &peer, "k", 10, 1).await;
    stored(&c, &peer, "empty", 0, 1).await;
    for (key, range, size) in [
        ("k", "bytes=10-", 10),
        ("k", "bytes=10-20", 10),
        ("k", "bytes=-0", 10),
        ("empty", "bytes=0-", 0),
        ("empty", "bytes=-1", 0),
    ] {
        let res = ranged(&c, &peer, key, range).await;
        assert_eq!(res.status(), 416, "{key} {range}");
        assert_eq!(
            res.headers()["content-range"],
            format!("bytes */{size}").as_str()
        );
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            v,
            json!({"detail": format!("Range not satisfiable: b@{key} has {size} bytes")})
        );
    }
    let all = object_bytes(1, 10);
    for range in [
        "bytes=0-1,4-5",
        "bytes=5-1",
        "bytes=x-",
        "lines=0-1",
        "bytes=-",
    ] {
        let res = ranged(&c, &peer, "k", range).await;
        assert_eq!(res.status(), 200, "{range} is ignored");
        assert!(!res.headers().contains_key("content-range"));
        assert_eq!(res.bytes().await.unwrap()[..], all[..]);
    }
    // absent and disabled objects stay 404 whatever the range
    assert_eq!(ranged(&c, &peer, "nope", "bytes=0-1").await.status(), 404);
    let res = c
        .post(format!("{}/api/v4/buckets/b/k/disable", peer.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = ranged(&c, &peer, "k", "bytes=0-1").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "b@k not found"})
    );
    peer.shutdown().await;
}
