//! Fan-outs with a deadline (`MICTLANX_ROUTER_FANOUT_DEADLINE`): many peer calls at once (bounded), and
//! the answers that arrived in time. A stalled peer costs the deadline, never the peer timeout; its call
//! is cancelled, counted as a timeout by error limiting, and the caller treats it as not answered (a
//! delete leaves it a tombstone).

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;

use crate::peer_client::abandoned_after;

/// Runs `calls` with at most `concurrency` in flight and returns the outputs that finished within
/// `deadline`, in completion order. Calls still running at the deadline are dropped.
pub async fn within_deadline<I, Fut, T>(calls: I, concurrency: usize, deadline: Duration) -> Vec<T>
where
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = T>,
{
    within_deadline_settling(calls, concurrency, deadline, None, |_| false).await
}

/// [`within_deadline`], except that once one output is `good`, the calls still running get at most
/// `settle` more (when given): enough for healthy peers, which answer close together, without waiting for
/// a stalled one up to the deadline.
pub async fn within_deadline_settling<I, Fut, T>(
    calls: I,
    concurrency: usize,
    deadline: Duration,
    settle: Option<Duration>,
    good: impl Fn(&T) -> bool,
) -> Vec<T>
where
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = T>,
{
    // Every call is polled inside this scope, so one still running at the deadline counts as a timeout.
    abandoned_after(deadline, async move {
        let mut stream = futures::stream::iter(calls).buffer_unordered(concurrency.max(1));
        let mut until = tokio::time::Instant::now() + deadline;
        let mut settled = false;
        let mut out = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout_at(until, stream.next()).await {
            if let (Some(settle), false, true) = (settle, settled, good(&item)) {
                settled = true;
                until = until.min(tokio::time::Instant::now() + settle);
            }
            out.push(item);
        }
        out
    })
    .await
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

    #[tokio::test]
    async fn after_a_good_answer_the_rest_get_the_settle_time_only() {
        let calls =
            [(5u64, false), (20, true), (60, true), (5_000, true)].map(|(ms, ok)| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                (ms, ok)
            });
        let started = std::time::Instant::now();
        let got = within_deadline_settling(
            calls,
            8,
            Duration::from_secs(10),
            Some(Duration::from_millis(200)),
            |(_, ok)| *ok,
        )
        .await;
        let ms: Vec<u64> = got.iter().map(|(ms, _)| *ms).collect();
        assert_eq!(
            ms,
            [5, 20, 60],
            "a bad first answer does not start the clock"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
