//! The data GET with a `Range` (`docs/peer-api.md` §9–§14, Range on the data GET): a client's range
//! passed on, and the continuation of a read from another holder at the byte offset it reached.

use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::Response;

use super::answer::answer_error;
use super::report::Report;
use super::{status_outcome, trace_headers, PeerClient, PeerError};
use crate::peer::{PeerInfo, PeerOutcome};
use mictlanx_http::range::{parse_content_range, ByteRange};
use mictlanx_proto::peer::paths;

/// What a data GET with a `Range` answered.
#[derive(Debug)]
pub enum DataAnswer {
    /// 200: the peer sent the whole object (no range, or one it ignores such as a multi-range).
    Whole { resp: Response, size: Option<u64> },
    /// 206: exactly `range` of an object of `size` bytes.
    Part {
        resp: Response,
        range: ByteRange,
        size: u64,
    },
    /// 416: the range selects nothing of an object of `size` bytes.
    Unsatisfiable { size: u64 },
}

impl PeerClient {
    /// `GET /api/v4/buckets/{b}/{k}` with `Range: {range}` when given. A 416 is an answer (the object's
    /// size is in its `Content-Range: bytes */{size}`); a 206 without a valid `Content-Range` is `Decode`.
    pub async fn get_data_ranged(
        &self,
        peer: &PeerInfo,
        b: &str,
        k: &str,
        range: Option<&str>,
    ) -> Result<DataAnswer, PeerError> {
        let resp = self.data_request(peer, b, k, range).await?;
        let content_range = resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match resp.status().as_u16() {
            206 => match content_range.as_deref().and_then(parse_content_range) {
                Some((range, Some(size))) => Ok(DataAnswer::Part { resp, range, size }),
                _ => Err(PeerError::Decode(format!(
                    "206 with an invalid Content-Range {content_range:?}"
                ))),
            },
            416 => {
                let size = content_range
                    .as_deref()
                    .and_then(|v| v.trim().strip_prefix("bytes */"))
                    .and_then(|v| v.trim().parse().ok());
                match size {
                    Some(size) => Ok(DataAnswer::Unsatisfiable { size }),
                    None => Err(PeerError::Decode(format!(
                        "416 with an invalid Content-Range {content_range:?}"
                    ))),
                }
            }
            _ => {
                let size = resp
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                Ok(DataAnswer::Whole { resp, size })
            }
        }
    }

    /// The bytes `start..=end` of an object of `size` bytes, to continue a read elsewhere: anything but a
    /// 206 with exactly that range of an object of that size is an error.
    pub async fn get_data_part(
        &self,
        peer: &PeerInfo,
        b: &str,
        k: &str,
        want: ByteRange,
        size: u64,
    ) -> Result<Response, PeerError> {
        let header = format!("bytes={}-{}", want.start, want.end);
        match self.get_data_ranged(peer, b, k, Some(&header)).await? {
            DataAnswer::Part {
                resp,
                range,
                size: got,
            } if range == want && got == size => Ok(resp),
            DataAnswer::Part {
                range, size: got, ..
            } => Err(PeerError::Decode(format!(
                "asked {header} of {size} bytes, got bytes {}-{}/{got}",
                range.start, range.end
            ))),
            DataAnswer::Whole { .. } => Err(PeerError::Decode(format!(
                "asked {header}, got the whole object"
            ))),
            DataAnswer::Unsatisfiable { size: got } => Err(PeerError::Decode(format!(
                "asked {header} of {size} bytes, the peer has {got}"
            ))),
        }
    }

    /// A stream from `peer` that stalled (no bytes within the stall timeout): counts as a timeout for
    /// error limiting, like a call that ran into the idle timeout.
    pub async fn report_stalled(&self, peer: &PeerInfo) {
        let report = Report::begin(self, peer).await;
        report.finish(PeerOutcome::Timeout).await;
    }

    /// The data GET: the response after a 2xx, or a 416 when a range was sent (404 → `NotFound`, other
    /// statuses → `Status`). The outcome is reported when the headers arrive.
    pub(super) async fn data_request(
        &self,
        peer: &PeerInfo,
        b: &str,
        k: &str,
        range: Option<&str>,
    ) -> Result<Response, PeerError> {
        let path = paths::object(b, k);
        let mut headers = trace_headers();
        if let Some(r) = range {
            let value = HeaderValue::from_str(r)
                .map_err(|_| PeerError::Decode(format!("invalid Range {r:?}")))?;
            headers.insert(RANGE, value);
        }
        let report = Report::begin(self, peer).await;
        // hyper's own client to `http` peers (`fast.rs`), reqwest for the others.
        let sent = if peer.protocol == "http" {
            let base = peer.base_url(self.test_mode);
            self.fast.get(&base, &path, headers).await
        } else {
            let req = self.http.get(self.url(peer, &path)).headers(headers);
            req.send().await.map_err(|e| PeerError::from_reqwest(&e))
        };
        match sent {
            Err(err) => {
                report.finish(err.outcome()).await;
                Err(err)
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let latency = report.elapsed();
                report.finish(status_outcome(status, latency)).await;
                if resp.status().is_success() || (status == 416 && range.is_some()) {
                    Ok(resp)
                } else {
                    Err(answer_error(peer, resp).await)
                }
            }
        }
    }
}
