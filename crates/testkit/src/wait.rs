//! Waiting for a condition: the generous "eventually" bound of the suites and the poll that uses it.

use std::future::Future;
use std::time::Duration;

/// Generous bound for "eventually" (a loaded 2-core CI machine); the checks poll every 50 ms.
pub const EVENTUALLY: Duration = Duration::from_secs(20);

/// Poll `check` every 50 ms until it holds; panics naming `what` after [`EVENTUALLY`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}
