//! A benchmark run: preload (untimed), the timed phase on `concurrency` tokio tasks, optional cleanup.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use rand::Rng;

use super::cli::{BenchArgs, Op, StopRule};
use super::ops::{build_client, Endpoint, OpError, Payload};
use super::report::{new_histogram, LatencySummary, Measured, Report};
use super::s3::{S3Endpoint, LIST_PAGE};

/// Why a run could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("preload of {key} failed: {source}")]
    Preload {
        key: String,
        #[source]
        source: OpError,
    },
    #[error("read-back of preloaded {key} failed: {source}")]
    ReadBack {
        key: String,
        #[source]
        source: OpError,
    },
    #[error("a benchmark task panicked: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Runs the whole benchmark described by `args` and returns its report.
pub async fn run(args: &BenchArgs) -> Result<Report, BenchError> {
    let client = build_client(args.concurrency, args.timeout).map_err(BenchError::Client)?;
    let mut ep = Endpoint::new(
        client.clone(),
        args.target,
        &args.url,
        &args.bucket,
        args.force_get,
    )
    .with_mirrors(&args.mirrors);
    if let Some(auth) = args.s3_auth() {
        let s3 = S3Endpoint::new(client, &args.url, &args.bucket, &auth);
        s3.create_bucket()
            .await
            .map_err(|source| BenchError::Preload {
                key: format!("bucket {}", args.bucket),
                source,
            })?;
        ep = ep.with_s3(s3);
    }
    let size = args.size;
    let payload = tokio::task::spawn_blocking(move || Payload::generate(size)).await?;
    let run_id = run_id();
    let width = args.concurrency as usize;

    let keys: Vec<String> = match args.op {
        Op::Put => Vec::new(),
        Op::Get | Op::GetMetadata | Op::List => (0..args.keys)
            .map(|i| object_key(&list_prefix(&run_id), i, args.key_len))
            .collect(),
    };
    futures::stream::iter(keys.iter().map(Ok))
        .try_for_each_concurrent(width, |key| {
            let (ep, payload) = (&ep, &payload);
            async move {
                ep.put(key, payload, args.rf)
                    .await
                    .map(drop)
                    .map_err(|source| BenchError::Preload {
                        key: key.clone(),
                        source,
                    })
            }
        })
        .await?;
    // Reading each key once proves the preload and fills a router cache before timing starts.
    futures::stream::iter(keys.iter().map(Ok))
        .try_for_each_concurrent(width, |key| {
            let ep = &ep;
            async move {
                let read = match args.op {
                    Op::GetMetadata | Op::List => ep.get_metadata(key, size).await,
                    _ => ep.get(key, size).await,
                };
                read.map(drop).map_err(|source| BenchError::ReadBack {
                    key: key.clone(),
                    source,
                })
            }
        })
        .await?;

    let shared = Arc::new(Shared {
        ep: ep.clone(),
        payload,
        keys,
        op: args.op,
        rf: args.rf,
        size,
        stop: args.stop_rule(),
        next: AtomicU64::new(0),
        run_id,
        key_len: args.key_len,
        rate: args.rate,
        start: Instant::now(),
    });
    let start = shared.start;
    let deadline = match shared.stop {
        StopRule::After(d) => Some(start + d),
        StopRule::Ops(_) => None,
    };
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(worker(shared.clone(), deadline)))
        .collect();
    let mut total = Tally::new();
    for w in workers {
        total.merge(w.await?);
    }
    let elapsed = start.elapsed();

    if args.cleanup {
        let written = total
            .written
            .iter()
            .map(|i| put_key(&shared.run_id, *i, shared.key_len));
        let doomed: Vec<String> = shared.keys.iter().cloned().chain(written).collect();
        let failed = futures::stream::iter(doomed)
            .map(|key| {
                let ep = &ep;
                async move { ep.delete(&key).await.err() }
            })
            .buffer_unordered(width)
            .filter_map(|e| async move { e })
            .count()
            .await;
        if failed > 0 {
            eprintln!("mictlanx-bench: cleanup could not delete {failed} objects");
        }
    }

    let measured = Measured {
        ops: total.ops,
        errors: total.errors,
        bytes: total.bytes,
        elapsed,
        latency: LatencySummary::from_histogram(&total.hist),
        first_error: total.first_error,
    };
    Ok(Report::build(args, shared.keys.len() as u64, measured))
}

/// What every worker reads; operations are numbered by `next` so `--ops N` is exact across workers.
struct Shared {
    ep: Endpoint,
    payload: Payload,
    keys: Vec<String>,
    op: Op,
    rf: u32,
    size: u64,
    stop: StopRule,
    next: AtomicU64,
    run_id: String,
    /// `--key-len`: the length keys are zero-padded to.
    key_len: Option<u16>,
    /// `--rate`: operation `i` starts no earlier than `start + i / rate`.
    rate: Option<f64>,
    start: Instant,
}

/// Per-worker counts, merged at the end (no shared lock on the hot path).
struct Tally {
    hist: Histogram<u64>,
    ops: u64,
    errors: u64,
    bytes: u64,
    first_error: Option<String>,
    /// Operation numbers of successful PUTs, so `--cleanup` can rebuild their keys.
    written: Vec<u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            hist: new_histogram(),
            ops: 0,
            errors: 0,
            bytes: 0,
            first_error: None,
            written: Vec::new(),
        }
    }

    fn merge(&mut self, other: Tally) {
        // Both histograms share the same bounds, so adding cannot go out of range.
        let _ = self.hist.add(&other.hist);
        self.ops += other.ops;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.first_error = self.first_error.take().or(other.first_error);
        self.written.extend(other.written);
    }
}

async fn worker(shared: Arc<Shared>, deadline: Option<Instant>) -> Tally {
    let mut tally = Tally::new();
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        let more = match (shared.stop, deadline) {
            (StopRule::Ops(n), _) => i < n,
            (_, Some(d)) => Instant::now() < d,
            (StopRule::After(_), None) => false,
        };
        if !more {
            return tally;
        }
        if let Some(rate) = shared.rate {
            let due = shared.start + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        // Measured from the actual start: the timer's wake-up slack is not counted as request latency.
        let t0 = Instant::now();
        let result = match shared.op {
            Op::Put => {
                let key = put_key(&shared.run_id, i, shared.key_len);
                shared.ep.put(&key, &shared.payload, shared.rf).await
            }
            Op::Get => {
                shared
                    .ep
                    .get(round_robin(&shared.keys, i), shared.size)
                    .await
            }
            Op::GetMetadata => {
                let key = round_robin(&shared.keys, i);
                shared.ep.get_metadata(key, shared.size).await
            }
            Op::List => {
                let expected = (shared.keys.len() as u64).min(LIST_PAGE);
                shared.ep.list(&list_prefix(&shared.run_id), expected).await
            }
        };
        let micros = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
        match result {
            Ok(bytes) => {
                tally.hist.saturating_record(micros.max(1));
                tally.ops += 1;
                tally.bytes += bytes;
                if shared.op == Op::Put {
                    tally.written.push(i);
                }
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

fn round_robin(keys: &[String], i: u64) -> &str {
    &keys[(i % keys.len() as u64) as usize]
}

/// Every preloaded key, and nothing else, starts with this.
fn list_prefix(run_id: &str) -> String {
    format!("{run_id}-g")
}

fn put_key(run_id: &str, i: u64, key_len: Option<u16>) -> String {
    object_key(&format!("{run_id}-p"), i, key_len)
}

/// `{prefix}{i}`, with `i` zero-padded so the key has at least `key_len` characters.
fn object_key(prefix: &str, i: u64, key_len: Option<u16>) -> String {
    let width = usize::from(key_len.unwrap_or(0)).saturating_sub(prefix.len());
    format!("{prefix}{i:0width$}")
}

/// Eight lowercase letters/digits: keys of different runs never collide, and stay canonical ids.
fn run_id() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(8)
        .map(|b| char::from(b).to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonical_ids_and_runs_do_not_collide() {
        let (a, b) = (run_id(), run_id());
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 8);
            assert!(id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        }
        assert_eq!(put_key("abcd1234", 17, None), "abcd1234-p17");
    }

    #[test]
    fn keys_are_padded_to_the_requested_length() {
        let long = put_key("abcd1234", 17, Some(64));
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("abcd1234-p0000"));
        assert!(long.ends_with("00017"));
        assert_eq!(put_key("abcd1234", 123_456, Some(12)), "abcd1234-p123456");
        assert_eq!(object_key("abcd1234-g", 5, Some(12)), "abcd1234-g05");
    }

    #[test]
    fn reads_cycle_over_the_preloaded_keys() {
        let keys: Vec<String> = ["k0", "k1", "k2"].map(String::from).to_vec();
        let picked: Vec<&str> = (0..7).map(|i| round_robin(&keys, i)).collect();
        assert_eq!(picked, ["k0", "k1", "k2", "k0", "k1", "k2", "k0"]);
    }

    #[test]
    fn tallies_merge_counts_histograms_and_the_first_error() {
        let mut a = Tally::new();
        a.hist.record(1000).unwrap();
        a.ops = 1;
        a.bytes = 10;
        a.written.push(0);
        let mut b = Tally::new();
        b.hist.record(3000).unwrap();
        b.ops = 1;
        b.errors = 2;
        b.bytes = 5;
        b.first_error = Some("boom".into());
        b.written.push(4);
        a.merge(b);
        assert_eq!((a.ops, a.errors, a.bytes), (2, 2, 15));
        assert_eq!(a.hist.len(), 2);
        assert!(a.hist.max() >= 3000);
        assert_eq!(a.first_error.as_deref(), Some("boom"));
        assert_eq!(a.written, vec![0, 4]);
    }
}
