//! Rules 5 and 8 of the checker: listings, complete or walked in pages within a prefix.

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::history::{Fault, Kind, Op};
use super::{violation_on, KeyModel, State, Violation};

/// No fault was active from 5 s before `op` until it completed.
pub(super) fn quiet(op: &Op, faults: &[Fault]) -> bool {
    !faults
        .iter()
        .any(|f| f.started < op.completed && f.healed + Duration::from_secs(5) > op.invoked)
}

pub(super) fn check_listing(
    op: &Op,
    keys: &[String],
    models: &BTreeMap<String, KeyModel>,
    faults: &[Fault],
    ops: &[Op],
    out: &mut Vec<Violation>,
) {
    let prefix = match &op.kind {
        Kind::Walk { prefix, .. } => prefix.as_str(),
        _ => "",
    };
    if let Some(w) = keys.windows(2).find(|w| w[0] >= w[1]) {
        let mut v = violation_on("5 listing out of order or repeated", op, "", ops);
        v.op.note = format!("{:?} then {:?}; {}", w[0], w[1], op.note);
        out.push(v);
    }
    if let Some(k) = keys.iter().find(|k| !k.starts_with(prefix)) {
        let mut v = violation_on("5 listing shows a key outside its prefix", op, "", ops);
        v.op.note = format!("{k:?}; {}", op.note);
        out.push(v);
    }
    if let Kind::Walk { limit, pages, .. } = &op.kind {
        // Every page but the last holds `limit` keys.
        if ((pages - 1) * limit) as usize > keys.len() {
            out.push(violation_on(
                "5 walk: a short page before the last",
                op,
                "",
                ops,
            ));
        }
    }
    let quiet = quiet(op, faults);
    let bucket = format!("{}@", op.bucket);
    for (key, model) in models.iter().filter(|(k, _)| k.starts_with(&bucket)) {
        let name = &key[bucket.len()..];
        if !name.starts_with(prefix) {
            continue;
        }
        let p = model.possible(op.invoked, op.completed);
        let listed = keys.iter().any(|k| k == name);
        let all_absent = p.iter().all(|m| m.state == State::Absent);
        let all_values = p
            .iter()
            .all(|m| matches!(m.state, State::Value { .. }) && m.acked);
        if listed && all_absent {
            out.push(violation_on("5 listing shows a deleted key", op, key, ops));
        }
        if !listed && all_values && quiet {
            out.push(violation_on(
                "5 listing misses an acknowledged key",
                op,
                key,
                ops,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::check;
    use super::*;
    use crate::chaos::history::{Outcome, Seen};

    fn op(id: u64, key: &str, kind: Kind, span: (u64, u64), outcome: Outcome, seen: Seen) -> Op {
        Op {
            id,
            client: 0,
            router: 0,
            bucket: "b".into(),
            key: key.into(),
            kind,
            invoked: Duration::from_millis(span.0),
            completed: Duration::from_millis(span.1),
            outcome,
            status: 200,
            seen,
            note: String::new(),
        }
    }

    fn put(id: u64, key: &str, span: (u64, u64), outcome: Outcome) -> Op {
        let kind = Kind::Put {
            seed: id,
            size: 10,
            rf: 1,
            digest: format!("d{id}"),
            phase2_router: 0,
        };
        op(id, key, kind, span, outcome, Seen::Nothing)
    }

    fn walk(prefix: &str, limit: u32, pages: u32, span: (u64, u64), keys: &[&str]) -> Op {
        let kind = Kind::Walk {
            prefix: prefix.into(),
            limit,
            pages,
        };
        let seen = Seen::Keys(keys.iter().map(|k| k.to_string()).collect());
        op(99, "", kind, span, Outcome::Ok, seen)
    }

    fn rules(ops: &[Op], faults: &[Fault]) -> Vec<&'static str> {
        check(ops, faults, Duration::from_secs(30))
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn a_walk_shows_acknowledged_keys_within_its_prefix_once_and_in_order() {
        let a = put(1, "k1", (5, 10), Outcome::Ok);
        let b = put(2, "k2", (5, 10), Outcome::Ok);
        let w = |p, n, keys: &[&str]| walk(p, 1, n, (20, 40), keys);
        let none = Vec::<&str>::new();
        assert_eq!(
            rules(&[a.clone(), b.clone(), w("", 2, &["k1", "k2"])], &[]),
            none
        );
        // Within prefix k1, k2 is out of range: its absence is fine, its presence is not.
        assert_eq!(
            rules(&[a.clone(), b.clone(), w("k1", 1, &["k1"])], &[]),
            none
        );
        assert_eq!(
            rules(&[a.clone(), b.clone(), w("k1", 2, &["k1", "k2"])], &[]),
            ["5 listing shows a key outside its prefix"]
        );
        assert_eq!(
            rules(&[a.clone(), b.clone(), w("", 1, &["k2"])], &[]),
            ["5 listing misses an acknowledged key"]
        );
        assert_eq!(
            rules(&[a.clone(), b.clone(), w("", 3, &["k1", "k2", "k1"])], &[]),
            ["5 listing out of order or repeated"]
        );
        // Three pages of one key cannot hold only two keys.
        assert_eq!(
            rules(&[a.clone(), b.clone(), w("", 4, &["k1", "k2"])], &[]),
            ["5 walk: a short page before the last"]
        );
        // A fault near the walk excuses a missing key (a listing asks the live peers only).
        let fault = Fault {
            what: "SIGSTOP peer".into(),
            started: Duration::from_millis(15),
            healed: Duration::from_millis(16),
        };
        assert_eq!(rules(&[a, b, w("", 1, &["k2"])], &[fault]), none);
    }

    #[test]
    fn a_walk_must_not_show_a_key_deleted_before_it_began() {
        let a = put(1, "k1", (5, 10), Outcome::Ok);
        let del = op(2, "k1", Kind::Delete, (12, 14), Outcome::Ok, Seen::Nothing);
        assert_eq!(
            rules(
                &[a.clone(), del.clone(), walk("k", 5, 1, (20, 40), &["k1"])],
                &[]
            ),
            ["5 listing shows a deleted key"]
        );
        // Re-written during the walk: either.
        let again = put(3, "k1", (25, 30), Outcome::Indeterminate);
        assert!(rules(
            &[
                a.clone(),
                del.clone(),
                again,
                walk("k", 5, 1, (20, 40), &["k1"])
            ],
            &[]
        )
        .is_empty());
        // Deleted while the walk ran: either.
        let late = op(2, "k1", Kind::Delete, (25, 30), Outcome::Ok, Seen::Nothing);
        assert!(rules(
            &[a.clone(), late.clone(), walk("k", 5, 1, (20, 40), &["k1"])],
            &[]
        )
        .is_empty());
        assert!(rules(&[a, late, walk("k", 5, 1, (20, 40), &[])], &[]).is_empty());
    }

    #[test]
    fn a_listing_body_that_does_not_parse_is_indeterminate_and_reported_when_quiet() {
        let a = put(1, "k1", (5, 10), Outcome::Ok);
        let broken = op(
            2,
            "",
            Kind::List,
            (20, 40),
            Outcome::Indeterminate,
            Seen::Unparsed,
        );
        assert_eq!(
            rules(&[a.clone(), broken.clone()], &[]),
            ["8 a 200 listing whose body is not a listing, no fault near"]
        );
        let fault = Fault {
            what: "SIGSTOP redis".into(),
            started: Duration::from_millis(25),
            healed: Duration::from_millis(30),
        };
        // Never judged as an empty listing, so never a missing key either.
        assert!(rules(&[a, broken], &[fault]).is_empty());
    }
}
