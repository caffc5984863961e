//! A bandwidth bound shared by every repair and drain copy (`MICTLANX_ROUTER_REPAIR_BANDWIDTH`): each piece
//! of a copied stream waits for its turn on one virtual clock, so all copies together move at most
//! `rate` bytes per second (plus one piece). Streams stay streams: nothing is buffered here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::time::Instant;

pub struct Throttle {
    /// Bytes per second; 0 = no bound.
    rate: u64,
    next: Mutex<Instant>,
}

impl Throttle {
    pub fn new(rate: u64) -> Throttle {
        Throttle {
            rate,
            next: Mutex::new(Instant::now()),
        }
    }

    /// Wait until `n` more bytes may go.
    pub async fn take(&self, n: u64) {
        if self.rate == 0 || n == 0 {
            return;
        }
        let start = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + Duration::from_secs_f64(n as f64 / self.rate as f64);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// `stream`, each piece released by `throttle`.
pub fn throttled<S, E>(
    stream: S,
    throttle: Arc<Throttle>,
) -> impl Stream<Item = Result<Bytes, E>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Send + 'static,
{
    stream.then(move |piece| {
        let throttle = throttle.clone();
        async move {
            if let Ok(b) = &piece {
                throttle.take(b.len() as u64).await;
            }
            piece
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pieces_are_paced_to_the_rate() {
        let t = Arc::new(Throttle::new(1_000_000));
        let started = std::time::Instant::now();
        let pieces = (0..6).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 100_000])));
        let n = throttled(futures::stream::iter(pieces), t.clone())
            .count()
            .await;
        assert_eq!(n, 6);
        // 600 kB at 1 MB/s: the first piece goes at once, the last after 0.5 s
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(450), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        let unbounded = Throttle::new(0);
        let started = std::time::Instant::now();
        unbounded.take(u64::MAX).await;
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
