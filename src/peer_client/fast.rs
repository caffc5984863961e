//! The lean read path to plain-`http` peers: the data GET and the metadata GET go through
//! hyper's own pooled client instead of reqwest's stack.
//!
//! Why: profiling a cache-off GET 1 KiB (`docs/performance/`) put some 15% of the router's CPU in
//! reqwest's per-request layers even with redirects off: a full `url` parse of every request URL, the
//! `FollowRedirect` and `Retry` services that clone the request's headers and URI for a possible second try,
//! and a second URI conversion. A GET here builds an `http::Uri` directly, sends with the same connect
//! timeout, `TCP_NODELAY`, the peer token and the trace context, bounds the wait for the headers and every
//! body read by the idle timeout (as reqwest's `read_timeout` does), and hands back a `reqwest::Response`,
//! so callers, error mapping and the stream relay are unchanged. Uploads, JSON calls other than the
//! metadata GET, and `https` peers (the extra CA bundle) keep using reqwest.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{Request, Response, Uri};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{ResponseBuilderExt, Url};
use tokio::time::Sleep;

use super::PeerError;
use crate::config::PeerIoConfig;

/// hyper's pooled HTTP/1.1 client for GETs to `http` peers.
pub(super) struct FastGet {
    client: Client<HttpConnector, Empty<Bytes>>,
    auth: Option<HeaderValue>,
    idle: Duration,
    /// Parsed base URLs for `reqwest::Response::url` (parsed once per peer address, not per request).
    urls: Arc<RwLock<HashMap<String, Url>>>,
}

impl FastGet {
    pub fn new(io: &PeerIoConfig, auth: Option<HeaderValue>) -> FastGet {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(io.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        FastGet {
            client,
            auth,
            idle: io.idle_timeout,
            urls: Arc::default(),
        }
    }

    /// `GET {base}{path}` with `headers` (the trace context). Non-2xx answers are returned like 2xx ones
    /// (the caller classifies them). The body has the idle timeout on every read.
    pub async fn get(
        &self,
        base: &str,
        path: &str,
        headers: HeaderMap,
    ) -> Result<reqwest::Response, PeerError> {
        let uri = Uri::try_from(format!("{base}{path}"))
            .map_err(|e| PeerError::Connect(format!("invalid peer URL {base}{path}: {e}")))?;
        let mut req = Request::get(uri)
            .body(Empty::<Bytes>::new())
            .map_err(|e| PeerError::Connect(format!("cannot build a peer request: {e}")))?;
        *req.headers_mut() = headers;
        if let Some(auth) = &self.auth {
            req.headers_mut().insert(AUTHORIZATION, auth.clone());
        }
        let resp = match tokio::time::timeout(self.idle, self.client.request(req)).await {
            Err(_) => {
                return Err(PeerError::Timeout(format!(
                    "no answer from {base} within {:?}",
                    self.idle
                )))
            }
            Ok(Err(e)) => return Err(transport_error(base, &e)),
            Ok(Ok(resp)) => resp,
        };
        let (parts, body) = resp.into_parts();
        let body = reqwest::Body::wrap(IdleBody::new(body, self.idle));
        let mut out = Response::builder()
            .status(parts.status)
            .version(parts.version)
            .url(self.base_url(base))
            .body(body)
            .map_err(|e| PeerError::Connect(format!("cannot rebuild a peer answer: {e}")))?;
        *out.headers_mut() = parts.headers;
        Ok(reqwest::Response::from(out))
    }

    fn base_url(&self, base: &str) -> Url {
        if let Some(url) = read(&self.urls).get(base) {
            return url.clone();
        }
        let url = Url::parse(base).unwrap_or_else(|_| Url::parse("http://peer.invalid").unwrap());
        let mut urls = self.urls.write().unwrap_or_else(|e| e.into_inner());
        // Peers come and go over a router's life; a few hundred addresses at most are ever seen.
        if urls.len() > 4096 {
            urls.clear();
        }
        urls.insert(base.to_string(), url.clone());
        url
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

/// Connect failures (refused, unreachable) and broken exchanges are transport faults; a connect that
/// timed out is a timeout (as reqwest classifies them).
fn transport_error(base: &str, e: &hyper_util::client::legacy::Error) -> PeerError {
    let mut text = format!("{base}: {e}");
    let mut timed_out = false;
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        timed_out |= cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut);
        source = cause.source();
    }
    if timed_out {
        PeerError::Timeout(text)
    } else {
        PeerError::Connect(text)
    }
}

/// A response body whose every read must make progress within `idle`; a stall ends it with an
/// `io::ErrorKind::TimedOut` error, which `reqwest::Error::is_timeout` recognises.
struct IdleBody {
    inner: Incoming,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
}

impl IdleBody {
    fn new(inner: Incoming, idle: Duration) -> Self {
        IdleBody {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl HttpBody for IdleBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.idle;
                this.timer.as_mut().reset(next);
                Poll::Ready(frame.map(|f| f.map_err(io::Error::other)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "peer body idle timeout",
                )))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
