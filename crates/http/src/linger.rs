//! Lingering on an unread request body: an error answered before the body was read (a phase 2 whose task
//! is unknown or claimed elsewhere) would otherwise be followed by closing a socket that still has the
//! client's bytes in it. The kernel then resets the connection, which can discard the answer before the
//! client reads it, so the client sees a broken connection instead of the JSON error. Reading and dropping
//! what the client is still sending, for a bounded time and byte count, lets the answer arrive (nginx's
//! `lingering_close`). Nothing is kept: each frame is dropped as it comes.

use std::time::Duration;

use axum::body::Body;
use futures::StreamExt;

/// At most this many bytes are read and dropped.
pub const LINGER_BYTES: u64 = 64 * 1024 * 1024;
/// For at most this long.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// Read and drop the rest of `body`: until its end, [`LINGER_BYTES`], [`LINGER_TIME`] or an error.
/// Returns the bytes dropped.
pub async fn discard(body: Body) -> u64 {
    let mut stream = body.into_data_stream();
    let mut dropped = 0u64;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while dropped < LINGER_BYTES {
            match stream.next().await {
                Some(Ok(frame)) => dropped += frame.len() as u64,
                _ => break,
            }
        }
    })
    .await;
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn drops_a_whole_body() {
        let body = Body::from_stream(futures::stream::iter(
            (0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 1000]))),
        ));
        assert_eq!(discard(body).await, 4000);
    }

    #[tokio::test]
    async fn gives_up_on_a_body_that_never_ends() {
        let body = Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        let started = std::time::Instant::now();
        assert_eq!(discard(body).await, 0);
        let took = started.elapsed();
        assert!(took >= LINGER_TIME && took < LINGER_TIME * 3, "{took:?}");
    }
}
