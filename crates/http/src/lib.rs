//! HTTP plumbing shared by the router and the storage peer: the accept loop, the `--healthcheck` probe,
//! `ApiError` (the JSON `{"detail": …}` answers), the ordered route table, single byte ranges, and
//! lingering on an unread request body.

pub mod error;
pub mod healthcheck;
pub mod linger;
pub mod listener;
pub mod range;
pub mod routing;

pub use error::{ApiError, ApiResult};
pub use listener::{serve, ConnectionEvents, HeadClock, ServeOptions};
pub use routing::{
    normalize_path, normalize_prefix, MatchedTemplate, PathParams, Resolved, RouteTable,
};
