//! The clients of a random run: each picks, from its own seeded generator, an operation, a key of a small
//! contended key space in two buckets and a router, runs it over real HTTP and records it in the
//! [`History`]. Values are `object_stream(seed, size)` with a seed unique to the write, so every byte
//! sequence names the write it came from; phase 1 carries the value's SHA-256 as `checksum`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::Digest;

use super::history::{History, Kind, Op, Outcome, Seen};
use crate::peer::{object_stream, sha256_stream};

pub const BUCKETS: [&str; 2] = ["ma", "mb"];

/// The shape of the workload.
#[derive(Debug, Clone)]
pub struct Workload {
    pub clients: usize,
    /// Keys per bucket (`k0..`), plus four update keys (`u0..u3`) whose values always have one size.
    pub keys: usize,
    /// Largest value.
    pub max_size: u64,
    /// Client-side bound of one request (a slower answer is indeterminate).
    pub timeout: Duration,
}

/// The SHA-256 (hex) of `object_stream(seed, size)`.
pub async fn value_digest(seed: u64, size: u64) -> String {
    sha256_stream(object_stream(seed, size)).await.0
}

/// The fixed size of update key `u{i}`: an update rewrites the metadata it read, so a value of another
/// size written in between would make that metadata wrong by the client's doing, not the router's.
pub fn update_key_size(key: &str) -> Option<u64> {
    let i: u64 = key.strip_prefix('u')?.parse().ok()?;
    Some(1000 + 100 * i)
}

pub(super) struct Client {
    id: usize,
    pub(super) rng: StdRng,
    pub(super) routers: Vec<String>,
    pub(super) http: reqwest::Client,
    history: History,
    w: Workload,
    run_seed: u64,
}

/// Run client `id` until `until`.
pub async fn run_client(
    id: usize,
    run_seed: u64,
    routers: Vec<String>,
    history: History,
    w: Workload,
    until: Instant,
) {
    let http = reqwest::Client::builder()
        .timeout(w.timeout)
        .connect_timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .expect("client");
    let mut c = Client {
        id,
        rng: StdRng::seed_from_u64(run_seed.wrapping_mul(1_000_003).wrapping_add(id as u64)),
        routers,
        http,
        history,
        w,
        run_seed,
    };
    while Instant::now() < until {
        c.one().await;
    }
}

impl Client {
    fn pick_key(&mut self) -> (String, String) {
        let bucket = BUCKETS[self.rng.random_range(0..BUCKETS.len())].to_string();
        let key = if self.rng.random_bool(0.15) {
            format!("u{}", self.rng.random_range(0..4))
        } else {
            format!("k{}", self.rng.random_range(0..self.w.keys))
        };
        (bucket, key)
    }

    fn pick_size(&mut self, key: &str) -> u64 {
        if let Some(size) = update_key_size(key) {
            return size;
        }
        match self.rng.random_range(0..10) {
            0 => 0,
            1..=5 => self.rng.random_range(1..8 * 1024),
            6..=8 => self.rng.random_range(8 * 1024..256 * 1024),
            _ => self
                .rng
                .random_range(256 * 1024..self.w.max_size.max(256 * 1024 + 1)),
        }
    }

    async fn one(&mut self) {
        let (bucket, key) = self.pick_key();
        let router = self.rng.random_range(0..self.routers.len());
        let id = self.history.next_id();
        let invoked = self.history.now();
        let roll = self.rng.random_range(0..100);
        let (kind, outcome, status, seen, note) = match roll {
            0..=29 => self.put(id, router, &bucket, &key).await,
            30..=49 => self.get(router, &bucket, &key, None).await,
            50..=57 => {
                let start = self.rng.random_range(0..4096u64);
                let end = start + self.rng.random_range(0..8192u64);
                self.get(router, &bucket, &key, Some((start, end))).await
            }
            58..=69 => self.metadata(router, &bucket, &key).await,
            70..=79 => self.delete(router, &bucket, &key).await,
            80..=84 => self.update(router, &bucket, &key).await,
            85..=88 => self.disable(router, &bucket, &key).await,
            89..=93 => self.list(router, &bucket).await,
            _ => self.walk(&bucket).await,
        };
        let key = if kind.is_listing() {
            String::new()
        } else {
            key
        };
        self.history.record(Op {
            id,
            client: self.id,
            router,
            bucket,
            key,
            kind,
            invoked,
            completed: self.history.now(),
            outcome,
            status,
            seen,
            note,
        });
    }

    pub(super) fn url(&self, router: usize, path: &str) -> String {
        format!("{}{path}", self.routers[router])
    }

    async fn put(
        &mut self,
        id: u64,
        router: usize,
        b: &str,
        k: &str,
    ) -> (Kind, Outcome, u16, Seen, String) {
        let size = self.pick_size(k);
        let rf = self.rng.random_range(1..=3u32);
        let seed = self.run_seed.wrapping_mul(0x1_0000_0000).wrapping_add(id);
        let digest = value_digest(seed, size).await;
        let phase2_router = self.rng.random_range(0..self.routers.len());
        let kind = Kind::Put {
            seed,
            size,
            rf,
            digest: digest.clone(),
            phase2_router,
        };
        let body = json!({
            "bucket_id": b, "key": k, "ball_id": k, "checksum": digest, "size": size,
            "producer_id": "chaos", "content_type": "application/octet-stream", "tags": {},
            "replication_factor": rf,
        });
        let res = self
            .http
            .post(self.url(router, &format!("/api/v4/buckets/{b}/metadata")))
            .json(&body)
            .send()
            .await;
        let res = match res {
            Ok(res) => res,
            // Phase 1 changes no object: without an answer nothing was written.
            Err(e) => {
                return (
                    kind,
                    Outcome::Failed,
                    0,
                    Seen::Nothing,
                    short(&e.to_string()),
                )
            }
        };
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        if status != 200 {
            return (kind, Outcome::Failed, status, Seen::Nothing, short(&text));
        }
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        let Some(group) = v["tasks_ids"][0].as_str() else {
            return (kind, Outcome::Failed, status, Seen::Nothing, short(&text));
        };
        let res = self
            .http
            .post(self.url(
                phase2_router,
                &format!("/api/v4/buckets/data/{group}/chunked"),
            ))
            .body(reqwest::Body::wrap_stream(object_stream(seed, size)))
            .send()
            .await;
        match res {
            Ok(res) => {
                let status = res.status().as_u16();
                let text = res.text().await.unwrap_or_default();
                let outcome = match status {
                    200 => Outcome::Ok,
                    // Refused before any byte was stored (unknown or expired group, size mismatch).
                    400..=499 => Outcome::Failed,
                    _ => Outcome::Indeterminate,
                };
                let note = if outcome == Outcome::Ok {
                    String::new()
                } else {
                    short(&text)
                };
                (kind, outcome, status, Seen::Nothing, note)
            }
            Err(e) => (
                kind,
                Outcome::Indeterminate,
                0,
                Seen::Nothing,
                short(&e.to_string()),
            ),
        }
    }

    async fn get(
        &mut self,
        router: usize,
        b: &str,
        k: &str,
        range: Option<(u64, u64)>,
    ) -> (Kind, Outcome, u16, Seen, String) {
        let kind = match range {
            Some((start, end)) => Kind::Range { start, end },
            None => Kind::Get,
        };
        let forced = if self.rng.random_bool(0.3) { "1" } else { "0" };
        let mut req = self
            .http
            .get(self.url(router, &format!("/api/v4/buckets/{b}/{k}")))
            .header("Force-Get", forced);
        if let Some((start, end)) = range {
            req = req.header("Range", format!("bytes={start}-{end}"));
        }
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => {
                let note = short(&e.to_string());
                return (kind, Outcome::Indeterminate, 0, Seen::Nothing, note);
            }
        };
        let status = res.status().as_u16();
        match status {
            200 | 206 => {
                let mut h = sha2::Sha256::new();
                let mut len = 0u64;
                let mut body = res.bytes_stream();
                while let Some(chunk) = body.next().await {
                    match chunk {
                        Ok(c) => {
                            len += c.len() as u64;
                            h.update(&c);
                        }
                        Err(e) => {
                            let note = format!("body broken after {len} bytes: {e}");
                            return (kind, Outcome::Indeterminate, status, Seen::Nothing, note);
                        }
                    }
                }
                let digest = hex::encode(h.finalize());
                (
                    kind,
                    Outcome::Ok,
                    status,
                    Seen::Value { digest, len },
                    String::new(),
                )
            }
            404 => {
                let note = short(&res.text().await.unwrap_or_default());
                (kind, Outcome::Ok, status, Seen::Absent, note)
            }
            _ => {
                let note = short(&res.text().await.unwrap_or_default());
                let outcome = if status == 416 {
                    Outcome::Failed
                } else {
                    Outcome::Indeterminate
                };
                (kind, outcome, status, Seen::Nothing, note)
            }
        }
    }
}

/// A short note for the report.
pub(super) fn short(s: &str) -> String {
    s.chars().take(160).collect()
}
