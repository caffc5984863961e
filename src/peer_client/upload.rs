//! Watches an upload's request body so a failure of the *source* (the client's stream broke or ended short
//! of the declared size) is not blamed on the peer by error limiting.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Shared view of what the body did.
#[derive(Debug, Default)]
pub(super) struct BodyWatch {
    failed: AtomicBool,
    ended: AtomicBool,
    sent: AtomicU64,
}

impl BodyWatch {
    /// The source errored, or ended before `size` bytes.
    pub fn source_failed(&self, size: u64) -> bool {
        self.failed.load(Ordering::Relaxed)
            || (self.ended.load(Ordering::Relaxed) && self.sent.load(Ordering::Relaxed) < size)
    }
}

pub(super) struct Watched {
    inner: reqwest::Body,
    watch: Arc<BodyWatch>,
}

impl Watched {
    pub fn wrap(inner: reqwest::Body) -> (reqwest::Body, Arc<BodyWatch>) {
        let watch = Arc::new(BodyWatch::default());
        (
            reqwest::Body::wrap(Watched {
                inner,
                watch: watch.clone(),
            }),
            watch,
        )
    }
}

impl Body for Watched {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.watch
                        .sent
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            Poll::Ready(Some(Err(_))) => self.watch.failed.store(true, Ordering::Relaxed),
            Poll::Ready(None) => self.watch.ended.store(true, Ordering::Relaxed),
            Poll::Pending => {}
        }
        polled
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}
