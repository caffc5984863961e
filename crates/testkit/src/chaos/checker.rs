//! The checker of a random run: judges the [`History`] against the promises the docs make.
//!
//! The model of one key is the sequence of its mutations: puts (the value they wrote), deletes and
//! disables, and the initial "absent". A mutation is *possible* for a read R when it was invoked before R
//! completed and it is not *superseded*: an acknowledged mutation is superseded once another acknowledged
//! mutation of the key was invoked after it completed and completed before R was invoked. Failed mutations
//! (a definite refusal) never happened; indeterminate ones may take effect at any time after their
//! invocation, so they are never superseded. Where the model cannot decide, the outcome is allowed.
//!
//! Rules:
//! 1. No acknowledged write is lost: a read answered 404 only when an absent state (the initial one, a
//!    delete or a disable) is possible.
//! 2. Read-after-ack: a read returns the bytes of a possible put (so, after an acknowledged write with no
//!    other write in flight, that write's bytes or a newer write's), through any router.
//! 3. A deleted key never comes back: bytes or metadata of a put that a delete superseded are a violation.
//! 4. No read returns bytes that were never written (to that key, at that range).
//! 5. A listing (complete, or a walk of pages within a prefix through random routers) never shows a key
//!    whose every possible state is absent (disabled counts as either), and shows every key within its
//!    prefix whose every possible state is a put — the second part judged only when no fault was active
//!    from 5 s before the listing until its end (a listing asks the live peers only). Over the whole walk:
//!    a key whose write was acknowledged before the walk began, with no delete or disable invoked since,
//!    is on it; a key whose delete was acknowledged before it began, with no put invoked since, is not.
//!    A listing shows keys in strictly increasing order (so each once) and only within its prefix; every
//!    page of a walk but the last is full.
//! 6. Every operation completes within its bound.
//! 7. (checked by the run once faults stop) every object gets back to its replication factor.
//! 8. A listing answered 200 has a body that parses as a listing, unless a fault was active from 5 s
//!    before it until its end (a state store failure midway aborts the body by design). Such a body is
//!    never read as a short listing: it is indeterminate.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

mod listing;

use super::history::{Fault, Kind, Op, Outcome, Seen};
use crate::peer::object_bytes;
use listing::{check_listing, quiet};

#[derive(Debug, Clone)]
pub struct Violation {
    pub rule: &'static str,
    pub op: Op,
    /// The operations on the same key around it.
    pub context: Vec<Op>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "VIOLATION {}: {}", self.rule, self.op)?;
        for op in &self.context {
            writeln!(f, "    {op}")?;
        }
        Ok(())
    }
}

/// A mutation's effect on reads.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum State {
    Value {
        seed: u64,
        size: u64,
        digest: String,
    },
    Absent,
    Disabled,
}

#[derive(Debug, Clone)]
pub(super) struct Mutation {
    pub(super) state: State,
    invoked: Duration,
    completed: Duration,
    pub(super) acked: bool,
}

fn mutation(op: &Op) -> Option<Mutation> {
    if op.outcome == Outcome::Failed {
        return None;
    }
    let state = match &op.kind {
        Kind::Put {
            seed, size, digest, ..
        } => State::Value {
            seed: *seed,
            size: *size,
            digest: digest.clone(),
        },
        Kind::Delete => State::Absent,
        Kind::Disable => State::Disabled,
        _ => return None,
    };
    Some(Mutation {
        state,
        invoked: op.invoked,
        completed: op.completed,
        acked: op.outcome == Outcome::Ok,
    })
}

/// One key's mutations, indexed for [`KeyModel::possible`]: acknowledged ones sorted by completion with the
/// running maximum of their invocations, and the indeterminate ones.
#[derive(Default)]
pub(super) struct KeyModel {
    acked: Vec<Mutation>,
    /// `max_invoked[i]` = the latest invocation among `acked[..=i]`.
    max_invoked: Vec<Duration>,
    indeterminate: Vec<Mutation>,
}

impl KeyModel {
    fn new(mut ms: Vec<Mutation>) -> KeyModel {
        let indeterminate = ms.iter().filter(|m| !m.acked).cloned().collect();
        ms.retain(|m| m.acked);
        ms.sort_by_key(|m| m.completed);
        let mut max = Duration::ZERO;
        let max_invoked = ms
            .iter()
            .map(|m| {
                max = max.max(m.invoked);
                max
            })
            .collect();
        KeyModel {
            acked: ms,
            max_invoked,
            indeterminate,
        }
    }

    /// The mutations possible for a read invoked at `inv` and completed at `comp`. An acknowledged one is
    /// superseded when another acknowledged one was invoked after it completed and completed before `inv`:
    /// with `t` the latest invocation among those completed before `inv`, exactly those completed before
    /// `t`.
    pub(super) fn possible(&self, inv: Duration, comp: Duration) -> Vec<&Mutation> {
        let done = self.acked.partition_point(|m| m.completed < inv);
        let t = if done == 0 {
            Duration::ZERO
        } else {
            self.max_invoked[done - 1]
        };
        let from = self.acked.partition_point(|m| m.completed < t);
        let horizon = comp + Duration::from_secs(300);
        self.acked[from..]
            .iter()
            .take_while(|m| m.completed <= horizon)
            .filter(|m| m.invoked < comp)
            .chain(self.indeterminate.iter().filter(|m| m.invoked < comp))
            .collect()
    }

    fn all(&self) -> impl Iterator<Item = &Mutation> {
        self.acked.iter().chain(&self.indeterminate)
    }
}

/// Check `ops` (the whole history) with `bound` as the longest allowed operation.
pub fn check(ops: &[Op], faults: &[Fault], bound: Duration) -> Vec<Violation> {
    let initial = Mutation {
        state: State::Absent,
        invoked: Duration::ZERO,
        completed: Duration::ZERO,
        acked: true,
    };
    let mut by_key: BTreeMap<String, Vec<Mutation>> = BTreeMap::new();
    for op in ops {
        if let Some(m) = mutation(op) {
            by_key
                .entry(op.object())
                .or_insert_with(|| vec![initial.clone()])
                .push(m);
        }
    }
    let models: BTreeMap<String, KeyModel> = by_key
        .into_iter()
        .map(|(k, ms)| (k, KeyModel::new(ms)))
        .collect();
    let never_written = KeyModel::new(vec![initial]);
    let model = |key: &str| models.get(key).unwrap_or(&never_written);
    let mut slices: HashMap<(u64, u64, u64, u64), String> = HashMap::new();
    let mut out = Vec::new();
    for op in ops {
        // Enough to show a failure; a planted bug can break thousands of reads.
        if out.len() >= 100 {
            break;
        }
        if op.took() > bound {
            out.push(violation("6 operation exceeded its bound", op, ops));
        }
        if op.seen == Seen::Unparsed && quiet(op, faults) {
            out.push(violation_on(
                "8 a 200 listing whose body is not a listing, no fault near",
                op,
                &op.object(),
                ops,
            ));
        }
        if op.outcome != Outcome::Ok {
            continue;
        }
        match (&op.kind, &op.seen) {
            (Kind::List | Kind::Walk { .. }, Seen::Keys(keys)) => {
                check_listing(op, keys, &models, faults, ops, &mut out)
            }
            (_, Seen::Nothing)
            | (Kind::Put { .. } | Kind::Delete | Kind::Disable | Kind::Update, _) => {}
            (kind, seen) => {
                let m = model(&op.object());
                let p = m.possible(op.invoked, op.completed);
                if let Some(rule) = judge_read(kind, seen, &p, m, &mut slices) {
                    out.push(violation(rule, op, ops));
                }
            }
        }
    }
    out
}

/// `None` when the read is allowed, else the rule it breaks.
fn judge_read(
    kind: &Kind,
    seen: &Seen,
    p: &[&Mutation],
    all: &KeyModel,
    slices: &mut HashMap<(u64, u64, u64, u64), String>,
) -> Option<&'static str> {
    let absent_possible = p
        .iter()
        .any(|m| matches!(m.state, State::Absent | State::Disabled));
    let values: Vec<(u64, u64, &str)> = p
        .iter()
        .filter_map(|m| match &m.state {
            State::Value { seed, size, digest } => Some((*seed, *size, digest.as_str())),
            _ => None,
        })
        .collect();
    let matches =
        |seed: u64, size: u64, digest: &str, got: &str, slices: &mut HashMap<_, _>| match kind {
            Kind::Range { start, end } => {
                if *start >= size {
                    return false;
                }
                let end = (*end).min(size.saturating_sub(1));
                let key = (seed, size, *start, end);
                let want = slices.entry(key).or_insert_with(|| {
                    use sha2::Digest;
                    let bytes = object_bytes(seed, size);
                    hex::encode(sha2::Sha256::digest(&bytes[*start as usize..=end as usize]))
                });
                want == got
            }
            _ => digest == got,
        };
    match seen {
        Seen::Absent => (!absent_possible).then_some("1 acknowledged write lost (404)"),
        // The metadata of a disabled object is answered (with `is_disabled: true`).
        Seen::Present => {
            let disabled = p.iter().any(|m| m.state == State::Disabled);
            (values.is_empty() && !disabled).then_some("3 deleted key came back (metadata)")
        }
        Seen::Value { digest, .. } => {
            if values
                .iter()
                .any(|(seed, size, d)| matches(*seed, *size, d, digest, slices))
            {
                return None;
            }
            let older = all.all().any(|m| match &m.state {
                State::Value {
                    seed,
                    size,
                    digest: d,
                } => matches(*seed, *size, d, digest, slices),
                _ => false,
            });
            Some(match (older, values.is_empty()) {
                (true, true) => "3 deleted key came back",
                (true, false) => "2 stale read: a superseded write",
                (false, _) => "4 bytes that were never written",
            })
        }
        _ => None,
    }
}

fn violation(rule: &'static str, op: &Op, ops: &[Op]) -> Violation {
    violation_on(rule, op, &op.object(), ops)
}

/// The operations on `key` from 15 s before `op` until it completed.
pub(super) fn violation_on(rule: &'static str, op: &Op, key: &str, ops: &[Op]) -> Violation {
    let from = op.invoked.saturating_sub(Duration::from_secs(15));
    let context = ops
        .iter()
        .filter(|o| o.object() == key && o.completed >= from && o.invoked <= op.completed)
        .filter(|o| o.id != op.id)
        .cloned()
        .collect();
    Violation {
        rule,
        op: op.clone(),
        context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: u64, kind: Kind, span: (u64, u64), outcome: Outcome, seen: Seen) -> Op {
        Op {
            id,
            client: 0,
            router: 0,
            bucket: "b".into(),
            key: "k".into(),
            kind,
            invoked: Duration::from_millis(span.0),
            completed: Duration::from_millis(span.1),
            outcome,
            status: 200,
            seen,
            note: String::new(),
        }
    }

    fn put(id: u64, digest: &str, span: (u64, u64), outcome: Outcome) -> Op {
        let kind = Kind::Put {
            seed: id,
            size: 10,
            rf: 1,
            digest: digest.into(),
            phase2_router: 0,
        };
        op(id, kind, span, outcome, Seen::Nothing)
    }

    fn get(id: u64, span: (u64, u64), seen: Seen) -> Op {
        op(id, Kind::Get, span, Outcome::Ok, seen)
    }

    fn value(d: &str) -> Seen {
        Seen::Value {
            digest: d.into(),
            len: 10,
        }
    }

    fn rules(ops: &[Op]) -> Vec<&'static str> {
        check(ops, &[], Duration::from_secs(30))
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn a_read_after_an_acknowledged_overwrite_must_not_see_the_old_value() {
        let a = put(1, "a", (5, 10), Outcome::Ok);
        let b = put(2, "b", (20, 30), Outcome::Ok);
        assert_eq!(
            rules(&[a.clone(), b.clone(), get(3, (40, 50), value("b"))]),
            Vec::<&str>::new()
        );
        assert_eq!(
            rules(&[a.clone(), b.clone(), get(3, (40, 50), value("a"))]),
            ["2 stale read: a superseded write"]
        );
        // Concurrent with the overwrite: either value.
        assert!(rules(&[a.clone(), b.clone(), get(3, (25, 50), value("a"))]).is_empty());
        // An indeterminate overwrite may land at any time: both stay possible.
        let c = put(4, "c", (20, 30), Outcome::Indeterminate);
        assert!(rules(&[a.clone(), c.clone(), get(5, (40, 50), value("a"))]).is_empty());
        assert!(rules(&[a, c, get(5, (40, 50), value("c"))]).is_empty());
    }

    #[test]
    fn lost_writes_resurrected_deletes_and_invented_bytes_are_reported() {
        let a = put(1, "a", (5, 10), Outcome::Ok);
        assert_eq!(
            rules(&[a.clone(), get(2, (20, 30), Seen::Absent)]),
            ["1 acknowledged write lost (404)"]
        );
        let del = op(3, Kind::Delete, (20, 30), Outcome::Ok, Seen::Nothing);
        assert_eq!(
            rules(&[a.clone(), del.clone(), get(4, (40, 50), value("a"))]),
            ["3 deleted key came back"]
        );
        assert!(rules(&[a.clone(), del, get(4, (40, 50), Seen::Absent)]).is_empty());
        assert_eq!(
            rules(&[a, get(5, (20, 30), value("zz"))]),
            ["4 bytes that were never written"]
        );
        // A failed put never happened; a key never written reads as absent.
        let failed = put(6, "f", (5, 10), Outcome::Failed);
        assert_eq!(
            rules(&[failed, get(7, (20, 30), value("f"))]),
            ["4 bytes that were never written"]
        );
    }

    #[test]
    fn a_listing_must_not_show_a_deleted_key() {
        let a = put(1, "a", (5, 10), Outcome::Ok);
        let del = op(2, Kind::Delete, (20, 30), Outcome::Ok, Seen::Nothing);
        let mut list = op(
            3,
            Kind::List,
            (40, 50),
            Outcome::Ok,
            Seen::Keys(vec!["k".into()]),
        );
        list.key = String::new();
        assert_eq!(
            rules(&[a.clone(), del, list.clone()]),
            ["5 listing shows a deleted key"]
        );
        list.seen = Seen::Keys(Vec::new());
        assert_eq!(rules(&[a, list]), ["5 listing misses an acknowledged key"]);
    }
}
