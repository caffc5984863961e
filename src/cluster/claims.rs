//! The rules of upload task groups (`docs/replica-manager.md` §8): expiry, claims as leases with a fencing token,
//! renewal, release and the commit check. Pure functions with an explicit `now` (ns); the manager reads a
//! group, applies one of these and writes it back with compare-and-set.
//!
//! A claim is a lease: it lasts `lease` and is renewed while phase-2 bytes stream. Every claim gets a new
//! `claim_token` (the previous one + 1). Renewals, releases and the commit must present the token they were
//! given, so a router that was paused or killed after its lease ran out cannot renew, release or commit
//! once another router has claimed the group.

use std::time::Duration;

use super::types::{RmError, TaskGroup};

/// Visible (not expired). A group under a live claim stays visible past its TTL until the claim ends.
pub fn is_live(g: &TaskGroup, now: u64) -> bool {
    now < g.expires_at_ns || claim_is_live(g, now)
}

pub fn claim_is_live(g: &TaskGroup, now: u64) -> bool {
    g.claimed_until_ns.is_some_and(|until| now < until)
}

/// Claim for `owner`: `Conflict` while another live claim exists; otherwise a new token and lease.
pub fn claim(g: &TaskGroup, owner: &str, now: u64, lease: Duration) -> Result<TaskGroup, RmError> {
    if now >= g.expires_at_ns && !claim_is_live(g, now) {
        return Err(not_found(&g.group_id));
    }
    if claim_is_live(g, now) {
        return Err(RmError::Conflict(format!(
            "Task group {} is already being uploaded",
            g.group_id
        )));
    }
    let mut next = g.clone();
    next.claim_token = g.claim_token + 1;
    next.claimed_until_ns = Some(now.saturating_add(nanos(lease)));
    next.claim_owner = Some(owner.to_string());
    Ok(next)
}

/// Extend the lease of claim `token`. `Conflict` when the group was claimed again since (fenced), or the
/// claim was released.
pub fn renew(g: &TaskGroup, token: u64, now: u64, lease: Duration) -> Result<TaskGroup, RmError> {
    if !holds(g, token) {
        return Err(fenced(&g.group_id));
    }
    let mut next = g.clone();
    next.claimed_until_ns = Some(now.saturating_add(nanos(lease)));
    Ok(next)
}

/// Clear claim `token` (the group stays for a retry). `None` when that claim is no longer the group's.
pub fn release(g: &TaskGroup, token: u64) -> Option<TaskGroup> {
    if !holds(g, token) {
        return None;
    }
    let mut next = g.clone();
    next.claimed_until_ns = None;
    next.claim_owner = None;
    Some(next)
}

/// Whether claim `token` may commit: it is still the group's latest claim and was not released. A lease
/// that ran out with nobody else claiming may still commit: nobody else wrote the group meanwhile.
pub fn holds(g: &TaskGroup, token: u64) -> bool {
    g.claim_token == token && g.claimed_until_ns.is_some()
}

/// How long the store must keep the group: until it expires, or its claim ends, whichever is later.
pub fn store_ttl(g: &TaskGroup, now: u64) -> Duration {
    let until = g
        .expires_at_ns
        .max(g.claimed_until_ns.unwrap_or(0))
        .saturating_sub(now);
    Duration::from_nanos(until.max(1_000_000))
}

pub fn not_found(id: &str) -> RmError {
    RmError::NotFound(format!("Task group {id} not found"))
}

pub fn fenced(id: &str) -> RmError {
    RmError::Conflict(format!(
        "Task group {id} was claimed by another upload (lease lost)"
    ))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_nanos(100);

    fn group(expires: u64) -> TaskGroup {
        TaskGroup {
            group_id: "g".into(),
            operation: "PUT".into(),
            bucket_id: "b".into(),
            key: "k".into(),
            size: 1,
            content_type: "x".into(),
            tasks: vec![],
            reservation_id: None,
            created_at_ns: 0,
            expires_at_ns: expires,
            claimed_until_ns: None,
            claim_token: 0,
            claim_owner: None,
            rf: 1,
            meta: None,
        }
    }

    #[test]
    fn claims_are_leases_with_growing_tokens() {
        let g = group(1_000);
        let a = claim(&g, "A", 10, LEASE).unwrap();
        assert_eq!(a.claim_token, 1);
        assert!(matches!(
            claim(&a, "B", 50, LEASE),
            Err(RmError::Conflict(_))
        ));
        // A was paused past its lease: B takes over with a new token
        let b = claim(&a, "B", 200, LEASE).unwrap();
        assert_eq!(b.claim_token, 2);
        assert!(matches!(
            renew(&b, 1, 210, LEASE),
            Err(RmError::Conflict(_))
        ));
        assert!(!holds(&b, 1), "A cannot commit late");
        assert!(release(&b, 1).is_none(), "nor release B's claim");
        let renewed = renew(&b, 2, 280, LEASE).unwrap();
        assert_eq!(renewed.claimed_until_ns, Some(380));
        let released = release(&renewed, 2).unwrap();
        assert!(!holds(&released, 2));
        assert_eq!(claim(&released, "C", 300, LEASE).unwrap().claim_token, 3);
    }

    #[test]
    fn expiry_waits_for_a_live_claim() {
        let g = claim(&group(100), "A", 90, LEASE).unwrap();
        assert!(is_live(&g, 150), "claimed past the TTL");
        assert!(!is_live(&g, 190));
        assert!(matches!(
            claim(&g, "B", 190, LEASE),
            Err(RmError::NotFound(_))
        ));
        assert_eq!(store_ttl(&g, 90), Duration::from_millis(1));
        let long = group(10_000_000_000);
        assert_eq!(store_ttl(&long, 0), Duration::from_secs(10));
    }
}
