//! Tags a write learns only once its body has ended (the S3 ETag: the MD5 of the bytes), recorded with the
//! object instead of by a metadata update after it. The writer sets them before it releases the body's
//! last bytes; each replica's upload is then sent chunked with a `Late-Tags` trailer, which the peer merges
//! into the metadata it commits (`docs/peer-api.md` §3.2). A peer that answers without `Late-Tags: applied`
//! did not record them, and the writer falls back to the update.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use http_body::{Body, Frame};

use mictlanx_proto::headers::{encode_tags, LATE_TAGS};

/// The late tags of one write, set once by the writer; a request extension of the in-process upload
/// (extensions never cross the wire).
#[derive(Debug, Clone, Default)]
pub struct LateTags(Arc<OnceLock<BTreeMap<String, String>>>);

impl LateTags {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record the tags; only the first call counts. Call it before the body's last bytes are released.
    pub fn set(&self, tags: BTreeMap<String, String>) {
        let _ = self.0.set(tags);
    }

    /// The tags, once set.
    pub fn get(&self) -> Option<&BTreeMap<String, String>> {
        self.0.get()
    }

    fn trailers(&self) -> Option<HeaderMap> {
        let tags = self.0.get()?;
        let value = HeaderValue::from_str(&encode_tags(tags)).ok()?;
        let mut map = HeaderMap::new();
        map.insert(LATE_TAGS, value);
        Some(map)
    }
}

/// In the extensions of the upload's answer when every replica that stored the bytes recorded the late
/// tags.
#[derive(Debug, Clone, Copy)]
pub struct LateTagsApplied;

/// A replica's upload body: the frames of `inner`, then the late tags as trailers once `inner` ended
/// cleanly (nothing when they were never set).
pub struct Trailed<B> {
    inner: B,
    tags: LateTags,
    done: bool,
}

impl<B> Trailed<B> {
    pub fn new(inner: B, tags: LateTags) -> Self {
        Trailed {
            inner,
            tags,
            done: false,
        }
    }
}

impl<B> Body for Trailed<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(self.tags.trailers().map(|t| Ok(Frame::trailers(t))))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};
    use mictlanx_proto::headers::decode_tags;
    use std::io;

    type Pieces = StreamBody<futures::stream::Iter<std::vec::IntoIter<io::Result<Frame<Bytes>>>>>;

    fn body(items: Vec<io::Result<&'static [u8]>>) -> Pieces {
        StreamBody::new(futures::stream::iter(
            items
                .into_iter()
                .map(|r| r.map(|b| Frame::data(Bytes::from_static(b))))
                .collect::<Vec<_>>(),
        ))
    }

    #[tokio::test]
    async fn the_tags_set_before_the_end_follow_the_bytes_as_trailers() {
        let tags = LateTags::new();
        let body = Trailed::new(body(vec![Ok(b"aaa"), Ok(b"bbb")]), tags.clone());
        tags.set([("s3.etag".to_string(), "abc".to_string())].into());
        tags.set([("s3.etag".to_string(), "second".to_string())].into());
        let collected = body.collect().await.unwrap();
        let trailers = collected.trailers().cloned().expect("trailers sent");
        assert_eq!(collected.to_bytes().as_ref(), b"aaabbb");
        let got = decode_tags(trailers[LATE_TAGS].to_str().unwrap()).unwrap();
        assert_eq!(got["s3.etag"], "abc", "only the first set counts");
    }

    #[tokio::test]
    async fn no_tags_no_trailers_and_an_error_ends_the_body() {
        let collected = Trailed::new(body(vec![Ok(b"aaa")]), LateTags::new())
            .collect()
            .await
            .unwrap();
        assert!(collected.trailers().is_none());
        let failing = body(vec![Ok(b"x"), Err(io::Error::other("cut"))]);
        let tags = LateTags::new();
        tags.set(BTreeMap::new());
        assert!(Trailed::new(failing, tags).collect().await.is_err());
    }
}
