//! The S3 listener: binds `MICTLANX_ROUTER_HOST:MICTLANX_S3_PORT` and serves the s3s service through the
//! router's own accept loop ([`crate::server::serve`]: TLS when the router has TLS, header deadline,
//! connection cap, drain on shutdown). SigV4 (headers, presigned URLs, `aws-chunked`) is checked by s3s
//! against the configured keys; unsigned requests are refused unless anonymous access is configured.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tracing::Instrument;

use super::backend::Backend;
use super::buckets::Buckets;
use super::service::Facade;
use super::uploads::Uploads;
use crate::app::AppState;
use crate::cluster::Manager;
use crate::server;

/// A bound, not yet serving S3 listener.
pub struct S3Listener {
    listener: TcpListener,
    service: S3Service,
    /// For the upload expiry sweep.
    facade: Facade,
    manager: Arc<Manager>,
}

/// Serves every request when anonymous access is configured.
struct AllowAnonymous;

#[async_trait::async_trait]
impl s3s::access::S3Access for AllowAnonymous {
    async fn check(&self, _cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        Ok(())
    }
}

impl S3Listener {
    /// Bind the port and assemble the facade over the router's own API (`api`, without prefix).
    pub async fn bind(
        state: &AppState,
        manager: Arc<Manager>,
        api: axum::Router,
    ) -> anyhow::Result<Self> {
        let config = &state.config;
        let s3 = &config.s3;
        let addr = format!("{}:{}", config.server.host, s3.port);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding the S3 listener {addr}"))?;
        let facade = Facade::new(
            Backend::new(api),
            (
                Buckets::new(manager.store(), config.replica.state_timeout),
                Uploads::new(manager.store(), config.replica.state_timeout),
            ),
            (s3.replication_factor, s3.reduced_replication_factor),
            config.security.max_object_size,
            state.metrics.clone(),
        );
        let mut builder = S3ServiceBuilder::new(facade.clone());
        let mut auth = SimpleAuth::new();
        for c in &s3.credentials {
            auth.register(c.access_key.clone(), c.secret_key.expose().into());
        }
        builder.set_auth(auth);
        if s3.anonymous {
            builder.set_access(AllowAnonymous);
        }
        if let Some(domain) = &s3.domain {
            builder.set_host(s3s::host::SingleDomain::new(domain).context("MICTLANX_S3_DOMAIN")?);
        }
        Ok(S3Listener {
            listener,
            service: builder.build(),
            facade,
            manager,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serve until `shutdown` resolves, then drain.
    pub async fn run_until(
        self,
        state: AppState,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let config = state.config.clone();
        let tls = match &config.server.tls {
            Some(files) => Some(server::tls_acceptor(files)?),
            None => None,
        };
        tracing::info!(addr = %self.listener.local_addr()?, tls = tls.is_some(), "S3 listener up");
        let sweep = tokio::spawn(super::sweep::run(
            self.facade,
            self.manager,
            config.s3.upload_expiry,
        ));
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::new(self.service));
        server::serve(
            self.listener,
            router,
            tls,
            shutdown,
            config.server.shutdown_timeout,
            server::ListenerLimits::from_config(&config.security),
            &state.metrics,
        )
        .await;
        sweep.abort();
        Ok(())
    }
}

/// One S3 request inside a server span (parent from `traceparent`); browser-form POST uploads are refused
/// before s3s would collect them in memory, presigned URLs of a lifetime S3 does not allow before s3s
/// checks them.
async fn handle(State(service): State<Arc<S3Service>>, req: Request) -> Response {
    let span = tracing::info_span!("s3_request", otel.kind = "server",
        http.request.method = %req.method(), http.response.status_code = tracing::field::Empty);
    crate::telemetry::set_parent_from_headers(&span, req.headers());
    if req.method() == Method::POST && is_form(&req) {
        return s3_error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "Browser-form POST uploads are not supported; use PUT or a presigned PUT URL",
        );
    }
    if let Some(why) = super::presign::refused_expiry(req.uri().query()) {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", &why);
    }
    let has_body = declares_body(&req);
    let attributes =
        super::object_attributes::is_get_object_attributes(req.method(), req.uri().query());
    let req = req.map(s3s::Body::http_body_unsync);
    let mut res = match service.call(req).instrument(span.clone()).await {
        Ok(res) => res.map(axum::body::Body::new),
        Err(e) => {
            span.in_scope(|| tracing::error!(error = ?e, "S3 request failed"));
            s3_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
            )
        }
    };
    if attributes {
        res = match super::object_attributes::unquote_etag(res).await {
            Ok(res) => res,
            Err(e) => {
                span.in_scope(
                    || tracing::error!(error = %e, "GetObjectAttributes answer unreadable"),
                );
                s3_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            }
        };
    }
    // An error answered before the body was read (a failed condition, a missing bucket, a refused
    // `Expect: 100-continue`) leaves the body's bytes in the connection, where they would be taken for
    // the start of the next request: the connection ends with this answer.
    if has_body && (res.status().is_client_error() || res.status().is_server_error()) {
        res.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    span.record("http.response.status_code", res.status().as_u16());
    res
}

/// Whether the request announces a body (a non-zero `Content-Length`, or `Transfer-Encoding`).
fn declares_body(req: &Request) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}
