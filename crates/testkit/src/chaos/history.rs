//! The history of a random run: every operation with its invocation and completion times (since the start
//! of the run), the router it went through, its outcome and what it wrote or read (value digests), plus the
//! faults the nemesis injected. Shared by the clients, the nemesis and the checker.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Phase 1 through `router`, phase 2 through `phase2_router`; the value is `object_stream(seed, size)`.
    Put {
        seed: u64,
        size: u64,
        rf: u32,
        digest: String,
        phase2_router: usize,
    },
    Get,
    /// `Range: bytes={start}-{end}` (inclusive).
    Range {
        start: u64,
        end: u64,
    },
    Metadata,
    Delete,
    Update,
    Disable,
    /// The complete listing of the bucket.
    List,
    /// A walk of the bucket in pages of at most `limit` keys within `prefix`, each page through a router
    /// picked at random; `pages` pages were asked.
    Walk {
        prefix: String,
        limit: u32,
        pages: u32,
    },
}

impl Kind {
    pub fn label(&self) -> &'static str {
        match self {
            Kind::Put { .. } => "put",
            Kind::Get => "get",
            Kind::Range { .. } => "range",
            Kind::Metadata => "metadata",
            Kind::Delete => "delete",
            Kind::Update => "update",
            Kind::Disable => "disable",
            Kind::List => "list",
            Kind::Walk { .. } => "walk",
        }
    }

    /// A listing (complete or paged): about a bucket, not a key.
    pub fn is_listing(&self) -> bool {
        matches!(self, Kind::List | Kind::Walk { .. })
    }
}

/// Acknowledged (2xx as the operation expects), failed (a definite refusal: nothing changed), or
/// indeterminate (a timeout, a broken connection or a 5xx: it may or may not have taken effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Indeterminate,
}

/// What a read saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Nothing,
    /// The SHA-256 of the bytes (of the range for a ranged read) and their length.
    Value {
        digest: String,
        len: u64,
    },
    /// 200 on metadata: the object exists.
    Present,
    /// 404: absent, deleted or disabled.
    Absent,
    /// The keys a listing showed, in the order it showed them (a walk: its pages one after the other).
    Keys(Vec<String>),
    /// A listing answered 200 whose body did not parse as the listing (a truncated or aborted stream):
    /// never read as an empty listing.
    Unparsed,
}

#[derive(Debug, Clone)]
pub struct Op {
    pub id: u64,
    pub client: usize,
    pub router: usize,
    pub bucket: String,
    pub key: String,
    pub kind: Kind,
    pub invoked: Duration,
    pub completed: Duration,
    pub outcome: Outcome,
    /// The HTTP status (0 = no answer).
    pub status: u16,
    pub seen: Seen,
    /// A short note (an error body) for the report.
    pub note: String,
}

impl Op {
    pub fn took(&self) -> Duration {
        self.completed.saturating_sub(self.invoked)
    }

    /// `bucket@key`.
    pub fn object(&self) -> String {
        format!("{}@{}", self.bucket, self.key)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |d: &str| d.get(..12).unwrap_or(d).to_string();
        let what = match &self.kind {
            Kind::Put {
                size,
                rf,
                digest,
                phase2_router,
                ..
            } => format!(
                "put {} bytes rf {rf} value {} (phase 2 via r{phase2_router})",
                size,
                short(digest)
            ),
            Kind::Range { start, end } => format!("range {start}-{end}"),
            Kind::Walk {
                prefix,
                limit,
                pages,
            } => format!("walk prefix {prefix:?} limit {limit}, {pages} pages"),
            k => k.label().to_string(),
        };
        let seen = match &self.seen {
            Seen::Nothing => String::new(),
            Seen::Value { digest, len } => format!(" -> {} ({len} bytes)", short(digest)),
            Seen::Present => " -> present".into(),
            Seen::Absent => " -> absent".into(),
            Seen::Keys(k) => format!(" -> {} keys", k.len()),
            Seen::Unparsed => " -> body not a listing".into(),
        };
        write!(
            f,
            "#{} c{} r{} [{:.3}s..{:.3}s] {} {}{} = {:?} {}",
            self.id,
            self.client,
            self.router,
            self.invoked.as_secs_f64(),
            self.completed.as_secs_f64(),
            self.object(),
            what,
            seen,
            self.outcome,
            self.status
        )?;
        if !self.note.is_empty() {
            write!(f, " {:?}", self.note)?;
        }
        Ok(())
    }
}

/// One fault the nemesis injected, from its start until it was healed.
#[derive(Debug, Clone)]
pub struct Fault {
    pub what: String,
    pub started: Duration,
    pub healed: Duration,
}

/// The shared record of a run.
#[derive(Clone)]
pub struct History {
    start: Instant,
    ops: Arc<Mutex<Vec<Op>>>,
    faults: Arc<Mutex<Vec<Fault>>>,
    next: Arc<Mutex<u64>>,
}

impl Default for History {
    fn default() -> Self {
        History {
            start: Instant::now(),
            ops: Default::default(),
            faults: Default::default(),
            next: Arc::new(Mutex::new(1)),
        }
    }
}

impl History {
    /// Time since the start of the run.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// A fresh operation id.
    pub fn next_id(&self) -> u64 {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        *n
    }

    pub fn record(&self, op: Op) {
        self.ops.lock().unwrap().push(op);
    }

    pub fn fault(&self, fault: Fault) {
        self.faults.lock().unwrap().push(fault);
    }

    pub fn ops(&self) -> Vec<Op> {
        let mut ops = self.ops.lock().unwrap().clone();
        ops.sort_by_key(|o| (o.invoked, o.id));
        ops
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.faults.lock().unwrap().clone()
    }
}
