//! (placeholder) peer_client
