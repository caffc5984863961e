//! Buffered peer answers: the body of a JSON call is read as a stream and refused past
//! [`MAX_ANSWER_BYTES`], so a broken or hostile peer cannot make the router buffer without bound; then it is
//! decoded.
//!
//! The limit is 64 MiB. The largest answers the router asks for are keyset pages of a peer's bucket listing
//! (at most 10 000 objects of 300–500 bytes of JSON each, a few MiB) and `stats` with its
//! `balls` window (100 by default); inventory pages hold `MICTLANX_ROUTER_REBUILD_PAGE_SIZE` (1000) items.
//! Error bodies are only read for their `detail` and are cut at [`MAX_ERROR_BYTES`].

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::Response;
use serde::de::DeserializeOwned;

use super::error::status_error;
use super::PeerError;
use crate::peer::PeerInfo;
use mictlanx_proto::headers::N_DELETES;
use mictlanx_proto::peer::NDeletes;

/// Largest JSON answer read from a peer (64 MiB).
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// Largest error body read from a peer (its `detail` is all the router keeps).
pub const MAX_ERROR_BYTES: u64 = 64 * 1024;

/// A successful (2xx) answer of a buffered call.
pub(super) struct Answer {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Reads the body of `resp` up to `limit` bytes. A larger declared `Content-Length` fails before any byte
/// is read; a body that grows past the limit fails as soon as it does (the connection is then dropped).
pub(super) async fn read_capped(mut resp: Response, limit: u64) -> Result<Bytes, PeerError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(PeerError::TooLarge { limit });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| PeerError::from_reqwest(&e))?
    {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(PeerError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The start of an error body (at most [`MAX_ERROR_BYTES`]); whatever could not be read is left out.
pub(super) async fn read_error_body(mut resp: Response) -> Bytes {
    let mut body = BytesMut::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = (MAX_ERROR_BYTES as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 >= MAX_ERROR_BYTES {
            break;
        }
    }
    body.freeze()
}

/// The error of a non-2xx answer: 404 `NotFound`, a redirect that was not followed, or `Status` with the
/// peer's `detail` (the body is read up to [`MAX_ERROR_BYTES`]). A 401 usually means the router's
/// `MICTLANX_ROUTER_PEER_TOKEN` is missing or differs from the peer's.
pub(super) async fn answer_error(peer: &PeerInfo, resp: Response) -> PeerError {
    let status = resp.status().as_u16();
    if resp.status().is_redirection() {
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return PeerError::Status {
            status,
            detail: format!("redirect to '{location}' not followed"),
        };
    }
    if status == 401 {
        // The peer's detail names the token already and reaches the logs through the caller; this line only
        // ties it to the router's variable, at debug level so health probes do not repeat it every round.
        tracing::debug!(peer_id = %peer.peer_id, "peer refused the router's credentials: check MICTLANX_ROUTER_PEER_TOKEN");
    }
    status_error(status, &read_error_body(resp).await)
}

pub(super) fn decode<T: DeserializeOwned>(a: Answer) -> Result<T, PeerError> {
    serde_json::from_slice(&a.body).map_err(|e| PeerError::Decode(e.to_string()))
}

pub(super) fn n_deletes(a: Answer) -> Result<u64, PeerError> {
    let header = a
        .headers
        .get(N_DELETES)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    match header {
        Some(n) => Ok(n),
        None => serde_json::from_slice::<NDeletes>(&a.body)
            .map(|d| d.n_deletes)
            .map_err(|e| PeerError::Decode(format!("no n-deletes header and {e}"))),
    }
}
