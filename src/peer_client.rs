//! `PeerClient`: one pooled reqwest client speaking peer API v4 for the whole router (`docs/router-api.md` §3.8):
//! connect + idle timeouts on the client, a total timeout on JSON calls only, outcome reporting to the
//! replica manager, the `mictlanx_router_peer_requests_total` counter and `traceparent` propagation.
//! Hardening: redirects are never followed (a 3xx is an error answer), buffered answers are capped
//! (`answer.rs`), and `MICTLANX_ROUTER_PEER_TOKEN` goes as a bearer token on every call, streams included.

mod answer;
mod build;
mod error;
mod fast;
mod ranged;
mod report;
mod shards;
mod upload;
mod versioned;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response};

use answer::{answer_error, decode, n_deletes, read_capped, Answer};
pub use answer::{MAX_ANSWER_BYTES, MAX_ERROR_BYTES};
pub use error::{outcome_label, status_of_cause, status_outcome, PeerError};

pub use mictlanx_proto::peer::{
    GetMetadataResponse, GetSizeByKey, PeerBallGroup, PeerBucketMetadata, PeerPutDataResponse,
    PeerPutMetadata, PeerPutMetadataResponse, UfsStats, XBall,
};
pub use ranged::DataAnswer;
use report::Report;
pub use report::{abandoned_after, OutcomeSink};
pub use versioned::{CopyInfo, PutOptions, IF_VERSION_AT_MOST, OBJECT_VERSION, REPLICATION_FACTOR};

use crate::config::PeerIoConfig;
use crate::peer::{PeerInfo, PeerOutcome, PeerStats};
use crate::telemetry::Metrics;
use mictlanx_proto::headers::{FORCE, LATE_TAGS, LATE_TAGS_APPLIED, TASK_ID, UPDATE};
use mictlanx_proto::peer::paths;

/// Cheap to clone (the reqwest pool is shared).
#[derive(Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    /// Same settings without `read_timeout`: reqwest arms that timer once per request and does not reset it
    /// while a request body is being sent, so an upload lasting longer than the idle timeout would fail.
    /// Upload stalls are bounded by the fan-out instead (`replication::fanout`).
    upload_http: reqwest::Client,
    /// hyper's own client for the data and metadata GETs to `http` peers (`fast.rs`).
    fast: Arc<fast::FastGet>,
    test_mode: bool,
    peer_timeout: Duration,
    fanout: usize,
    fanout_deadline: Duration,
    reporter: Option<Arc<dyn OutcomeSink>>,
    counters: report::PeerCounters,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient")
            .field("test_mode", &self.test_mode)
            .field("peer_timeout", &self.peer_timeout)
            .field("reporting", &self.reporter.is_some())
            .finish()
    }
}

impl PeerClient {
    /// Builds the pooled client: connect timeout, idle (read) timeout, extra CA bundle for https peers, no
    /// redirects, and the peer token as a default header (built once, marked sensitive).
    pub fn new(io: &PeerIoConfig, test_mode: bool) -> Result<PeerClient, PeerError> {
        let (http, upload_http) = build::clients(io)?;
        let fast = Arc::new(fast::FastGet::new(io, build::auth_header(io)?));
        Ok(PeerClient {
            http,
            upload_http,
            fast,
            test_mode,
            peer_timeout: io.peer_timeout,
            fanout: io.fanout_concurrency.max(1),
            fanout_deadline: io.fanout_deadline,
            reporter: None,
            counters: report::PeerCounters::new(Metrics::new()),
        })
    }

    /// The same client (same pool) counting its calls, and the data path's events, into `metrics` (the
    /// App's recorder). A client built by [`PeerClient::new`] alone counts into a recorder nobody renders.
    pub fn recording_into(&self, metrics: &Metrics) -> PeerClient {
        PeerClient {
            counters: report::PeerCounters::new(metrics.clone()),
            ..self.clone()
        }
    }

    /// The recorder this client counts into.
    pub fn metrics(&self) -> &Metrics {
        self.counters.metrics()
    }

    /// The same client (same pool) reporting every call to `sink`.
    pub fn reporting_to_sink(&self, sink: Arc<dyn OutcomeSink>) -> PeerClient {
        PeerClient {
            reporter: Some(sink),
            ..self.clone()
        }
    }

    /// The same client (same pool) reporting nowhere (health probes, whose results are applied directly).
    pub fn without_reporting(&self) -> PeerClient {
        PeerClient {
            reporter: None,
            ..self.clone()
        }
    }

    pub fn test_mode(&self) -> bool {
        self.test_mode
    }

    pub fn peer_timeout(&self) -> Duration {
        self.peer_timeout
    }

    /// `MICTLANX_ROUTER_FANOUT_CONCURRENCY`: the bound of every fan-out.
    pub fn fanout_concurrency(&self) -> usize {
        self.fanout
    }

    /// `MICTLANX_ROUTER_FANOUT_DEADLINE`: how long a fan-out to many peers waits for their answers.
    pub fn fanout_deadline(&self) -> Duration {
        self.fanout_deadline
    }

    /// `{base_url}{path}`; `path` starts with `/` and is already escaped.
    fn url(&self, peer: &PeerInfo, path: &str) -> String {
        format!("{}{}", peer.base_url(self.test_mode), path)
    }

    /// `GET /api/v4/stats/ufs` with the peer timeout.
    pub async fn stats_ufs(&self, peer: &PeerInfo) -> Result<UfsStats, PeerError> {
        self.probe_ufs(peer, self.peer_timeout).await
    }

    /// `GET /api/v4/stats/ufs` with an explicit total timeout (the health probe's).
    pub async fn probe_ufs(
        &self,
        peer: &PeerInfo,
        timeout: Duration,
    ) -> Result<UfsStats, PeerError> {
        let req = self.http.get(self.url(peer, paths::STATS_UFS));
        decode(self.call(peer, req, Some(timeout)).await?)
    }

    /// `GET /api/v4/stats?start&end`: the seven-key stats (a missing key is a `Decode` error).
    pub async fn stats(
        &self,
        peer: &PeerInfo,
        start: i64,
        end: i64,
    ) -> Result<PeerStats, PeerError> {
        let req = self
            .http
            .get(self.url(peer, &paths::window(paths::STATS, start, end)));
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `GET /api/v4/xballs?start&end`: one inventory page.
    pub async fn xballs(
        &self,
        peer: &PeerInfo,
        start: u64,
        end: u64,
    ) -> Result<Vec<XBall>, PeerError> {
        let req = self
            .http
            .get(self.url(peer, &paths::window(paths::XBALLS, start, end)));
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `GET /api/v4/xballs?after_bucket_id&after_key&limit`: one keyset inventory page, the objects strictly
    /// after `after` in `(bucket_id, key)` order.
    pub async fn xballs_after(
        &self,
        peer: &PeerInfo,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<XBall>, PeerError> {
        let req = self
            .http
            .get(self.url(peer, &paths::xballs_after(after, limit)));
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `GET /api/v4/buckets/{b}/metadata?prefix&start_after&limit`: one page of the bucket's objects on this
    /// peer, sorted by key.
    pub async fn bucket_metadata_page(
        &self,
        peer: &PeerInfo,
        b: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<PeerBucketMetadata, PeerError> {
        let path = paths::bucket_metadata_page(b, prefix, start_after, limit);
        let req = self.http.get(self.url(peer, &path));
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `GET /api/v4/buckets/{b}/metadata/{k}`.
    pub async fn get_metadata(
        &self,
        peer: &PeerInfo,
        b: &str,
        k: &str,
    ) -> Result<GetMetadataResponse, PeerError> {
        let path = paths::object_metadata(b, k);
        if peer.protocol == "http" {
            return decode(self.call_fast(peer, &path).await?);
        }
        let req = self.http.get(self.url(peer, &path));
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `POST /api/v4/buckets/{b}/metadata` (phase 1) with `Task-Id` (when given) and `Update` headers.
    pub async fn put_metadata(
        &self,
        peer: &PeerInfo,
        b: &str,
        body: &PeerPutMetadata,
        task_id: Option<&str>,
        update: &str,
    ) -> Result<PeerPutMetadataResponse, PeerError> {
        let mut req = self
            .http
            .post(self.url(peer, &paths::bucket_metadata(b)))
            .header(UPDATE, update)
            .json(body);
        if let Some(t) = task_id {
            req = req.header(TASK_ID, t);
        }
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `GET /api/v4/buckets/{b}/metadata`: the bucket's objects on this peer.
    pub async fn bucket_metadata(
        &self,
        peer: &PeerInfo,
        b: &str,
    ) -> Result<PeerBucketMetadata, PeerError> {
        let req = self.http.get(self.url(peer, &paths::bucket_metadata(b)));
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `GET /api/v4/buckets/{b}/metadata/{ball}/group`: the chunks of a ball on this peer.
    pub async fn ball_group(
        &self,
        peer: &PeerInfo,
        b: &str,
        ball: &str,
    ) -> Result<PeerBallGroup, PeerError> {
        let path = paths::ball_group(b, ball);
        decode(
            self.call(
                peer,
                self.http.get(self.url(peer, &path)),
                Some(self.peer_timeout),
            )
            .await?,
        )
    }

    /// `GET /api/v4/buckets/{b}/{k}/size`.
    pub async fn size(&self, peer: &PeerInfo, b: &str, k: &str) -> Result<GetSizeByKey, PeerError> {
        let path = paths::object_size(b, k);
        decode(
            self.call(
                peer,
                self.http.get(self.url(peer, &path)),
                Some(self.peer_timeout),
            )
            .await?,
        )
    }

    /// `POST /api/v4/buckets/{b}/{k}/disable`.
    pub async fn disable(&self, peer: &PeerInfo, b: &str, k: &str) -> Result<(), PeerError> {
        let path = paths::disable(b, k);
        self.call(
            peer,
            self.http.post(self.url(peer, &path)),
            Some(self.peer_timeout),
        )
        .await
        .map(|_| ())
    }

    /// `DELETE /api/v4/buckets/{b}/{k}` → the `n-deletes` count; 404 is `NotFound`.
    pub async fn delete(
        &self,
        peer: &PeerInfo,
        b: &str,
        k: &str,
        force: bool,
    ) -> Result<u64, PeerError> {
        let path = paths::object(b, k);
        self.delete_counting(peer, &path, force).await
    }

    /// `DELETE /api/v4/buckets/{b}/bid/{ball}` → the `n-deletes` count.
    pub async fn delete_by_ball(
        &self,
        peer: &PeerInfo,
        b: &str,
        ball: &str,
        force: bool,
    ) -> Result<u64, PeerError> {
        let path = paths::ball(b, ball);
        self.delete_counting(peer, &path, force).await
    }

    /// A peer delete with the `Force` header; answers the `n-deletes` count.
    async fn delete_counting(
        &self,
        peer: &PeerInfo,
        path: &str,
        force: bool,
    ) -> Result<u64, PeerError> {
        let req = self
            .http
            .delete(self.url(peer, path))
            .header(FORCE, if force { "1" } else { "0" });
        n_deletes(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `POST /api/v4/buckets/data/{task_id}/chunked` streaming `body` (exactly `size` bytes, sent with that
    /// `Content-Length`). No total timeout: only connect + idle apply. A body stream that errors or ends
    /// short aborts the request, so the peer stores nothing; that failure is the source's, so it is not
    /// counted against the peer (the error is `Connect("upload body aborted by its source …")`).
    pub async fn upload_chunked(
        &self,
        peer: &PeerInfo,
        task_id: &str,
        size: u64,
        body: reqwest::Body,
    ) -> Result<PeerPutDataResponse, PeerError> {
        self.upload_with(peer, task_id, size, body, None).await
    }

    /// The upload of [`Self::upload_chunked_versioned`] sent chunked, with the `Late-Tags` trailer that
    /// `body` ends with ([`crate::datapath::late_tags`]); answers whether the peer recorded it.
    pub async fn upload_with_late_tags(
        &self,
        peer: &PeerInfo,
        task_id: &str,
        size: u64,
        body: reqwest::Body,
        version: Option<u64>,
    ) -> Result<bool, PeerError> {
        let answer = self
            .send_upload(peer, (task_id, size, version), body, true)
            .await?;
        let applied = answer
            .headers
            .get(LATE_TAGS)
            .is_some_and(|v| v.as_bytes() == LATE_TAGS_APPLIED.as_bytes());
        decode::<PeerPutDataResponse>(answer)?;
        Ok(applied)
    }

    async fn upload_with(
        &self,
        peer: &PeerInfo,
        task_id: &str,
        size: u64,
        body: reqwest::Body,
        version: Option<u64>,
    ) -> Result<PeerPutDataResponse, PeerError> {
        decode(
            self.send_upload(peer, (task_id, size, version), body, false)
                .await?,
        )
    }

    /// Phase 2 of `size` bytes for `task_id`, committing `version` when given: with `Content-Length`, or
    /// chunked with the `Late-Tags` trailer announced (`late_tags`).
    async fn send_upload(
        &self,
        peer: &PeerInfo,
        (task_id, size, version): (&str, u64, Option<u64>),
        body: reqwest::Body,
        late_tags: bool,
    ) -> Result<Answer, PeerError> {
        let path = paths::upload_chunked(task_id);
        let mut req = self
            .upload_http
            .post(self.url(peer, &path))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream");
        req = if late_tags {
            req.header(reqwest::header::TRAILER, LATE_TAGS)
        } else {
            req.header(reqwest::header::CONTENT_LENGTH, size)
        };
        if let Some(v) = version {
            req = req.header(OBJECT_VERSION, v);
        }
        let (body, watch) = upload::Watched::wrap(body);
        self.call_watched(peer, req.body(body), None, Some((&watch, size)))
            .await
    }

    /// `GET /api/v4/buckets/{b}/{k}`: the streaming response after a 2xx (404 → `NotFound`). The outcome is
    /// reported when the headers arrive; the body has only the idle timeout.
    pub async fn get_data(&self, peer: &PeerInfo, b: &str, k: &str) -> Result<Response, PeerError> {
        self.data_request(peer, b, k, None).await
    }

    /// A buffered GET of `path` through the lean client (`fast.rs`), under the peer timeout as a total
    /// bound, classified and reported like [`PeerClient::call`].
    async fn call_fast(&self, peer: &PeerInfo, path: &str) -> Result<Answer, PeerError> {
        let report = Report::begin(self, peer).await;
        let base = peer.base_url(self.test_mode);
        let exchange = async {
            let resp = match self.fast.get(&base, path, trace_headers()).await {
                Ok(resp) => resp,
                Err(err) => return Err((err.outcome(), err)),
            };
            let latency = report.elapsed();
            let status = resp.status().as_u16();
            if !(200..300).contains(&status) {
                return Err((
                    status_outcome(status, latency),
                    answer_error(peer, resp).await,
                ));
            }
            let headers = resp.headers().clone();
            match read_capped(resp, MAX_ANSWER_BYTES).await {
                Ok(body) => Ok((status_outcome(status, latency), Answer { headers, body })),
                Err(err) => Err((err.outcome(), err)),
            }
        };
        let outcome = match tokio::time::timeout(self.peer_timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let err = PeerError::Timeout(format!(
                    "{base}{path}: no whole answer within {:?}",
                    self.peer_timeout
                ));
                Err((err.outcome(), err))
            }
        };
        match outcome {
            Ok((outcome, answer)) => {
                report.finish(outcome).await;
                Ok(answer)
            }
            Err((outcome, err)) => {
                report.finish(outcome).await;
                Err(err)
            }
        }
    }

    /// One buffered exchange: send, read the whole body, classify, report. Non-2xx → `Err`.
    async fn call(
        &self,
        peer: &PeerInfo,
        req: RequestBuilder,
        total: Option<Duration>,
    ) -> Result<Answer, PeerError> {
        self.call_watched(peer, req, total, None).await
    }

    /// `call` for uploads: when the request fails because the body *source* failed or ended short of
    /// `size`, the peer is not blamed (reported as an answered call) and the error says so.
    async fn call_watched(
        &self,
        peer: &PeerInfo,
        req: RequestBuilder,
        total: Option<Duration>,
        watch: Option<(&upload::BodyWatch, u64)>,
    ) -> Result<Answer, PeerError> {
        let req = match total {
            Some(t) => req.timeout(t),
            None => req,
        };
        let report = Report::begin(self, peer).await;
        let resp = match req.headers(trace_headers()).send().await {
            Ok(r) => r,
            Err(e) => {
                if let Some((_, size)) = watch.filter(|(w, size)| w.source_failed(*size)) {
                    let latency = report.elapsed();
                    report.finish(PeerOutcome::Ok { latency }).await;
                    return Err(PeerError::Connect(format!(
                        "upload body aborted by its source before {size} bytes: {e}"
                    )));
                }
                let err = PeerError::from_reqwest(&e);
                report.finish(err.outcome()).await;
                return Err(err);
            }
        };
        let latency = report.elapsed();
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            report.finish(status_outcome(status, latency)).await;
            return Err(answer_error(peer, resp).await);
        }
        let headers = resp.headers().clone();
        let body = match read_capped(resp, MAX_ANSWER_BYTES).await {
            Ok(b) => b,
            Err(err) => {
                if matches!(err, PeerError::TooLarge { .. }) {
                    tracing::warn!(peer_id = %peer.peer_id, limit = MAX_ANSWER_BYTES, "peer answer too large");
                }
                report.finish(err.outcome()).await;
                return Err(err);
            }
        };
        report.finish(status_outcome(status, latency)).await;
        Ok(Answer { headers, body })
    }
}

/// The current span's W3C trace context as headers.
fn trace_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    crate::telemetry::inject_trace_context(&mut headers);
    headers
}
