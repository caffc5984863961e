//! (placeholder) peers_uri
