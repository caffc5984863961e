//! HTTP plumbing shared by the router and the storage peer: the ordered route table, single byte ranges,
//! the peer API extension headers, and lingering on an unread request body.

pub mod linger;
pub mod peer_headers;
pub mod range;
pub mod routing;

pub use routing::{
    normalize_path, normalize_prefix, MatchedTemplate, PathParams, Resolved, RouteTable,
};
