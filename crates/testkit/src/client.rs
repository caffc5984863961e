//! A typed client of the router API for tests: the two-phase PUT (metadata, then the bytes as a raw
//! chunked body or multipart), GET of bytes and metadata, DELETE, the peer list and `/metrics`.

use bytes::Bytes;
use futures::Stream;
use serde_json::{json, Value};

use crate::peer::{object_stream, sha256_stream};

/// The multipart boundary of [`RouterClient::put_multipart_raw`].
pub const BOUNDARY: &str = "data-test-boundary-91c3";

/// A `PutMetadataDTO` body.
pub fn dto(bucket: &str, key: &str, ball: &str, size: usize, rf: u32, tags: Value) -> Value {
    json!({
        "bucket_id": bucket, "key": key, "ball_id": ball, "checksum": "abc", "size": size,
        "tags": tags, "producer_id": "data-tests", "content_type": "application/octet-stream",
        "replication_factor": rf,
    })
}

/// The `detail` of a JSON error body.
pub async fn detail(res: reqwest::Response) -> Value {
    let v: Value = res.json().await.expect("json error body");
    v["detail"].clone()
}

/// The router at `base` (`http://127.0.0.1:port`), through `http`.
#[derive(Clone)]
pub struct RouterClient {
    pub http: reqwest::Client,
    base: String,
}

impl RouterClient {
    pub fn new(http: reqwest::Client, base: String) -> RouterClient {
        RouterClient { http, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Phase 1; returns the raw response.
    pub async fn put_metadata_raw(&self, bucket: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/v4/buckets/{bucket}/metadata")))
            .json(&body)
            .send()
            .await
            .expect("put metadata request")
    }

    /// Phase 1 for `bytes`; asserts 200 and returns the response JSON.
    pub async fn put_metadata(
        &self,
        bucket: &str,
        key: &str,
        bytes: &[u8],
        rf: u32,
        tags: Value,
    ) -> Value {
        let body = dto(bucket, key, key, bytes.len(), rf, tags);
        let res = self.put_metadata_raw(bucket, body).await;
        assert_eq!(res.status(), 200, "put metadata {bucket}@{key}");
        res.json().await.expect("put metadata json")
    }

    /// Phase 1 for an object of `size` bytes; asserts 200 and returns the task group id.
    pub async fn put_metadata_group(&self, bucket: &str, key: &str, size: u64, rf: u32) -> String {
        crate::process::router_put_metadata(&self.http, &self.base, bucket, key, size, rf).await
    }

    /// Phase 2, raw body streamed in 64 KiB frames (chunked transfer encoding).
    pub async fn put_chunked_raw(&self, task: &str, bytes: Vec<u8>) -> reqwest::Response {
        let frames: Vec<Result<Bytes, std::io::Error>> = bytes
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        self.http
            .post(self.url(&format!("/api/v4/buckets/data/{task}/chunked")))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(frames)))
            .send()
            .await
            .expect("chunked upload request")
    }

    /// Phase 2, multipart with a skipped part before `data`.
    pub async fn put_multipart_raw(&self, task: &str, bytes: &[u8]) -> reqwest::Response {
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nskipped\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"x.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        self.http
            .post(self.url(&format!("/api/v4/buckets/data/{task}")))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .expect("multipart upload request")
    }

    /// Both phases with the raw-body route; asserts success and returns the phase-2 JSON.
    pub async fn put(&self, bucket: &str, key: &str, bytes: &[u8], rf: u32) -> Value {
        let meta = self.put_metadata(bucket, key, bytes, rf, json!({})).await;
        let task = meta["tasks_ids"][0].as_str().expect("group id").to_string();
        let res = self.put_chunked_raw(&task, bytes.to_vec()).await;
        assert_eq!(res.status(), 200, "put data {bucket}@{key}");
        res.json().await.expect("put data json")
    }

    /// Both phases with `body` (exactly `size` bytes); returns status and JSON.
    pub async fn put_stream<S>(&self, b: &str, k: &str, size: u64, rf: u32, body: S) -> (u16, Value)
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let group = self.put_metadata_group(b, k, size, rf).await;
        let res = self
            .http
            .post(self.url(&format!("/api/v4/buckets/data/{group}/chunked")))
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .expect("phase 2 request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// [`Self::put_stream`] of [`object_stream`]`(seed, size)`, asserting 200.
    pub async fn put_seeded(&self, b: &str, k: &str, size: u64, rf: u32, seed: u64) -> Value {
        let (status, v) = self
            .put_stream(b, k, size, rf, object_stream(seed, size))
            .await;
        assert_eq!(status, 200, "put {b}@{k}: {v}");
        v
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("get request")
    }

    /// `GET /api/v4/buckets/{b}/{k}` with `Force-Get: 1` (no cache) and `headers`.
    pub async fn get_object(
        &self,
        b: &str,
        k: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.url(&format!("/api/v4/buckets/{b}/{k}")))
            .header("Force-Get", "1");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("get request")
    }

    /// GET bytes with `Force-Get: 1`; asserts 200.
    pub async fn get_bytes(&self, bucket: &str, key: &str) -> Vec<u8> {
        let res = self.get_object(bucket, key, &[]).await;
        assert_eq!(res.status(), 200, "get {bucket}@{key}");
        res.bytes().await.expect("get body").to_vec()
    }

    /// Status, SHA-256 and length of a forced GET.
    pub async fn get_sha(&self, b: &str, k: &str, headers: &[(&str, &str)]) -> (u16, String, u64) {
        let res = self.get_object(b, k, headers).await;
        let status = res.status().as_u16();
        let (sha, n) = sha256_stream(res.bytes_stream()).await;
        (status, sha, n)
    }

    /// `GET /api/v4/buckets/{b}/metadata/{k}`: status and JSON.
    pub async fn get_metadata(&self, b: &str, k: &str) -> (u16, Value) {
        let res = self.get(&format!("/api/v4/buckets/{b}/metadata/{k}")).await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .send()
            .await
            .expect("delete request")
    }

    /// `GET /api/v4/peers`: status and JSON.
    pub async fn peers(&self) -> (u16, Value) {
        let res = self.get("/api/v4/peers").await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The balls of the router's bucket listing.
    pub async fn listing(&self, bucket: &str) -> Vec<Value> {
        let listing: Value = self
            .get(&format!("/api/v4/buckets/{bucket}/metadata"))
            .await
            .json()
            .await
            .expect("listing json");
        listing["balls"].as_array().expect("balls").clone()
    }

    /// The router's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .text()
            .await
            .expect("metrics text")
    }

    /// The sum of every sample of `name` whose labels contain `labels` (e.g. `kind="get"`).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter(|l| {
                let rest = &l[name.len()..];
                (rest.starts_with('{') || rest.starts_with(' ')) && rest.contains(labels)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}
