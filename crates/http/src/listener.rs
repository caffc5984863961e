//! The one accept loop of the router and the storage peer: plain HTTP/1.1 (+ h2c) or HTTPS (a rustls
//! acceptor, built by the caller), a request-head deadline, an optional connection cap, and graceful
//! shutdown: on the signal stop accepting, let in-flight requests finish up to the drain timeout, then drop
//! what is left.
//!
//! Two head clocks ([`HeadClock`]): the router's runs from the accept (TLS handshake included) to the
//! first request head and then as hyper's header timer, which also closes idle keep-alive connections; the
//! peer's runs only while a head is arriving ([`head_deadline`]), so the routers' pooled connections may
//! idle for the longer `idle` limit. Connection events (opened, closed, too slow) go to the caller's
//! [`ConnectionEvents`], which keeps metrics out of this crate.

pub mod head_deadline;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use head_deadline::{GuardedBody, HeaderDeadline, InFlight};

/// When the request-head deadline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadClock {
    /// From the accept to the first request head (TLS handshake and protocol detection included), then
    /// hyper's header timer for every later head, which also closes keep-alive connections idle that long.
    FromAccept,
    /// Only while a head is arriving (from its first byte); a kept-alive connection may idle for `idle`
    /// (hyper's header timer). HTTP/2 prior-knowledge connections are exempt.
    WhileReceiving { idle: Duration },
}

/// What happens to connections, for the caller's metrics.
pub trait ConnectionEvents: Send + Sync + 'static {
    /// A connection was accepted (and holds a slot, when connections are capped).
    fn opened(&self) {}
    /// It ended, whatever the reason.
    fn closed(&self) {}
    /// It was closed for missing the head deadline.
    fn slow(&self) {}
}

/// Connection events nobody counts.
pub struct NoEvents;

impl ConnectionEvents for NoEvents {}

/// How [`serve`] treats connections.
pub struct ServeOptions {
    /// Terminate TLS with this acceptor (ALPN as configured in it); `None` = plain HTTP.
    pub tls: Option<TlsAcceptor>,
    /// The request-head deadline.
    pub head_timeout: Duration,
    pub head_clock: HeadClock,
    /// At most this many connections are served at once; at the cap the loop stops accepting, so new
    /// connections wait in the kernel's listen backlog. `None` = no cap.
    pub max_connections: Option<usize>,
    /// Largest HTTP/1 request head (hyper's read buffer; larger is 431) and the HTTP/2 header list limit.
    pub max_header_bytes: Option<usize>,
    /// Most header fields of one HTTP/1 request (more is 431).
    pub max_headers: Option<usize>,
    /// How long in-flight requests may run after the shutdown signal.
    pub drain_timeout: Duration,
    /// Cancelled: every connection is dropped at once (a crash-like stop). [`serve`] cancels it itself
    /// when the drain timeout ends.
    pub kill: CancellationToken,
    pub events: Arc<dyn ConnectionEvents>,
}

impl ServeOptions {
    /// Plain HTTP, no cap, hyper's head limits, no events.
    pub fn new(head_timeout: Duration, head_clock: HeadClock, drain_timeout: Duration) -> Self {
        ServeOptions {
            tls: None,
            head_timeout,
            head_clock,
            max_connections: None,
            max_header_bytes: None,
            max_headers: None,
            drain_timeout,
            kill: CancellationToken::new(),
            events: Arc::new(NoEvents),
        }
    }

    fn builder(&self) -> Builder<TokioExecutor> {
        let mut builder = Builder::new(TokioExecutor::new());
        let header_timer = match self.head_clock {
            HeadClock::FromAccept => self.head_timeout,
            HeadClock::WhileReceiving { idle } => idle,
        };
        let mut http1 = builder.http1();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(header_timer)
            .keep_alive(true);
        if let Some(n) = self.max_header_bytes {
            http1.max_buf_size(n);
        }
        if let Some(n) = self.max_headers {
            http1.max_headers(n);
        }
        let mut http2 = builder.http2();
        http2.timer(TokioTimer::new());
        if let Some(n) = self.max_header_bytes {
            http2.max_header_list_size(u32::try_from(n).unwrap_or(u32::MAX));
        }
        builder
    }
}

/// A hyper service answering every request of a connection.
pub trait HttpService:
    Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> HttpService for S
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
}

/// Serve `service` on `listener` until `shutdown` resolves; then drain for at most `opts.drain_timeout`.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) where
    S: HttpService,
    S::Future: Send + 'static,
{
    let builder = opts.builder();
    let permits = opts
        .max_connections
        .map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))));
    let draining = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        // Take a connection slot before accepting: at the cap, new connections queue in the backlog.
        // `biased`: the shutdown future is polled first, so the signal handlers it installs exist before
        // the first connection is served.
        let permit = match &permits {
            None => None,
            Some(permits) => tokio::select! {
                biased;
                _ = &mut shutdown => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(p) => Some(p),
                    Err(_) => break,
                },
            },
        };
        let (stream, remote) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            builder: builder.clone(),
            service: service.clone(),
            tls: opts.tls.clone(),
            head_deadline: Instant::now() + opts.head_timeout,
            head_timeout: opts.head_timeout,
            head_clock: opts.head_clock,
            draining: draining.clone(),
            kill: opts.kill.clone(),
        };
        let open = Open::new(permit, opts.events.clone());
        connections.spawn(async move {
            match conn.run(stream).await {
                Ok(()) => {}
                Err(Closed::Slow) => {
                    open.events.slow();
                    tracing::debug!(%remote, "connection closed: no request head within the header timeout");
                }
                Err(Closed::Error(e)) => {
                    tracing::debug!(%remote, error = %e, "connection ended with an error")
                }
            }
            drop(open);
        });
    }
    drop(listener);
    tracing::info!(
        deadline_s = opts.drain_timeout.as_secs_f64(),
        "shutting down: draining in-flight requests"
    );
    draining.cancel();
    connections.close();
    if tokio::time::timeout(opts.drain_timeout, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout reached with requests still in flight; dropping them");
    }
    opts.kill.cancel();
    connections.wait().await;
}

type ConnError = Box<dyn std::error::Error + Send + Sync>;

/// How a connection ended badly.
enum Closed {
    /// No (complete) request head in time.
    Slow,
    Error(ConnError),
}

/// One accepted connection and what serving it needs.
struct Connection<S> {
    builder: Builder<TokioExecutor>,
    service: S,
    tls: Option<TlsAcceptor>,
    /// When the first request head must have arrived ([`HeadClock::FromAccept`]; bounds the TLS handshake
    /// under both clocks).
    head_deadline: Instant,
    head_timeout: Duration,
    head_clock: HeadClock,
    draining: CancellationToken,
    kill: CancellationToken,
}

impl<S> Connection<S>
where
    S: HttpService,
    S::Future: Send + 'static,
{
    /// TLS handshake (when configured), then HTTP until the client or the server ends the connection.
    async fn run(self, stream: TcpStream) -> Result<(), Closed> {
        let Some(acceptor) = self.tls.clone() else {
            return self.http(stream).await;
        };
        match tokio::time::timeout_at(self.head_deadline, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => self.http(tls).await,
            Ok(Err(e)) => Err(Closed::Error(format!("tls handshake failed: {e}").into())),
            Err(_) => Err(Closed::Slow),
        }
    }

    async fn http<IO>(self, io: IO) -> Result<(), Closed>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        match self.head_clock {
            HeadClock::FromAccept => {
                let arrived = Arc::new(Notify::new());
                let service = Arrivals {
                    inner: self.service.clone(),
                    arrived: arrived.clone(),
                };
                let deadline = self.head_deadline;
                let first_head = async move {
                    if tokio::time::timeout_at(deadline, arrived.notified())
                        .await
                        .is_ok()
                    {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    result = drive(&self.builder, io, service, &self.draining, &self.kill) => result,
                    () = first_head => Err(Closed::Slow),
                }
            }
            HeadClock::WhileReceiving { .. } => {
                let in_flight = InFlight::default();
                let io = HeaderDeadline::new(io, self.head_timeout, in_flight.clone());
                let service = Tracked {
                    inner: self.service.clone(),
                    in_flight,
                };
                drive(&self.builder, io, service, &self.draining, &self.kill).await
            }
        }
    }
}

/// Serve HTTP on `io` until it ends; on `draining` finish the request in flight and close (idle
/// keep-alive connections close at once); on `kill` drop the connection.
async fn drive<IO, T>(
    builder: &Builder<TokioExecutor>,
    io: IO,
    service: T,
    draining: &CancellationToken,
    kill: &CancellationToken,
) -> Result<(), Closed>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible> + Send + 'static,
    T::Future: Send + 'static,
{
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => Some(r),
        _ = draining.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn.as_mut() => Some(r),
                _ = kill.cancelled() => None,
            }
        }
        _ = kill.cancelled() => None,
    };
    match result {
        None | Some(Ok(())) => Ok(()),
        Some(Err(e)) if is_timeout(&*e) => Err(Closed::Slow),
        Some(Err(e)) => Err(Closed::Error(e)),
    }
}

/// hyper's header timeout, or the `TimedOut` read of a [`HeaderDeadline`].
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
            || e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The connection's service under [`HeadClock::FromAccept`], telling the first-head guard that a request
/// head arrived.
#[derive(Clone)]
struct Arrivals<S> {
    inner: S,
    arrived: Arc<Notify>,
}

impl<S, R> Service<R> for Arrivals<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, req: R) -> Self::Future {
        self.arrived.notify_one();
        self.inner.call(req)
    }
}

/// The connection's service under [`HeadClock::WhileReceiving`]: a request is in flight (the head clock
/// stopped) until its response body ends or is dropped.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    in_flight: InFlight,
}

type Responding = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl<S> Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Responding;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let guard = self.in_flight.start();
        let res = self.inner.call(req);
        Box::pin(async move {
            let res = res.await?;
            Ok(res.map(|body| Body::new(GuardedBody::new(body, guard))))
        })
    }
}

/// Holds a connection slot (when capped) and reports the connection's open and close.
struct Open {
    _permit: Option<OwnedSemaphorePermit>,
    events: Arc<dyn ConnectionEvents>,
}

impl Open {
    fn new(permit: Option<OwnedSemaphorePermit>, events: Arc<dyn ConnectionEvents>) -> Self {
        events.opened();
        Open {
            _permit: permit,
            events,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.events.closed();
    }
}
