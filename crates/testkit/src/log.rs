//! Logs only when `TEST_LOG` is set: `TEST_LOG=1` (info) or a filter such as `TEST_LOG=debug` or
//! `TEST_LOG=mictlanx_router=trace`. In-process routers and peers log through the test writer; child
//! processes get the level and inherit stderr. Unset, tests print nothing but their own failures.

use std::process::Stdio;
use std::sync::Once;

/// The `TEST_LOG` filter, `None` when logs are off.
pub fn filter() -> Option<String> {
    let value = std::env::var("TEST_LOG").ok()?;
    match value.trim() {
        "" | "0" => None,
        "1" | "true" => Some("info".into()),
        other => Some(other.to_string()),
    }
}

/// Install the tracing subscriber of this test binary once, when `TEST_LOG` is set.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Some(filter) = filter() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

/// The log level a child process runs with: `TEST_LOG`'s when it is a plain level, else `quiet`.
pub fn child_level(quiet: &str) -> String {
    match filter() {
        Some(f) if !f.contains(['=', ',']) => f,
        Some(_) => "info".into(),
        None => quiet.into(),
    }
}

/// A child's stderr: inherited when `TEST_LOG` is set, discarded otherwise.
pub fn child_stderr() -> Stdio {
    if filter().is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    }
}
