//! `PeerError` and the outcome classification of one peer call (`docs/router-api.md` §3.8,
//! `docs/replica-manager.md` §1 `PeerOutcome`).

use std::time::Duration;

use crate::peer::PeerOutcome;

/// Why a peer call did not produce the expected answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The peer answered 404 (an answer, not a fault).
    #[error("not found: {0}")]
    NotFound(String),
    /// Any other non-2xx answer; `detail` is the peer's `detail` text when it sent one.
    #[error("peer answered {status}: {detail}")]
    Status { status: u16, detail: String },
    /// Refused, DNS, TLS, connect timeout, or the connection broke.
    #[error("connect error: {0}")]
    Connect(String),
    /// Idle or total timeout.
    #[error("timeout: {0}")]
    Timeout(String),
    /// A 2xx answer whose body is not the expected JSON.
    #[error("invalid answer: {0}")]
    Decode(String),
    /// A 2xx answer larger than the client buffers (`MAX_ANSWER_BYTES`); it was not read to the end.
    #[error("answer larger than {limit} bytes, the limit of a buffered peer answer")]
    TooLarge { limit: u64 },
}

impl PeerError {
    /// The outcome class of this failure; answers (404, 4xx, undecodable 2xx) are `Ok` with zero latency
    /// (the call itself reports the real latency). An oversized answer is an answer too: the peer is up.
    pub fn outcome(&self) -> PeerOutcome {
        match self {
            PeerError::NotFound(_) | PeerError::Decode(_) | PeerError::TooLarge { .. } => {
                PeerOutcome::Ok {
                    latency: Duration::ZERO,
                }
            }
            PeerError::Status { status, .. } => status_outcome(*status, Duration::ZERO),
            PeerError::Connect(_) => PeerOutcome::Connect,
            PeerError::Timeout(_) => PeerOutcome::Timeout,
        }
    }

    /// Connect errors, timeouts and 5xx other than 507: the peer (or the path to it) is at fault.
    pub fn is_fault(&self) -> bool {
        matches!(
            self.outcome(),
            PeerOutcome::Connect | PeerOutcome::Timeout | PeerOutcome::ServerError(_)
        )
    }

    /// The HTTP status the peer answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PeerError::NotFound(_) => Some(404),
            PeerError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(super) fn from_reqwest(e: &reqwest::Error) -> PeerError {
        let text = error_chain(e);
        if e.is_connect() {
            PeerError::Connect(text)
        } else if e.is_timeout() {
            PeerError::Timeout(text)
        } else if e.is_decode() {
            PeerError::Decode(text)
        } else {
            // Reset or truncated connection, TLS failure after connect, malformed HTTP: a transport fault.
            PeerError::Connect(text)
        }
    }
}

/// `NotFound` for 404, else `Status` with the peer's `detail` text (or the start of its body).
pub(super) fn status_error(status: u16, body: &[u8]) -> PeerError {
    let detail = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => match m.get("detail") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::from_utf8_lossy(body).chars().take(200).collect(),
        },
        _ => String::from_utf8_lossy(body).chars().take(200).collect(),
    };
    if status == 404 {
        PeerError::NotFound(detail)
    } else {
        PeerError::Status { status, detail }
    }
}

/// Inverse of `PeerError::Status`'s text: `(status, detail)` of a cause string `"peer answered 400: …"`, as
/// the fan-out records per-replica causes as text.
pub fn status_of_cause(cause: &str) -> Option<(u16, &str)> {
    let rest = cause.strip_prefix("peer answered ")?;
    let (status, detail) = rest.split_once(": ")?;
    Some((status.parse().ok()?, detail))
}

/// Outcome class of an HTTP status: 2xx–4xx answered, 507 is capacity, other 5xx a server fault.
pub fn status_outcome(status: u16, latency: Duration) -> PeerOutcome {
    match status {
        507 => PeerOutcome::InsufficientStorage,
        500..=599 => PeerOutcome::ServerError(status),
        _ => PeerOutcome::Ok { latency },
    }
}

/// Label of `mictlanx_router_peer_requests_total{outcome}`.
pub fn outcome_label(o: &PeerOutcome) -> &'static str {
    match o {
        PeerOutcome::Ok { .. } => "ok",
        PeerOutcome::Connect => "connect",
        PeerOutcome::Timeout => "timeout",
        PeerOutcome::ServerError(_) => "5xx",
        PeerOutcome::InsufficientStorage => "507",
    }
}

fn error_chain(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_causes_round_trip() {
        let e = PeerError::Status {
            status: 400,
            detail: "Checksum mismatch: declared a != computed b".into(),
        };
        assert_eq!(
            status_of_cause(&e.to_string()),
            Some((400, "Checksum mismatch: declared a != computed b"))
        );
        assert_eq!(status_of_cause("connect error: refused"), None);
        assert_eq!(status_of_cause("peer answered x: y"), None);
    }

    #[test]
    fn classification() {
        assert!(!PeerError::NotFound("x".into()).is_fault());
        assert!(!PeerError::Status {
            status: 507,
            detail: String::new()
        }
        .is_fault());
        assert_eq!(
            PeerError::Status {
                status: 507,
                detail: String::new()
            }
            .outcome(),
            PeerOutcome::InsufficientStorage
        );
        assert!(PeerError::Status {
            status: 503,
            detail: String::new()
        }
        .is_fault());
        assert!(!PeerError::Status {
            status: 409,
            detail: String::new()
        }
        .is_fault());
        assert!(PeerError::Connect("x".into()).is_fault());
        assert!(PeerError::Timeout("x".into()).is_fault());
        assert_eq!(
            status_outcome(404, Duration::from_millis(3)),
            PeerOutcome::Ok {
                latency: Duration::from_millis(3)
            }
        );
    }
}
