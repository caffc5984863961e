//! The request-head clock of [`HeadClock::WhileReceiving`](super::HeadClock) (the peer's
//! `MICTLANX_PEER_HEADER_TIMEOUT`): once the first byte of a request arrives, its whole head must arrive
//! within the limit, or the connection is closed.
//!
//! hyper's own `header_read_timeout` also runs while a kept-alive connection waits for its next request, so
//! a short value would close the idle pooled connections of routers (whose pools keep them for 90 s) and
//! race their next request. Hence this wrapper: its clock starts at the first byte read while no request of
//! the connection is in flight, and stops when hyper hands a request to the service. hyper's timer stays at
//! the idle limit (`CLIENT_REQUEST_TIMEOUT` on the peer) and bounds idle keep-alive connections. HTTP/2 (prior knowledge) connections are
//! exempt: they multiplex requests, and hyper's h2 keeps its own flow.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Requests of one connection whose responses are not finished. Cloned into the service.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Mark a request in flight until the returned guard drops (keep it inside the response body).
    pub fn start(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.0.clone())
    }

    fn busy(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }
}

/// Ends one in-flight request when dropped.
#[derive(Debug)]
pub struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it ends or is dropped; size and end-of-stream
/// hints pass through, so `Content-Length` answers stay `Content-Length` answers.
pub struct GuardedBody {
    inner: axum::body::Body,
    _guard: InFlightGuard,
}

impl GuardedBody {
    pub fn new(inner: axum::body::Body, guard: InFlightGuard) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// An I/O stream whose reads fail with `TimedOut` when a request head takes longer than `limit`.
pub struct HeaderDeadline<IO> {
    io: IO,
    limit: Duration,
    in_flight: InFlight,
    deadline: Option<Pin<Box<Sleep>>>,
    /// `None` until the first bytes show whether this is HTTP/2 prior knowledge (exempt).
    exempt: Option<bool>,
}

impl<IO> HeaderDeadline<IO> {
    pub fn new(io: IO, limit: Duration, in_flight: InFlight) -> Self {
        Self {
            io,
            limit,
            in_flight,
            deadline: None,
            exempt: None,
        }
    }
}

const H2_PREFACE_START: &[u8] = b"PRI * HTTP/2";

impl<IO: AsyncRead + Unpin> AsyncRead for HeaderDeadline<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.in_flight.busy() {
            this.deadline = None;
        } else if let Some(deadline) = this.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request head not received within the header timeout",
                )));
            }
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.io).poll_read(cx, buf);
        let read = &buf.filled()[before..];
        if matches!(res, Poll::Ready(Ok(()))) && !read.is_empty() {
            // the preface arrives in one segment in practice; a split one just keeps the deadline
            let exempt = *this
                .exempt
                .get_or_insert_with(|| read.starts_with(H2_PREFACE_START));
            if !exempt && this.deadline.is_none() && !this.in_flight.busy() {
                let mut sleep = Box::pin(tokio::time::sleep(this.limit));
                // register the waker now: the next read may stay pending until the deadline
                let _ = sleep.as_mut().poll(cx);
                this.deadline = Some(sleep);
            }
        }
        res
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for HeaderDeadline<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_slow_head_times_out_but_an_idle_or_busy_connection_does_not() {
        let (client, server) = tokio::io::duplex(1024);
        let in_flight = InFlight::default();
        let mut s = HeaderDeadline::new(server, Duration::from_millis(200), in_flight.clone());
        let mut c = client;
        let mut buf = [0u8; 64];
        // idle for a long time: no clock yet
        let idle = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await;
        assert!(idle.is_err(), "an idle connection is not timed out");
        c.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        assert_eq!(s.read(&mut buf).await.unwrap(), 16);
        // the request is handed to the service: a long body/response wait is fine
        let guard = in_flight.start();
        c.write_all(b"x").await.unwrap();
        assert_eq!(s.read(&mut buf).await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.write_all(b"y").await.unwrap();
        assert_eq!(
            s.read(&mut buf).await.unwrap(),
            1,
            "body bytes while busy are no head"
        );
        drop(guard);
        // the next head starts a new clock, which fires while the rest never comes
        c.write_all(b"GET /2 HTTP/1.1\r\n").await.unwrap();
        assert_eq!(s.read(&mut buf).await.unwrap(), 17);
        let err = s.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn http2_prior_knowledge_is_exempt() {
        let (mut c, server) = tokio::io::duplex(1024);
        let mut s = HeaderDeadline::new(server, Duration::from_millis(100), InFlight::default());
        c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(s.read(&mut buf).await.unwrap(), 24);
        let wait = tokio::time::timeout(Duration::from_millis(400), s.read(&mut buf)).await;
        assert!(wait.is_err(), "still open, no deadline error");
    }
}
