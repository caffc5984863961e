//! Fan-outs with a deadline (`MICTLANX_ROUTER_FANOUT_DEADLINE`): many peer calls at once (bounded), and
//! the answers that arrived in time. A stalled peer costs the deadline, never the peer timeout; its call
//! is cancelled and the caller treats it as not answered (a delete leaves it a tombstone).

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;

/// Runs `calls` with at most `concurrency` in flight and returns the outputs that finished within
/// `deadline`, in completion order. Calls still running at the deadline are dropped.
pub async fn within_deadline<I, Fut, T>(calls: I, concurrency: usize, deadline: Duration) -> Vec<T>
where
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = T>,
{
    let mut stream = futures::stream::iter(calls).buffer_unordered(concurrency.max(1));
    let until = tokio::time::Instant::now() + deadline;
    let mut out = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout_at(until, stream.next()).await {
        out.push(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slow_calls_are_left_out() {
        let calls = [10u64, 20, 5_000, 30].map(|ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        });
        let started = std::time::Instant::now();
        let mut got = within_deadline(calls, 8, Duration::from_millis(300)).await;
        got.sort();
        assert_eq!(got, [10, 20, 30]);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
