//! Security: the admin token, the listener's limits, the peer client's defences, the router↔peer token
//! and TLS on the router's listener.

mod admin;
mod listener;
mod peer_client;
mod peer_token;
mod tls;
