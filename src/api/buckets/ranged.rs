//! One GET-bytes attempt on one holder, and the client `Range` rules of GET bytes (RFC 9110 §14, single
//! range only): a cache hit slices its bytes, a peer read passes the range to the holder and relays its
//! 206 or 416; a multi-range, malformed or non-`bytes` header is ignored (200 with the whole object), as
//! the peer does. Every 200 and 206 says `Accept-Ranges: bytes`.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::download::set_headers;

use crate::cluster::PeerInfo;
use crate::datapath::{Attempt, BytesOut, Candidate};
use crate::peer_client::{DataAnswer, GetMetadataResponse, PeerClient, PeerError};
use mictlanx_http::error::ApiError;
use mictlanx_http::range::{
    content_range, parse_range, unsatisfied_range, ByteRange, RangeRequest,
};
use mictlanx_proto::model::Metadata;

/// What a successful read attempt found: the peer, its metadata when it was asked for, and the answer.
pub struct Found {
    pub peer: PeerInfo,
    pub metadata: Option<Metadata>,
    pub answer: Answer,
}

/// The holder's data answer.
pub enum Answer {
    /// Bytes to stream: the object has `size` bytes; `part` = the 206's range (`None` = all of them).
    Bytes {
        resp: reqwest::Response,
        size: u64,
        part: Option<ByteRange>,
    },
    /// The client's range selects nothing of an object of `size` bytes.
    Unsatisfiable { size: u64 },
}

/// One candidate: the data answer (with the metadata too when `metadata_first`), passing `range` on.
pub async fn attempt(
    client: PeerClient,
    c: Candidate,
    (b, k): (&str, &str),
    range: Option<&str>,
    metadata_first: bool,
) -> Attempt<Found> {
    let peer = c.peer;
    if !metadata_first && c.metadata.is_none() {
        return data_only(&client, peer, b, k, range).await;
    }
    // One peer request when the data answer carries the metadata.
    let (md, data) = match c.metadata {
        Some(md) => (Ok(md), client.get_data_ranged(&peer, b, k, range).await),
        None => super::data_meta::data_and_metadata(&client, &peer, (b, k), range).await,
    };
    decide(peer, md, data)
}

/// One candidate's metadata and data answers → the attempt's outcome. The data answer is used only once
/// the metadata says the object exists and is enabled; a disabled object moves on keeping its record.
fn decide(
    peer: PeerInfo,
    md: Result<GetMetadataResponse, PeerError>,
    data: Result<DataAnswer, PeerError>,
) -> Attempt<Found> {
    let md = match md {
        Ok(md) => md,
        Err(e) => return Attempt::from_peer_error(&e),
    };
    if md.metadata.is_disabled {
        return Attempt::Disabled;
    }
    let answer = match data {
        // The metadata came from another request (discovery, or the metadata route after the data
        // answer): an overwrite on the peer in between makes it another version's. The data answer's own
        // `Content-Length` is the size of the bytes it streams; metadata of another size is not used
        // (streaming the old size would cut the new bytes short and pass them off as whole).
        Ok(DataAnswer::Whole {
            resp,
            size: Some(size),
        }) if size != md.metadata.size => {
            tracing::debug!(peer_id = %peer.peer_id, size, metadata_size = md.metadata.size,
                "data and metadata of different versions: the metadata is left out");
            return Attempt::Done(Found {
                peer,
                metadata: None,
                answer: Answer::Bytes {
                    resp,
                    size,
                    part: None,
                },
            });
        }
        Ok(DataAnswer::Whole { resp, .. }) => Answer::Bytes {
            resp,
            size: md.metadata.size,
            part: None,
        },
        Ok(DataAnswer::Part { resp, range, size }) => Answer::Bytes {
            resp,
            size,
            part: Some(range),
        },
        Ok(DataAnswer::Unsatisfiable { size }) => Answer::Unsatisfiable { size },
        Err(e) => return Attempt::from_peer_error(&e),
    };
    Attempt::Done(Found {
        peer,
        metadata: Some(md.metadata),
        answer,
    })
}

/// One read attempt without the metadata request: the peer's data answer carries the size
/// (`Content-Length` = metadata size, `docs/peer-api.md` #21, or the `Content-Range` total) and the content
/// type. The metadata is asked only when the answer cannot decide: a 404 (absent, or disabled — which
/// keeps the replica record) and a 200 without `Content-Length`.
async fn data_only(
    client: &PeerClient,
    peer: PeerInfo,
    b: &str,
    k: &str,
    range: Option<&str>,
) -> Attempt<Found> {
    let data = match client.get_data_ranged(&peer, b, k, range).await {
        Ok(DataAnswer::Whole {
            resp,
            size: Some(size),
        }) => {
            return Attempt::Done(Found {
                peer,
                metadata: None,
                answer: Answer::Bytes {
                    resp,
                    size,
                    part: None,
                },
            })
        }
        Ok(answer @ DataAnswer::Whole { size: None, .. }) => Ok(answer),
        Ok(DataAnswer::Part { resp, range, size }) => {
            return Attempt::Done(Found {
                peer,
                metadata: None,
                answer: Answer::Bytes {
                    resp,
                    size,
                    part: Some(range),
                },
            })
        }
        Ok(DataAnswer::Unsatisfiable { size }) => {
            return Attempt::Done(Found {
                peer,
                metadata: None,
                answer: Answer::Unsatisfiable { size },
            })
        }
        Err(e @ PeerError::NotFound(_)) => Err(e),
        Err(e) => return Attempt::from_peer_error(&e),
    };
    let md = client.get_metadata(&peer, b, k).await;
    decide(peer, md, data)
}

/// `206` + `Content-Range` for a part; `Accept-Ranges: bytes` on both 200 and 206.
pub fn set_range_headers(res: &mut Response, part: Option<ByteRange>, size: u64) {
    let h = res.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(r) = part {
        if let Ok(v) = HeaderValue::from_str(&content_range(r, size)) {
            h.insert(header::CONTENT_RANGE, v);
        }
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
}

/// 416 `{"detail": "Range not satisfiable: {b}@{k} has {size} bytes"}` with `Content-Range: bytes */size`.
pub fn unsatisfiable((b, k): (&str, &str), size: u64) -> Response {
    let detail = format!("Range not satisfiable: {b}@{k} has {size} bytes");
    let mut res = ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, detail).into_response();
    if let Ok(v) = HeaderValue::from_str(&unsatisfied_range(size)) {
        res.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    res.headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    res
}

/// A cache hit: the whole entry, the part `range` selects, or a 416.
pub fn from_cache(
    object: (&str, &str),
    bytes: Bytes,
    range: Option<&str>,
    content_type: &str,
    disposition: Option<String>,
    out: &BytesOut,
) -> Response {
    let size = bytes.len() as u64;
    let part = match parse_range(range, size) {
        RangeRequest::Full => None,
        RangeRequest::Partial(r) => Some(r),
        RangeRequest::Unsatisfiable => return unsatisfiable(object, size),
    };
    let body = match part {
        // Both ends are inside the entry (`parse_range` clamps to the size).
        Some(r) => bytes.slice(r.start as usize..=r.end as usize),
        None => bytes,
    };
    let len = body.len() as u64;
    out.add(len);
    let mut res = Body::from(body).into_response();
    set_headers(res.headers_mut(), len, content_type, disposition);
    set_range_headers(&mut res, part, size);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use mictlanx_proto::model::Metadata;

    fn metadata(size: u64) -> GetMetadataResponse {
        let md: Metadata = serde_json::from_value(serde_json::json!({
            "key": "k", "size": size, "checksum": "-", "bucket_id": "b", "ball_id": "k",
        }))
        .unwrap();
        GetMetadataResponse {
            service_time: 0,
            peer_id: "p".into(),
            local_peer_id: "p".into(),
            metadata: md,
        }
    }

    fn whole(len: usize) -> DataAnswer {
        let resp = axum::http::Response::builder()
            .header("content-length", len)
            .body(vec![7u8; len])
            .unwrap();
        DataAnswer::Whole {
            resp: reqwest::Response::from(resp),
            size: Some(len as u64),
        }
    }

    fn peer() -> PeerInfo {
        PeerInfo {
            peer_id: "p".into(),
            ip_addr: "127.0.0.1".into(),
            port: 1,
            protocol: "http".into(),
            api_version: 4,
        }
    }

    /// Found by the model-based random test (seed 1024): a GET streamed the 267-byte size of one version
    /// over the bytes of a 42107-byte overwrite that landed on the holder between the two requests.
    #[test]
    fn metadata_of_another_size_never_sets_the_length_of_the_bytes() {
        let Attempt::Done(found) = decide(peer(), Ok(metadata(267)), Ok(whole(42_107))) else {
            panic!("the data answer is served");
        };
        match found.answer {
            Answer::Bytes { size, part, .. } => assert_eq!((size, part), (42_107, None)),
            Answer::Unsatisfiable { .. } => panic!("whole answer expected"),
        }
        assert!(
            found.metadata.is_none(),
            "another version's metadata is left out"
        );
        let Attempt::Done(found) = decide(peer(), Ok(metadata(100)), Ok(whole(100))) else {
            panic!("the data answer is served");
        };
        assert!(found.metadata.is_some());
    }
}
