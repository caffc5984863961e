//! The `Late-Tags` trailer of a chunked upload (`docs/peer-api.md` §3.2): tags the sender learns only once
//! the body has ended (the router's S3 API sends the object's MD5 there), merged into the metadata the
//! upload commits, so they are recorded with the object and need no metadata update afterwards.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use futures::Stream;
use http_body_util::BodyExt;

use mictlanx_http::error::ApiError;
use mictlanx_proto::headers::{decode_tags, LATE_TAGS};

/// Where the trailers of a body land once its last data frame has been read.
#[derive(Clone, Default)]
pub struct TrailerSlot(Arc<Mutex<Option<HeaderMap>>>);

impl TrailerSlot {
    /// The `Late-Tags` the body's trailers carried: `Ok(None)` when it sent none.
    pub fn tags(&self) -> Result<Option<BTreeMap<String, String>>, ApiError> {
        let trailers = self.0.lock().map(|mut t| t.take()).unwrap_or_default();
        let Some(value) = trailers.as_ref().and_then(|t| t.get(LATE_TAGS)) else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| ApiError::bad_request("Late-Tags: not ASCII"))?;
        decode_tags(value)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("Late-Tags: {e}")))
    }
}

/// Whether the request announced a `Late-Tags` trailer (`Trailer: late-tags`).
pub fn declared(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TRAILER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|name| name.trim().eq_ignore_ascii_case(LATE_TAGS))
}

/// The body's data frames; its trailers go to the returned slot.
pub fn data_and_trailers(
    body: Body,
) -> (
    impl Stream<Item = Result<Bytes, axum::Error>> + Unpin,
    TrailerSlot,
) {
    let slot = TrailerSlot::default();
    let stream = futures::stream::unfold((body, slot.clone()), |(mut body, slot)| async move {
        loop {
            match body.frame().await? {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => return Some((Ok(data), (body, slot))),
                    Err(frame) => {
                        if let (Ok(trailers), Ok(mut at)) = (frame.into_trailers(), slot.0.lock()) {
                            *at = Some(trailers);
                        }
                    }
                },
                Err(e) => return Some((Err(e), (body, slot))),
            }
        }
    });
    (Box::pin(stream), slot)
}
