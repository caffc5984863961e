//! Task groups through the store (`docs/replica-manager.md` §8): store, look up, claim with a lease and a
//! fencing token, renew, release, and the fenced commit that records the holders of a finished upload.
//! The rules are [`super::claims`]; this module only reads, applies them and writes with compare-and-set.

use std::sync::Arc;

use super::claims;
use super::objects::write_of;
use super::state::{now_ns, Inner, StateLink};
use super::store::Write;
use super::types::{Claim, RmError, TaskGroup};

const CAS_ATTEMPTS: usize = 32;

fn contention(id: &str) -> RmError {
    RmError::Backend(format!(
        "Task group {id}: too many concurrent changes, try again"
    ))
}

pub(super) async fn put(inner: &Arc<Inner>, mut group: TaskGroup) -> Result<(), RmError> {
    let now = now_ns();
    if group.created_at_ns == 0 {
        group.created_at_ns = now;
    }
    group.expires_at_ns = now.saturating_add(super::state::nanos(inner.cfg.task_ttl));
    let id = group.group_id.clone();
    for attempt in 0..CAS_ATTEMPTS {
        // Group ids are fresh nanoids: assume a new group first, read only when one exists already.
        let prev = if attempt == 0 {
            None
        } else {
            inner.state.st(inner.state.store.group(&id)).await?
        };
        let ttl = claims::store_ttl(&group, now);
        let write = Write::Group {
            id: id.clone(),
            prev,
            next: Some(group.clone()),
            ttl,
        };
        if inner.state.apply(vec![write]).await? {
            return Ok(());
        }
    }
    Err(contention(&id))
}

pub(super) async fn get(state: &StateLink, id: &str) -> Result<Option<TaskGroup>, RmError> {
    let now = now_ns();
    Ok(state
        .st(state.store.group(id))
        .await?
        .map(|v| v.value)
        .filter(|g| claims::is_live(g, now)))
}

/// Claim the group (by group or member task id) for this router; the claim carries the version the
/// write will get.
pub(super) async fn claim(inner: &Arc<Inner>, id: &str) -> Result<Claim, RmError> {
    for _ in 0..CAS_ATTEMPTS {
        let now = now_ns();
        let prev = inner
            .state
            .st(inner.state.store.group(id))
            .await?
            .ok_or_else(|| claims::not_found(id))?;
        let next = claims::claim(&prev.value, &inner.router_id, now, inner.cfg.claim_lease)?;
        let key = format!("{}@{}", next.bucket_id, next.key);
        let record = super::objects::get(&inner.state, &key)
            .await?
            .unwrap_or_default();
        let version = record.next_version(now);
        let write = Write::Group {
            id: next.group_id.clone(),
            prev: Some(prev),
            next: Some(next.clone()),
            ttl: claims::store_ttl(&next, now),
        };
        if inner.state.apply(vec![write]).await? {
            let token = next.claim_token;
            return Ok(Claim {
                group: next,
                token,
                version,
            });
        }
    }
    Err(contention(id))
}

/// Replace the group `id` by what `change` makes of it (`Ok(None)` = leave it), with compare-and-set;
/// `absent` is the answer when the group no longer exists.
async fn rewrite<F>(
    inner: &Arc<Inner>,
    id: &str,
    absent: Result<(), RmError>,
    mut change: F,
) -> Result<(), RmError>
where
    F: FnMut(&TaskGroup, u64) -> Result<Option<TaskGroup>, RmError>,
{
    for _ in 0..CAS_ATTEMPTS {
        let now = now_ns();
        let Some(prev) = inner.state.st(inner.state.store.group(id)).await? else {
            return absent;
        };
        let Some(next) = change(&prev.value, now)? else {
            return Ok(());
        };
        let write = Write::Group {
            id: id.to_string(),
            ttl: claims::store_ttl(&next, now),
            prev: Some(prev),
            next: Some(next),
        };
        if inner.state.apply(vec![write]).await? {
            return Ok(());
        }
    }
    Err(contention(id))
}

/// Extend the lease; `Conflict` once another claim replaced this one.
pub(super) async fn renew(inner: &Arc<Inner>, c: &Claim) -> Result<(), RmError> {
    let id = &c.group.group_id;
    let lease = inner.cfg.claim_lease;
    rewrite(inner, id, Err(claims::fenced(id)), |g, now| {
        claims::renew(g, c.token, now, lease).map(Some)
    })
    .await
}

/// Clear this claim (the group stays for a retry); a no-op when the claim is no longer the group's.
pub(super) async fn release(inner: &Arc<Inner>, c: &Claim) -> Result<(), RmError> {
    rewrite(inner, &c.group.group_id, Ok(()), |g, _| {
        Ok(claims::release(g, c.token))
    })
    .await
}

/// Phase 2 stored the bytes on `succeeded`: in one atomic step, check the claim still holds (fencing),
/// record the holders and version, delete the group and release its reservation.
pub(super) async fn commit(
    inner: &Arc<Inner>,
    c: &Claim,
    succeeded: Vec<String>,
) -> Result<(), RmError> {
    let id = &c.group.group_id;
    let key = format!("{}@{}", c.group.bucket_id, c.group.key);
    let holders = inner.table.registered(&succeeded);
    for _ in 0..CAS_ATTEMPTS {
        let now = now_ns();
        let group = inner
            .state
            .st(inner.state.store.group(id))
            .await?
            .ok_or_else(|| claims::fenced(id))?;
        if !claims::holds(&group.value, c.token) {
            return Err(claims::fenced(id));
        }
        let prev = inner.state.object(&key).await?;
        let mut rec = prev.as_ref().map(|v| v.value.clone()).unwrap_or_default();
        rec.commit(&holders, c.version, c.group.rf.max(1), now);
        let mut writes = vec![
            Write::Group {
                id: id.clone(),
                prev: Some(group.clone()),
                next: None,
                ttl: Default::default(),
            },
            write_of(&key, prev, rec),
        ];
        if let Some(r) = &group.value.reservation_id {
            writes.push(Write::Release(r.clone()));
        }
        if inner.state.apply(writes).await? {
            return Ok(());
        }
    }
    Err(contention(id))
}

/// Remove the group and release its reservation; `true` if it existed.
pub(super) async fn delete(inner: &Arc<Inner>, id: &str) -> Result<bool, RmError> {
    for _ in 0..CAS_ATTEMPTS {
        let Some(prev) = inner.state.st(inner.state.store.group(id)).await? else {
            return Ok(false);
        };
        let gid = prev.value.group_id.clone();
        let mut writes = Vec::new();
        if let Some(r) = &prev.value.reservation_id {
            writes.push(Write::Release(r.clone()));
        }
        writes.push(Write::Group {
            id: gid,
            prev: Some(prev),
            next: None,
            ttl: Default::default(),
        });
        if inner.state.apply(writes).await? {
            return Ok(true);
        }
    }
    Err(contention(id))
}
