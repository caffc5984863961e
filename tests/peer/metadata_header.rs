//! `Mictlanx-Metadata` on the data GET (`docs/peer-api.md` §9–§14): standard padded base64 of the
//! compact `Metadata` JSON, identical to the metadata route's `metadata`, on 200 and 206, refreshed by an
//! in-place update, omitted only when the encoding exceeds 16 KiB.

use base64::Engine;
use mictlanx_peer::PeerServer;
use mictlanx_proto::headers::{decode_metadata, MAX_METADATA_HEADER};
use mictlanx_testkit::peer::*;
use serde_json::{json, Value};

async fn data_header(
    c: &reqwest::Client,
    peer: &PeerServer,
    range: Option<&str>,
) -> Option<String> {
    let mut req = c.get(format!("{}/api/v4/buckets/b/k", peer.base_url()));
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success());
    res.headers()
        .get("mictlanx-metadata")
        .map(|v| v.to_str().unwrap().to_string())
}

async fn write(c: &reqwest::Client, peer: &PeerServer, tags: Value, update: bool) {
    let body = json!({"key": "k", "size": 5, "checksum": "c", "producer_id": "p",
                      "content_type": "text/plain", "tags": tags});
    let headers: &[(&str, &str)] = if update { &[("Update", "1")] } else { &[] };
    let res = put_metadata_raw(c, peer, "b", body, headers).await;
    assert_eq!(res.status(), 201);
    if !update {
        let task = res.json::<Value>().await.unwrap()["task_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(upload_chunked(c, peer, &task, "hello").await.status(), 201);
    }
}

#[tokio::test]
async fn data_answers_carry_the_metadata_of_the_metadata_route() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-mh", dir.path()).await;
    let c = http_client();
    write(&c, &peer, json!({"fullname": "año/ü.txt"}), false).await;
    let (_, v) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/k").await;
    for range in [None, Some("bytes=1-2")] {
        let raw = data_header(&c, &peer, range).await.expect("header present");
        let json = base64::engine::general_purpose::STANDARD
            .decode(&raw)
            .expect("standard base64 with padding");
        assert_eq!(
            serde_json::from_slice::<Value>(&json).unwrap(),
            v["metadata"]
        );
        let text = String::from_utf8(json).unwrap();
        assert!(
            !text.contains(": ") && !text.contains(", ") && !text.contains('\n'),
            "compact: {text}"
        );
        assert_eq!(decode_metadata(&raw).unwrap().tags["fullname"], "año/ü.txt");
    }
    // an in-place update is visible in the next data answer
    write(&c, &peer, json!({"fullname": "renamed"}), true).await;
    let raw = data_header(&c, &peer, None).await.unwrap();
    assert_eq!(decode_metadata(&raw).unwrap().tags["fullname"], "renamed");
    peer.shutdown().await;
}

#[tokio::test]
async fn metadata_beyond_16_kib_encoded_is_omitted() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-mh-big", dir.path()).await;
    let c = http_client();
    // 12 KiB of JSON encode to 16 KiB: well below is sent, well above is not
    write(&c, &peer, json!({"big": "x".repeat(11 * 1024)}), false).await;
    let raw = data_header(&c, &peer, None).await.expect("below the limit");
    assert!(raw.len() <= MAX_METADATA_HEADER);
    write(&c, &peer, json!({"big": "x".repeat(13 * 1024)}), false).await;
    assert_eq!(data_header(&c, &peer, None).await, None);
    let (status, v) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/k").await;
    assert_eq!(
        (status, v["metadata"]["tags"]["big"].as_str().map(str::len)),
        (200, Some(13 * 1024))
    );
    peer.shutdown().await;
}
