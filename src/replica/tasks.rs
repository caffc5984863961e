//! Upload task groups with TTL and claims, and placement reservations (`replica-manager.md` §8). Pure state
//! with explicit `now` (ns since epoch) so expiry is testable without sleeping.

use std::collections::HashMap;

use super::types::{RmError, TaskGroup};

#[derive(Debug, Clone)]
struct Reservation {
    peers: Vec<String>,
    size: u64,
    expires_at_ns: u64,
}

#[derive(Debug)]
pub struct TaskStore {
    ttl_ns: u64,
    groups: HashMap<String, TaskGroup>,
    /// member task id → group id
    by_task: HashMap<String, String>,
    reservations: HashMap<String, Reservation>,
}

impl TaskStore {
    pub fn new(ttl_ns: u64) -> Self {
        Self {
            ttl_ns,
            groups: HashMap::new(),
            by_task: HashMap::new(),
            reservations: HashMap::new(),
        }
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Store with `expires_at = now + TTL` and index every member task id.
    pub fn put(&mut self, mut group: TaskGroup, now: u64) {
        if let Some(old) = self.groups.get(&group.group_id).cloned() {
            self.unindex(&old);
        }
        if group.created_at_ns == 0 {
            group.created_at_ns = now;
        }
        group.expires_at_ns = now.saturating_add(self.ttl_ns);
        for t in &group.tasks {
            if t.task_id != group.group_id {
                self.by_task
                    .insert(t.task_id.clone(), group.group_id.clone());
            }
        }
        self.groups.insert(group.group_id.clone(), group);
    }

    fn resolve(&self, id: &str) -> Option<String> {
        if self.groups.contains_key(id) {
            return Some(id.to_string());
        }
        self.by_task.get(id).cloned()
    }

    /// By group id, else by member task id; expired groups are `None`.
    pub fn get(&self, id: &str, now: u64) -> Option<TaskGroup> {
        let gid = self.resolve(id)?;
        self.groups
            .get(&gid)
            .filter(|g| now < g.expires_at_ns)
            .cloned()
    }

    /// `get`, then mark claimed until `now + TTL`; `Conflict` while a live claim exists.
    pub fn claim(&mut self, id: &str, now: u64) -> Result<TaskGroup, RmError> {
        let gid = self.resolve(id);
        let ttl = self.ttl_ns;
        let group = gid
            .and_then(|g| self.groups.get_mut(&g))
            .filter(|g| now < g.expires_at_ns)
            .ok_or_else(|| RmError::NotFound(format!("Task group {id} not found")))?;
        if group.claimed_until_ns.is_some_and(|until| now < until) {
            return Err(RmError::Conflict(format!(
                "Task group {} is already being uploaded",
                group.group_id
            )));
        }
        group.claimed_until_ns = Some(now.saturating_add(ttl));
        Ok(group.clone())
    }

    pub fn release(&mut self, id: &str) {
        let gid = self.resolve(id);
        if let Some(g) = gid.and_then(|g| self.groups.get_mut(&g)) {
            g.claimed_until_ns = None;
        }
    }

    /// Remove the group and release its reservation; `true` if it existed.
    pub fn delete(&mut self, id: &str) -> bool {
        let Some(gid) = self.resolve(id) else {
            return false;
        };
        let Some(group) = self.groups.remove(&gid) else {
            return false;
        };
        self.unindex(&group);
        if let Some(r) = &group.reservation_id {
            self.reservations.remove(r);
        }
        true
    }

    fn unindex(&mut self, group: &TaskGroup) {
        for t in &group.tasks {
            if self.by_task.get(&t.task_id) == Some(&group.group_id) {
                self.by_task.remove(&t.task_id);
            }
        }
    }

    pub fn reserve(&mut self, id: String, peers: Vec<String>, size: u64, now: u64) {
        self.reservations.insert(
            id,
            Reservation {
                peers,
                size,
                expires_at_ns: now.saturating_add(self.ttl_ns),
            },
        );
    }

    pub fn release_reservation(&mut self, id: &str) {
        self.reservations.remove(id);
    }

    /// Sum of live reservations on one peer.
    pub fn reserved_on(&self, peer_id: &str, now: u64) -> u64 {
        self.reservations
            .values()
            .filter(|r| now < r.expires_at_ns && r.peers.iter().any(|p| p == peer_id))
            .fold(0u64, |acc, r| acc.saturating_add(r.size))
    }

    /// The sweep: drop expired groups not under a live claim (with their reservations) and expired
    /// reservations. Returns the number of groups removed.
    pub fn gc(&mut self, now: u64) -> usize {
        let expired: Vec<String> = self
            .groups
            .values()
            .filter(|g| now >= g.expires_at_ns && g.claimed_until_ns.is_none_or(|c| now >= c))
            .map(|g| g.group_id.clone())
            .collect();
        for id in &expired {
            self.delete(id);
        }
        self.reservations.retain(|_, r| now < r.expires_at_ns);
        expired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::TaskX;
    use super::*;

    const TTL: u64 = 1_000;

    fn group(id: &str, tasks: &[&str], reservation: Option<&str>) -> TaskGroup {
        TaskGroup {
            group_id: id.into(),
            operation: "PUT".into(),
            bucket_id: "b".into(),
            key: "k".into(),
            size: 10,
            content_type: "x".into(),
            tasks: tasks
                .iter()
                .map(|t| TaskX {
                    task_id: t.to_string(),
                    group_id: id.into(),
                    operation: "PUT".into(),
                    bucket_id: "b".into(),
                    key: "k".into(),
                    size: 10,
                    peers: vec![format!("peer-{t}")],
                    content_type: "x".into(),
                    status: "NEW".into(),
                })
                .collect(),
            reservation_id: reservation.map(str::to_string),
            created_at_ns: 0,
            expires_at_ns: 0,
            claimed_until_ns: None,
        }
    }

    #[test]
    fn lookup_by_group_or_task_and_expiry() {
        let mut s = TaskStore::new(TTL);
        s.put(group("g", &["g", "t2"], None), 100);
        assert_eq!(s.get("g", 100).unwrap().expires_at_ns, 1_100);
        assert_eq!(s.get("g", 100).unwrap().created_at_ns, 100);
        assert_eq!(s.get("t2", 500).unwrap().group_id, "g");
        assert!(s.get("nope", 500).is_none());
        assert!(s.get("g", 1_100).is_none(), "expired groups are invisible");
        assert!(matches!(s.claim("g", 1_100), Err(RmError::NotFound(_))));
        assert_eq!(s.gc(1_100), 1);
        assert_eq!(s.group_count(), 0);
        assert!(s.get("t2", 0).is_none(), "index entries go with the group");
    }

    #[test]
    fn claims_conflict_until_released() {
        let mut s = TaskStore::new(TTL);
        s.put(group("g", &["t1"], None), 0);
        assert!(s.claim("t1", 10).is_ok());
        assert!(matches!(s.claim("g", 11), Err(RmError::Conflict(_))));
        s.release("g");
        assert!(s.claim("g", 12).is_ok());
        // an expired group under a live claim survives the sweep
        assert_eq!(s.gc(1_000), 0);
        assert_eq!(s.gc(1_012), 1);
    }

    #[test]
    fn reservations_follow_groups_and_ttl() {
        let mut s = TaskStore::new(TTL);
        s.reserve("r1".into(), vec!["a".into(), "b".into()], 10, 0);
        s.reserve("r2".into(), vec!["a".into()], 5, 500);
        assert_eq!(s.reserved_on("a", 600), 15);
        assert_eq!(s.reserved_on("b", 600), 10);
        s.put(group("g", &["g"], Some("r1")), 0);
        assert!(s.delete("g"));
        assert!(!s.delete("g"));
        assert_eq!(s.reserved_on("a", 600), 5);
        assert_eq!(
            s.reserved_on("a", 1_500),
            0,
            "expired reservations do not count"
        );
        s.gc(1_500);
        s.release_reservation("r2");
        assert_eq!(s.reserved_on("a", 0), 0);
    }
}
