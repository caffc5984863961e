//! An upload body on its way to the peers: hashed (MD5, the S3 ETag) as it streams, checked against the
//! client's `Content-MD5` and SDK checksums ([`super::checksum`]), and always one frame behind the client. The last frame is released only after the
//! client's stream ended without error (s3s checks a signed body's SHA-256 at its end) and the digest matched,
//! so the peers never receive all the announced bytes of a body that turns out bad: they discard the partial
//! object, and nothing becomes visible.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};

use super::checksum::Expected;

type StdError = Box<dyn std::error::Error + Send + Sync>;

/// The digest of a body once it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// Not finished (yet).
    #[default]
    Pending,
    /// Complete; the MD5 of every byte.
    Complete([u8; 16]),
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
        };
        (body, outcome)
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
                    let sdk_ok = this.sdk.take().is_none_or(Expected::matches);
                    if this.expected.is_some_and(|e| e != digest) || !sdk_ok {
                        this.held = None;
                        this.set(Outcome::BadDigest);
                        return Poll::Ready(Some(Err(Box::new(BadDigest))));
                    }
                    this.set(Outcome::Complete(digest));
                    return Poll::Ready(this.held.take().map(Ok));
                }
            }
        }
    }
}

/// The start of a body, read before the write is placed ([`read_ahead`]).
pub struct Ahead<S> {
    /// The frames read (none empty).
    pub frames: Vec<Bytes>,
    /// The rest of the body; `None` when it ended within the frames.
    pub rest: Option<S>,
}

/// Read `body` until it ends, `limit` bytes are held, or `wait` has passed, whichever comes first; a
/// failing body fails here. Memory stays bounded by `limit` plus one frame.
pub async fn read_ahead<S>(mut body: S, limit: usize, wait: Duration) -> Result<Ahead<S>, StdError>
where
    S: Stream<Item = Result<Bytes, StdError>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + wait;
    let mut frames = Vec::new();
    let mut held = 0usize;
    while held < limit {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(frame))) => {
                held += frame.len();
                if !frame.is_empty() {
                    frames.push(frame);
                }
            }
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) => return Ok(Ahead { frames, rest: None }),
            Err(_elapsed) => break,
        }
    }
    Ok(Ahead {
        frames,
        rest: Some(body),
    })
}

/// The [`Outcome`] of a whole body held in `frames`: its MD5, or `BadDigest` against `expected` (the
/// `Content-MD5`) or the SDK checksums.
pub fn digest_of(frames: &[Bytes], expected: Option<[u8; 16]>, sdk: Option<Expected>) -> Outcome {
    let mut md5 = Md5::new();
    let mut sdk = sdk;
    for f in frames {
        md5.update(f);
        if let Some(s) = &mut sdk {
            s.update(f);
        }
    }
    let digest: [u8; 16] = md5.finalize().into();
    let sdk_ok = sdk.is_none_or(Expected::matches);
    if expected.is_some_and(|e| e != digest) || !sdk_ok {
        return Outcome::BadDigest;
    }
    Outcome::Complete(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(*outcome.lock().unwrap(), Outcome::Complete(want));
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
    async fn read_ahead_holds_a_small_body_whole_and_stops_at_its_limit() {
        let wait = Duration::from_secs(5);
        let small = read_ahead(frames(&["hel", "lo"]), 64, wait).await.unwrap();
        assert_eq!(small.frames.concat(), b"hello");
        assert!(small.rest.is_none(), "the body ended within the limit");
        let want: [u8; 16] = Md5::digest(b"hello").into();
        assert_eq!(
            digest_of(&small.frames, None, None),
            Outcome::Complete(want)
        );
        assert_eq!(
            digest_of(&small.frames, Some([0; 16]), None),
            Outcome::BadDigest
        );

        let large = read_ahead(frames(&["abcd", "efgh", "ij"]), 5, wait)
            .await
            .unwrap();
        assert_eq!(
            large.frames.concat(),
            b"abcdefgh",
            "two frames reach 5 bytes"
        );
        let rest: Vec<_> = large.rest.unwrap().map(|r| r.unwrap()).collect().await;
        assert_eq!(rest.concat(), b"ij");
    }

    #[tokio::test]
    async fn read_ahead_stops_waiting_for_a_stalled_body() {
        let stalled = frames(&["abc"]).chain(futures::stream::pending());
        let ahead = read_ahead(stalled, 1024, Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(ahead.frames.concat(), b"abc");
        assert!(ahead.rest.is_some(), "the rest streams after placement");
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
