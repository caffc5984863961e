//! `mictlanx-peer --healthcheck`: one plain HTTP/1.1 `GET /health` on the local port (no client stack).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::PeerConfig;

/// `true` when the local peer answers `/health` with 200 within a few seconds.
pub async fn healthcheck(cfg: &PeerConfig) -> bool {
    let host = match cfg.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    let probe = async {
        let mut s = TcpStream::connect(format!("{host}:{}", cfg.port))
            .await
            .ok()?;
        let req = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), probe).await,
        Ok(Some(true))
    )
}
