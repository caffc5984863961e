//! An upload body on its way to the peers: hashed (MD5, the S3 ETag) as it streams, checked against the
//! client's `Content-MD5` and SDK checksums ([`super::checksum`]), and always one frame behind the client. The last frame is released only after the
//! client's stream ended without error (s3s checks a signed body's SHA-256 at its end) and the digest matched,
//! so the peers never receive all the announced bytes of a body that turns out bad: they discard the partial
//! object, and nothing becomes visible.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use md5::{Digest, Md5};

use super::attrs;
use super::checksum::{self, Expected};
use crate::datapath::late_tags::LateTags;
use s3s::dto::Checksum;

type StdError = Box<dyn std::error::Error + Send + Sync>;

/// The digest of a body once it ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Outcome {
    /// Not finished (yet).
    #[default]
    Pending,
    /// Complete; the MD5 of every byte, and the SDK checksums the client announced (all matched).
    Complete([u8; 16], Checksum),
    /// Complete, but not the `Content-MD5` or SDK checksum the client announced.
    BadDigest,
}

#[derive(Debug, thiserror::Error)]
#[error("the body does not match its Content-MD5 or checksum")]
pub struct BadDigest;

/// The wrapped body and a handle to read its [`Outcome`] afterwards.
pub struct Checked<S> {
    inner: S,
    held: Option<Bytes>,
    md5: Md5,
    expected: Option<[u8; 16]>,
    sdk: Option<Expected>,
    outcome: Arc<Mutex<Outcome>>,
    ended: bool,
    /// Where the checked checksums go as tags (the MD5 too unless the flag says the ETag is known), before the
    /// last frame is released.
    late: Option<(LateTags, bool)>,
}

impl<S> Checked<S> {
    pub fn new(
        inner: S,
        expected: Option<[u8; 16]>,
        sdk: Option<Expected>,
    ) -> (Self, Arc<Mutex<Outcome>>) {
        let outcome = Arc::new(Mutex::new(Outcome::Pending));
        let body = Checked {
            inner,
            held: None,
            md5: Md5::new(),
            expected,
            sdk,
            outcome: outcome.clone(),
            ended: false,
            late: None,
        };
        (body, outcome)
    }

    /// Record the checked SDK checksums as tags in `late` once the body is complete and checked, with the
    /// MD5 (hex) as the ETag tag unless `etag_known`, before its last frame goes on, so the peers receive them
    /// after the bytes ([`LateTags`]).
    pub fn with_late_tags(mut self, late: Option<LateTags>, etag_known: bool) -> Self {
        self.late = late.map(|l| (l, etag_known));
        self
    }

    fn set(&self, o: Outcome) {
        if let Ok(mut slot) = self.outcome.lock() {
            *slot = o;
        }
    }
}

impl<S> Stream for Checked<S>
where
    S: Stream<Item = Result<Bytes, StdError>> + Unpin,
{
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(this.held.take().map(Ok));
        }
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if frame.is_empty() {
                        continue;
                    }
                    this.md5.update(&frame);
                    if let Some(sdk) = &mut this.sdk {
                        sdk.update(&frame);
                    }
                    if let Some(previous) = this.held.replace(frame) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.ended = true;
                    this.held = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    let digest: [u8; 16] = std::mem::take(&mut this.md5).finalize().into();
                    let sdk = match this.sdk.take() {
                        None => Some(Checksum::default()),
                        Some(expected) => expected.verified(),
                    };
                    let Some(sdk) = sdk.filter(|_| this.expected.is_none_or(|e| e == digest))
                    else {
                        this.held = None;
                        this.set(Outcome::BadDigest);
                        return Poll::Ready(Some(Err(Box::new(BadDigest))));
                    };
                    if let Some((late, etag_known)) = &this.late {
                        let mut tags = checksum::tags(&sdk);
                        if !etag_known {
                            tags.extend(attrs::etag_tag(hex::encode(digest)));
                        }
                        late.set(tags);
                    }
                    this.set(Outcome::Complete(digest, sdk));
                    return Poll::Ready(this.held.take().map(Ok));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn frames(parts: &[&'static str]) -> impl Stream<Item = Result<Bytes, StdError>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p.as_bytes())))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn passes_every_byte_and_records_the_md5() {
        let (body, outcome) = Checked::new(frames(&["hel", "", "lo"]), None, None);
        let out: Vec<_> = body.map(|r| r.unwrap()).collect().await;
        assert_eq!(out.concat(), b"hello");
        let want: [u8; 16] = Md5::digest(b"hello").into();
        let none = Checksum::default();
        assert_eq!(*outcome.lock().unwrap(), Outcome::Complete(want, none));
    }

    #[tokio::test]
    async fn the_etag_is_set_as_a_late_tag_before_the_last_frame() {
        let late = LateTags::new();
        let (body, _) = Checked::new(frames(&["hel", "lo"]), None, None);
        let mut body = body.with_late_tags(Some(late.clone()), false);
        assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"hel");
        assert!(late.get().is_none(), "not before the body ended");
        assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"lo");
        let want = hex::encode(Md5::digest(b"hello"));
        assert_eq!(late.get(), Some(&attrs::etag_tag(want)));
    }

    #[tokio::test]
    async fn a_wrong_digest_withholds_the_last_frame() {
        let (body, outcome) = Checked::new(frames(&["hel", "lo"]), Some([0; 16]), None);
        let out: Vec<_> = body.collect().await;
        assert_eq!(
            out.len(),
            2,
            "first frame, then the error instead of the last"
        );
        assert_eq!(out[0].as_ref().unwrap().as_ref(), b"hel");
        assert!(out[1].is_err());
        assert_eq!(*outcome.lock().unwrap(), Outcome::BadDigest);
    }

    #[tokio::test]
    async fn a_failing_client_stream_withholds_the_held_frame() {
        let failing = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err::<Bytes, StdError>("signature mismatch".into()),
        ]);
        let (body, outcome) = Checked::new(failing, None, None);
        let out: Vec<_> = body.collect().await;
        assert_eq!(out.len(), 1);
        assert!(out[0].is_err());
        assert_eq!(*outcome.lock().unwrap(), Outcome::Pending);
    }
}
