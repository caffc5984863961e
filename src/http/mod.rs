//! HTTP plumbing shared by the router and the storage peer: the ordered route table.

pub mod routing;

pub use routing::{
    normalize_path, normalize_prefix, MatchedTemplate, PathParams, Resolved, RouteTable,
};
