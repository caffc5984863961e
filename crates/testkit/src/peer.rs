//! In-process storage peers for black-box tests: real `mictlanx-peer` servers on 127.0.0.1 port 0.

use std::path::Path;

use mictlanx_peer::{serve, PeerConfig, PeerServer};

/// Start a peer with id `node_id` storing under `dir` (data/, local/, log/); default capacity 10 GB.
pub async fn spawn_peer(node_id: &str, dir: &Path) -> PeerServer {
    spawn_peer_with(peer_config(node_id, dir)).await
}

/// Same with a declared disk capacity in bytes (507 tests).
pub async fn spawn_peer_with_capacity(node_id: &str, dir: &Path, capacity: u64) -> PeerServer {
    let mut cfg = peer_config(node_id, dir);
    cfg.disk_capacity = capacity;
    spawn_peer_with(cfg).await
}

/// Start a peer on a fixed port, e.g. to bring a stopped peer back at the address the router knows:
/// `let port = peer.addr().port(); peer.shutdown().await; spawn_peer_on_port(id, dir, port).await`.
pub async fn spawn_peer_on_port(node_id: &str, dir: &Path, port: u16) -> PeerServer {
    let mut cfg = peer_config(node_id, dir);
    cfg.port = port;
    spawn_peer_with(cfg).await
}

/// A `mictlanx://` URI naming these peers (router `MICTLANX_PEERS_URI`).
pub fn peers_uri(peers: &[&PeerServer]) -> String {
    let specs: Vec<String> = peers
        .iter()
        .map(|p| format!("{}@127.0.0.1:{}", p.node_id(), p.addr().port()))
        .collect();
    format!(
        "mictlanx://{}/?protocol=http&api_version=4",
        specs.join(",")
    )
}

/// The config `spawn_peer` uses, for tests that tweak more fields.
pub fn peer_config(node_id: &str, dir: &Path) -> PeerConfig {
    let mut cfg = PeerConfig::for_tests(dir);
    cfg.node_id = node_id.to_string();
    cfg
}

pub async fn spawn_peer_with(cfg: PeerConfig) -> PeerServer {
    crate::log::init();
    serve(cfg).await.expect("peer starts")
}

/// A reqwest client usable without TLS setup (installs the ring provider once).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// `POST /api/v4/buckets/{bucket}/metadata` with a JSON body and extra headers.
pub async fn put_metadata_raw(
    c: &reqwest::Client,
    peer: &PeerServer,
    bucket: &str,
    body: serde_json::Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = c
        .post(format!(
            "{}/api/v4/buckets/{bucket}/metadata",
            peer.base_url()
        ))
        .json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("put metadata request")
}

/// Phase 1 for `(bucket, key)` with `size` bytes; asserts 201 and returns the task id.
pub async fn put_metadata(
    c: &reqwest::Client,
    peer: &PeerServer,
    bucket: &str,
    key: &str,
    size: u64,
) -> String {
    let body =
        serde_json::json!({"key": key, "size": size, "checksum": "abc", "producer_id": "test"});
    let res = put_metadata_raw(c, peer, bucket, body, &[]).await;
    assert_eq!(res.status(), 201, "put metadata {bucket}@{key}");
    let v: serde_json::Value = res.json().await.expect("put metadata json");
    v["task_id"].as_str().expect("task_id").to_string()
}

/// Phase 2, raw body form (`…/chunked`).
pub async fn upload_chunked(
    c: &reqwest::Client,
    peer: &PeerServer,
    task_id: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    c.post(format!(
        "{}/api/v4/buckets/data/{task_id}/chunked",
        peer.base_url()
    ))
    .body(body)
    .send()
    .await
    .expect("chunked upload request")
}

pub const MULTIPART_BOUNDARY: &str = "mictlanx-test-boundary-7d2f";

/// Phase 2, multipart form: `stream` becomes the part named `data` (streamed, never buffered).
pub async fn upload_multipart<S>(
    c: &reqwest::Client,
    peer: &PeerServer,
    task_id: &str,
    stream: S,
) -> reqwest::Response
where
    S: futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
{
    use futures::StreamExt;
    let head = format!(
        "--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nskipped\r\n\
         --{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"blob.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{MULTIPART_BOUNDARY}--\r\n");
    let body = futures::stream::once(async move { Ok(bytes::Bytes::from(head)) })
        .chain(stream)
        .chain(futures::stream::once(async move {
            Ok(bytes::Bytes::from(tail))
        }));
    c.post(format!("{}/api/v4/buckets/data/{task_id}", peer.base_url()))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={MULTIPART_BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("multipart upload request")
}

/// Deterministic pseudo-random object bytes, produced in 64 KiB chunks (tests hold no whole object).
pub fn object_stream(
    seed: u64,
    size: u64,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    const CHUNK: u64 = 64 * 1024;
    let chunks = size.div_ceil(CHUNK);
    futures::stream::iter((0..chunks).map(move |i| {
        let len = CHUNK.min(size - i * CHUNK) as usize;
        Ok(bytes::Bytes::from(chunk_bytes(seed, i, len)))
    }))
}

/// The `i`-th chunk of [`object_stream`].
pub fn chunk_bytes(seed: u64, i: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ i.wrapping_add(1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The whole object of [`object_stream`] in memory (small sizes only).
pub fn object_bytes(seed: u64, size: u64) -> Vec<u8> {
    futures::executor::block_on(async {
        use futures::StreamExt;
        let mut out = Vec::with_capacity(size as usize);
        let mut s = std::pin::pin!(object_stream(seed, size));
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.expect("chunk"));
        }
        out
    })
}

/// SHA-256 hex of a byte stream, consumed chunk by chunk; also returns the byte count.
pub async fn sha256_stream<S, E>(stream: S) -> (String, u64)
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>>,
    E: std::fmt::Debug,
{
    use futures::StreamExt;
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut n = 0u64;
    let mut s = std::pin::pin!(stream);
    while let Some(chunk) = s.next().await {
        let chunk = chunk.expect("stream chunk");
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    (hex::encode(h.finalize()), n)
}

/// GET the object; returns status and, on 200, the SHA-256 of the streamed body and its length.
pub async fn get_object_sha(
    c: &reqwest::Client,
    peer: &PeerServer,
    bucket: &str,
    key: &str,
) -> (u16, String, u64) {
    let res = c
        .get(format!("{}/api/v4/buckets/{bucket}/{key}", peer.base_url()))
        .send()
        .await
        .expect("get");
    let status = res.status().as_u16();
    if status != 200 {
        return (status, String::new(), 0);
    }
    let (sha, n) = sha256_stream(res.bytes_stream()).await;
    (status, sha, n)
}

/// GET a JSON endpoint; returns status and body.
pub async fn get_json(
    c: &reqwest::Client,
    peer: &PeerServer,
    path: &str,
) -> (u16, serde_json::Value) {
    let res = c
        .get(format!("{}{path}", peer.base_url()))
        .send()
        .await
        .expect("get json");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// Files currently in `DATA_PATH/tmp` of a peer spawned under `dir`.
pub fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.join("data").join("tmp"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// Poll `cond` every 20 ms for up to 20 s (generous: "does not hang", not a timing assertion).
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if cond() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    cond()
}
