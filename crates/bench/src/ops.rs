//! One benchmark operation over HTTP: PUT (two phases), GET, metadata GET and delete, against a router or
//! a storage peer (docs/router-api.md #13/#15/#17/#21/#23, docs/peer-api.md §3 and #12/#21/#22).

use std::time::Duration;

use bytes::Bytes;
use mictlanx_proto::headers::{OBJECT_VERSION, REPLICATION_FACTOR};
use rand::RngCore;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::cli::Target;
use super::s3::{encode, S3Endpoint, LIST_PAGE};

/// Upload pieces, like the MictlanX client's 1 MB chunks: the body is streamed (chunked encoding).
const PIECE: usize = 1 << 20;
/// A refused or black-holed address should fail fast even with a long `--timeout`.
const CONNECT_TIMEOUT_CAP: Duration = Duration::from_secs(10);
/// How much of an error body is kept in a message.
const ERROR_BODY_LIMIT: usize = 300;

/// Why one operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{step}: {detail}")]
    Transport { step: &'static str, detail: String },
    #[error("{step}: HTTP {status}: {body}")]
    Status {
        step: &'static str,
        status: u16,
        body: String,
    },
    #[error("{step}: unexpected answer: {detail}")]
    Decode { step: &'static str, detail: String },
    #[error("{step}: expected {expected} bytes, got {got}")]
    Length {
        step: &'static str,
        expected: u64,
        got: u64,
    },
}

/// The object body shared by every upload: generated once, streamed as zero-copy slices.
#[derive(Clone)]
pub struct Payload {
    bytes: Bytes,
    checksum: String,
}

impl Payload {
    /// Random bytes (so no layer can compress them) and their SHA-256, the checksum the client would send.
    pub fn generate(size: u64) -> Payload {
        let mut buf = vec![0u8; size as usize];
        rand::rng().fill_bytes(&mut buf);
        let checksum = hex::encode(Sha256::digest(&buf));
        Payload {
            bytes: Bytes::from(buf),
            checksum,
        }
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The SHA-256 of the bytes, lowercase hex.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// The whole body as one zero-copy buffer (sent with a `Content-Length`).
    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// The body as `PIECE`-sized zero-copy slices, in order.
    fn pieces(&self) -> impl Iterator<Item = Bytes> + Send + 'static {
        let bytes = self.bytes.clone();
        (0..bytes.len())
            .step_by(PIECE)
            .map(move |start| bytes.slice(start..(start + PIECE).min(bytes.len())))
    }

    fn body(&self) -> reqwest::Body {
        if self.bytes.is_empty() {
            return reqwest::Body::from(Bytes::new());
        }
        let pieces = self.pieces().map(Ok::<Bytes, std::io::Error>);
        reqwest::Body::wrap_stream(futures::stream::iter(pieces))
    }
}

/// A router or peer endpoint plus the shared client; cheap to clone into every worker.
#[derive(Clone)]
pub struct Endpoint {
    client: Client,
    target: Target,
    base: String,
    bucket: String,
    force_get: bool,
    /// Peers every PUT also writes to, concurrently (`--mirror`); deletes go to them too.
    mirrors: Vec<Endpoint>,
    /// `--target s3`: every operation goes through this S3 client instead.
    s3: Option<S3Endpoint>,
}

/// One pooled client for the whole run: no total timeout (large bodies), idle and connect timeouts only.
pub fn build_client(concurrency: u32, timeout: Duration) -> Result<Client, reqwest::Error> {
    Client::builder()
        .connect_timeout(timeout.min(CONNECT_TIMEOUT_CAP))
        .read_timeout(timeout)
        .pool_max_idle_per_host(concurrency as usize)
        .tcp_nodelay(true)
        .build()
}

impl Endpoint {
    pub fn new(client: Client, target: Target, base: &str, bucket: &str, force_get: bool) -> Self {
        Endpoint {
            client,
            target,
            base: base.trim_end_matches('/').to_string(),
            bucket: bucket.to_string(),
            force_get,
            mirrors: Vec::new(),
            s3: None,
        }
    }

    /// The same endpoint speaking S3 (`--target s3`).
    pub fn with_s3(mut self, s3: S3Endpoint) -> Self {
        self.s3 = Some(s3);
        self
    }

    /// The S3 client of `--target s3`, if this is one.
    pub fn s3(&self) -> Option<&S3Endpoint> {
        self.s3.as_ref()
    }

    /// One listing page of at most 1000 keys under `prefix` (ListObjectsV2, or the router's paged bucket
    /// listing); fails unless it holds `expected` keys. Returns the response size in bytes.
    pub async fn list(&self, prefix: &str, expected: u64) -> Result<u64, OpError> {
        let (keys, bytes) = match &self.s3 {
            Some(s3) => {
                let (page, bytes) = s3.list_page(prefix, None).await?;
                (page.keys, bytes)
            }
            None => self.list_router(prefix).await?,
        };
        if keys != expected {
            return Err(OpError::Length {
                step: "list",
                expected,
                got: keys,
            });
        }
        Ok(bytes)
    }

    async fn list_router(&self, prefix: &str) -> Result<(u64, u64), OpError> {
        let step = "list";
        let url = format!(
            "{}/api/v4/buckets/{}/metadata?limit={LIST_PAGE}&prefix={}",
            self.base,
            self.bucket,
            encode(prefix)
        );
        let resp = checked(step, self.client.get(url).send().await).await?;
        let raw = resp.bytes().await.map_err(|e| transport(step, e))?;
        let answer: Value = serde_json::from_slice(&raw).map_err(|e| OpError::Decode {
            step,
            detail: e.to_string(),
        })?;
        let keys = answer["balls"].as_array().ok_or_else(|| OpError::Decode {
            step,
            detail: "no balls in the listing".into(),
        })?;
        Ok((keys.len() as u64, raw.len() as u64))
    }

    /// The same endpoint, with every PUT also written to each of `urls` (same target kind and bucket).
    pub fn with_mirrors(mut self, urls: &[String]) -> Self {
        self.mirrors = urls
            .iter()
            .map(|u| Endpoint::new(self.client.clone(), self.target, u, &self.bucket, false))
            .collect();
        self
    }

    /// Two-phase write of `payload` under `key` here and on every mirror at once (the direct rf-N PUT:
    /// the bytes go out N times in parallel, as a router's fan-out sends them); returns the object's size.
    pub async fn put(&self, key: &str, payload: &Payload, rf: u32) -> Result<u64, OpError> {
        if let Some(s3) = &self.s3 {
            return s3.put(key, payload).await;
        }
        if self.mirrors.is_empty() {
            return self.put_one(key, payload, rf, None).await;
        }
        // Every copy commits the same version and declares the number of copies as its factor, as a
        // router's fan-out does: a router that later finds them takes the three as one rf-3 object.
        let copies = 1 + self.mirrors.len() as u32;
        let version = mirrored_version();
        let copies = std::iter::once(self)
            .chain(&self.mirrors)
            .map(|ep| ep.put_one(key, payload, copies, Some(version)));
        let sizes = futures::future::try_join_all(copies).await?;
        Ok(sizes[0])
    }

    /// Two-phase write of `payload` under `key` on this endpoint only; `version` (peers only) is the
    /// `Object-Version` the upload commits, with `rf` sent as `Replication-Factor`.
    async fn put_one(
        &self,
        key: &str,
        payload: &Payload,
        rf: u32,
        version: Option<u64>,
    ) -> Result<u64, OpError> {
        let meta_url = format!("{}/api/v4/buckets/{}/metadata", self.base, self.bucket);
        let (body, id_field) = match self.target {
            Target::Router | Target::S3 => (
                json!({
                    "bucket_id": self.bucket, "key": key, "ball_id": key, "checksum": payload.checksum,
                    "size": payload.len(), "tags": {}, "producer_id": "bench",
                    "content_type": "application/octet-stream", "is_disabled": false,
                    "replication_factor": rf,
                }),
                "tasks_ids",
            ),
            Target::Peer => (
                json!({
                    "key": key, "size": payload.len(), "checksum": payload.checksum,
                    "producer_id": "bench", "content_type": "application/octet-stream",
                    "ball_id": key, "bucket_id": self.bucket, "tags": {},
                }),
                "task_id",
            ),
        };
        let step = "put metadata";
        let mut req = self.client.post(&meta_url).json(&body);
        if version.is_some() {
            req = req.header(REPLICATION_FACTOR, rf);
        }
        let resp = req.send().await;
        let answer = json_body(step, checked(step, resp).await?).await?;
        let task_id = match (self.target, &answer[id_field]) {
            (Target::Router, Value::Array(ids)) => ids.first().and_then(Value::as_str),
            (Target::Peer, v) => v.as_str(),
            _ => None,
        }
        .ok_or_else(|| OpError::Decode {
            step,
            detail: format!("no {id_field} in {answer}"),
        })?
        .to_string();

        let step = "put data";
        let data_url = format!("{}/api/v4/buckets/data/{task_id}/chunked", self.base);
        let mut req = self
            .client
            .post(&data_url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream");
        if let Some(v) = version {
            req = req.header(OBJECT_VERSION, v);
        }
        let resp = req.body(payload.body()).send().await;
        let answer = json_body(step, checked(step, resp).await?).await?;
        match answer["size"].as_u64() {
            Some(n) if n == payload.len() => Ok(n),
            Some(n) => Err(OpError::Length {
                step,
                expected: payload.len(),
                got: n,
            }),
            None => Err(OpError::Decode {
                step,
                detail: format!("no size in {answer}"),
            }),
        }
    }

    /// Streams the object and counts its bytes (nothing is kept); fails unless exactly `expected` arrive.
    pub async fn get(&self, key: &str, expected: u64) -> Result<u64, OpError> {
        if let Some(s3) = &self.s3 {
            return s3.get(key, expected).await;
        }
        let step = "get";
        let mut req = self.client.get(self.object_url(key));
        if self.force_get && self.target == Target::Router {
            req = req.header("Force-Get", "1");
        }
        let mut resp = checked(step, req.send().await).await?;
        let mut got = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport(step, e))? {
            got += chunk.len() as u64;
        }
        if got != expected {
            return Err(OpError::Length {
                step,
                expected,
                got,
            });
        }
        Ok(got)
    }

    /// Fetches the object's metadata, checks its size, and returns the response length in bytes.
    pub async fn get_metadata(&self, key: &str, expected: u64) -> Result<u64, OpError> {
        if let Some(s3) = &self.s3 {
            return s3.head(key, expected).await;
        }
        let step = "get metadata";
        let url = format!(
            "{}/api/v4/buckets/{}/metadata/{key}",
            self.base, self.bucket
        );
        let resp = checked(step, self.client.get(url).send().await).await?;
        let raw = resp.bytes().await.map_err(|e| transport(step, e))?;
        let answer: Value = serde_json::from_slice(&raw).map_err(|e| OpError::Decode {
            step,
            detail: e.to_string(),
        })?;
        match answer["metadata"]["size"].as_u64() {
            Some(n) if n == expected => Ok(raw.len() as u64),
            Some(n) => Err(OpError::Length {
                step,
                expected,
                got: n,
            }),
            None => Err(OpError::Decode {
                step,
                detail: format!("no metadata.size in {answer}"),
            }),
        }
    }

    /// Deletes the object here and on every mirror; an already absent object counts as deleted.
    pub async fn delete(&self, key: &str) -> Result<(), OpError> {
        if let Some(s3) = &self.s3 {
            return s3.delete(key).await;
        }
        for m in &self.mirrors {
            m.delete_one(key).await?;
        }
        self.delete_one(key).await
    }

    async fn delete_one(&self, key: &str) -> Result<(), OpError> {
        let step = "delete";
        let resp = self
            .client
            .delete(self.object_url(key))
            .send()
            .await
            .map_err(|e| transport(step, e))?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(status_error(step, resp).await)
        }
    }

    fn object_url(&self, key: &str) -> String {
        format!("{}/api/v4/buckets/{}/{key}", self.base, self.bucket)
    }
}

/// The version of one mirrored PUT: nanoseconds since the Unix epoch, like a peer's own "next" version.
fn mirrored_version() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(1)
}

pub(crate) async fn checked(
    step: &'static str,
    resp: Result<Response, reqwest::Error>,
) -> Result<Response, OpError> {
    let resp = resp.map_err(|e| transport(step, e))?;
    if resp.status().is_success() {
        Ok(resp)
    } else {
        Err(status_error(step, resp).await)
    }
}

pub(crate) async fn status_error(step: &'static str, resp: Response) -> OpError {
    let status = resp.status().as_u16();
    let mut body = resp.text().await.unwrap_or_default();
    if body.len() > ERROR_BODY_LIMIT {
        let cut = (0..=ERROR_BODY_LIMIT)
            .rev()
            .find(|i| body.is_char_boundary(*i))
            .unwrap_or(0);
        body.truncate(cut);
        body.push('…');
    }
    OpError::Status { step, status, body }
}

async fn json_body(step: &'static str, resp: Response) -> Result<Value, OpError> {
    resp.json().await.map_err(|e| OpError::Decode {
        step,
        detail: e.to_string(),
    })
}

/// reqwest's own message hides the cause ("error sending request"); keep the whole source chain.
pub(crate) fn transport(step: &'static str, e: reqwest::Error) -> OpError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    OpError::Transport { step, detail }
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
