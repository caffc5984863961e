//! Object-record changes through the store: read, apply one of the [`ObjectRecord`] rules, write back with
//! compare-and-set, retry when another router changed the record in between. Batched forms serve the
//! inventory passes.

use std::sync::Arc;

use super::record::ObjectRecord;
use super::state::{Inner, StateLink};
use super::store::{Versioned, Write};
use super::types::RmError;

/// Attempts before a change that keeps losing compare-and-set races gives up.
const CAS_ATTEMPTS: usize = 32;

/// The write that replaces `prev` by `rec` (removing the record when it says nothing any more).
pub(super) fn write_of(
    key: &str,
    prev: Option<Versioned<ObjectRecord>>,
    rec: ObjectRecord,
) -> Write {
    Write::Object {
        key: key.to_string(),
        prev,
        next: (!rec.is_empty()).then_some(rec),
    }
}

/// Apply `change` to `key`'s record (a default one when absent). `change` returns whether it changed
/// anything; unchanged records are not written. Returns the record as stored afterwards.
pub(super) async fn modify<F>(
    inner: &Arc<Inner>,
    key: &str,
    mut change: F,
) -> Result<ObjectRecord, RmError>
where
    F: FnMut(&mut ObjectRecord) -> bool,
{
    for _ in 0..CAS_ATTEMPTS {
        let prev = inner.state.object(key).await?;
        let mut rec = prev.as_ref().map(|v| v.value.clone()).unwrap_or_default();
        if !change(&mut rec) {
            return Ok(rec);
        }
        if inner
            .state
            .apply(vec![write_of(key, prev, rec.clone())])
            .await?
        {
            return Ok(rec);
        }
    }
    Err(RmError::Backend(format!(
        "{key}: too many concurrent changes, try again"
    )))
}

/// Attempts of a whole batch before [`modify_many`] splits it.
const BATCH_ATTEMPTS: usize = 3;

/// [`modify`] for many keys: one read and one atomic write for the whole batch. When another router or
/// another peer's pass changed one of the keys meanwhile, the batch is read and tried again; after
/// [`BATCH_ATTEMPTS`] lost races it is split in halves, each retried the same way (a batch of one is
/// [`modify`]). Concurrent passes over the same keys thus stay batched: every round one of them wins.
pub(super) async fn modify_many<F>(
    inner: &Arc<Inner>,
    keys: &[String],
    mut change: F,
) -> Result<(), RmError>
where
    F: FnMut(&str, &mut ObjectRecord) -> bool,
{
    let mut pending: Vec<&[String]> = vec![keys];
    while let Some(batch) = pending.pop() {
        match batch {
            [] => {}
            [key] => {
                modify(inner, key, |rec| change(key, rec)).await?;
            }
            _ => {
                if !try_batch(inner, batch, &mut change).await? {
                    let (a, b) = batch.split_at(batch.len() / 2);
                    pending.push(b);
                    pending.push(a);
                }
            }
        }
    }
    Ok(())
}

/// Up to [`BATCH_ATTEMPTS`] read-change-write rounds of `keys` as one batch; `false` when every round
/// lost a race.
async fn try_batch<F>(inner: &Arc<Inner>, keys: &[String], change: &mut F) -> Result<bool, RmError>
where
    F: FnMut(&str, &mut ObjectRecord) -> bool,
{
    for _ in 0..BATCH_ATTEMPTS {
        let prevs = inner.state.objects(keys).await?;
        let mut writes = Vec::new();
        for (key, prev) in keys.iter().zip(prevs) {
            let mut rec = prev.as_ref().map(|v| v.value.clone()).unwrap_or_default();
            if change(key, &mut rec) {
                writes.push(write_of(key, prev, rec));
            }
        }
        if writes.is_empty() || inner.state.apply(writes).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The record of `key`, if any.
pub(super) async fn get(state: &StateLink, key: &str) -> Result<Option<ObjectRecord>, RmError> {
    Ok(state.object(key).await?.map(|v| v.value))
}
