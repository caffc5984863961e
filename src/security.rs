//! Credentials and network allowlists shared by the configuration and the HTTP edge: [`Secret`] (a token
//! that never prints) and [`PeerAllowlist`] (which hosts may be registered as peers at run time).

mod allowlist;
mod secret;

pub use allowlist::{AllowlistError, PeerAllowlist};
pub use secret::{matches_digest, Secret, TokenError};
