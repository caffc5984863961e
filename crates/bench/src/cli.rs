//! Command line of `mictlanx-bench`: flags, targets, operations and their parsers.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Drive PUT / GET / metadata GET load against a MictlanX router or directly against one storage peer.
///
/// The tool starts nothing itself: point `--url` at a running router (`--target router`) or peer
/// (`--target peer`). GET and metadata runs first PUT `--keys` objects (untimed), read each back once
/// (untimed; this also warms a router cache), then read them round-robin. Exit status: 0 when every timed
/// operation succeeded, 3 when some failed (the report is still printed), 1 when the run could not start
/// (bad URL, preload failure), 2 for usage errors.
#[derive(Debug, Clone, Parser)]
#[command(name = "mictlanx-bench", version)]
pub struct BenchArgs {
    /// What `--url` points at: a router (API v4 with task groups), a single storage peer, or an S3 endpoint
    /// (path-style requests signed with SigV4: the router's S3 port, Garage, MinIO).
    #[arg(long, value_enum, default_value_t = Target::Router)]
    pub target: Target,
    /// Base URL of the router or peer, e.g. `http://127.0.0.1:60666`.
    #[arg(long, value_parser = parse_base_url)]
    pub url: String,
    /// With `--target peer`: one more peer every PUT also writes the same object to, concurrently with
    /// `--url` (repeat it for more). Three peers in all make a direct rf-3 PUT, the same work a router does
    /// for `--rf 3`: every copy commits the same `Object-Version` and declares the number of copies as its
    /// `Replication-Factor`, so a router that finds them takes them as one object with that many holders.
    /// Reads use `--url` only; `--cleanup` deletes on every peer.
    #[arg(long = "mirror", value_parser = parse_base_url)]
    pub mirrors: Vec<String>,
    /// Operation to time.
    #[arg(long, value_enum, default_value_t = Op::Get)]
    pub op: Op,
    /// Object size (size strings: `1KiB`, `10MiB`, `64mb`, `1000`).
    #[arg(long, default_value = "1KiB", value_parser = parse_size_arg)]
    pub size: u64,
    /// Concurrent requests in flight (one tokio task each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Replication factor sent with router PUTs (ignored by the peer target).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub rf: u32,
    /// Length of the timed phase (`10s`, `1m`, `500ms`); default 10s unless `--ops` is given.
    #[arg(long, value_parser = parse_duration_arg, conflicts_with = "ops")]
    pub duration: Option<Duration>,
    /// Run exactly this many timed operations instead of a duration.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: Option<u64>,
    /// Start operations at this fixed total rate (operations per second) instead of back to back, with at
    /// most `--concurrency` in flight: latency then shows what a request costs below saturation.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Number of objects preloaded for GET and metadata runs, read round-robin.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub keys: u64,
    /// Make every key at least this many characters long by zero-padding its number (`{run}-p000…17`);
    /// without it keys are `{run}-p{number}` (about 10–17 characters). Used to measure what long object
    /// names cost (e.g. `--key-len 64`).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub key_len: Option<u16>,
    /// Bucket to write into; must already be canonical (letters, digits, single `-`/`_` separators).
    #[arg(long, default_value = "mictlanx-bench", value_parser = parse_bucket)]
    pub bucket: String,
    /// Send `Force-Get: 1` on GETs so the router bypasses its cache.
    #[arg(long)]
    pub force_get: bool,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Free-form label copied into the report.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Delete every object this run wrote (preload and PUTs) after the timed phase (untimed).
    #[arg(long)]
    pub cleanup: bool,
    /// With `--target s3`: the access key id requests are signed with.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key: Option<String>,
    /// With `--target s3`: its secret key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// With `--target s3`: the signing region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Idle read timeout of every request (connects give up after at most 10 s).
    #[arg(long, default_value = "120s", value_parser = parse_duration_arg)]
    pub timeout: Duration,
}

/// What the benchmark talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Router,
    Peer,
    S3,
}

/// The timed operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Put,
    Get,
    GetMetadata,
    /// One listing page of at most 1000 keys over `--keys` preloaded objects (ListObjectsV2 on S3, the
    /// paged bucket listing on a router).
    List,
}

/// When the timed phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRule {
    After(Duration),
    Ops(u64),
}

/// Timed phase length when neither `--duration` nor `--ops` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

impl BenchArgs {
    /// Combinations clap cannot express; the message is the usage error (exit status 2).
    pub fn check(&self) -> Result<(), String> {
        if !self.mirrors.is_empty() && self.target != Target::Peer {
            return Err(
                "--mirror needs --target peer (a router replicates by itself: use --rf)".into(),
            );
        }
        if self.target == Target::S3 && (self.access_key.is_none() || self.secret_key.is_none()) {
            return Err(
                "--target s3 needs --access-key and --secret-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                    .into(),
            );
        }
        if self.op == Op::List && self.target == Target::Peer {
            return Err("--op list needs --target router or s3".into());
        }
        Ok(())
    }

    /// The S3 signing keys and region, with `--target s3`.
    pub fn s3_auth(&self) -> Option<crate::s3::S3Auth> {
        match (self.target, &self.access_key, &self.secret_key) {
            (Target::S3, Some(access_key), Some(secret_key)) => Some(crate::s3::S3Auth {
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
                region: self.region.clone(),
            }),
            _ => None,
        }
    }

    pub fn stop_rule(&self) -> StopRule {
        match (self.ops, self.duration) {
            (Some(n), _) => StopRule::Ops(n),
            (None, Some(d)) => StopRule::After(d),
            (None, None) => StopRule::After(DEFAULT_DURATION),
        }
    }
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Router => "router",
            Target::Peer => "peer",
            Target::S3 => "s3",
        }
    }
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::GetMetadata => "get-metadata",
            Op::List => "list",
        }
    }
}

fn parse_size_arg(s: &str) -> Result<u64, String> {
    mictlanx_proto::units::parse_size(s)
        .map_err(|e| format!("{e}; expected e.g. 1KiB, 10MiB, 64mb"))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "invalid rate '{s}': a number of operations per second > 0"
        )),
    }
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    let d = mictlanx_proto::units::parse_timespan(s)
        .map_err(|e| format!("{e}; expected e.g. 10s, 500ms, 1m"))?;
    if d.is_zero() {
        return Err(format!("invalid duration '{s}': must be greater than zero"));
    }
    Ok(d)
}

/// Accepts `http(s)://host[:port][/prefix]` and drops trailing slashes so paths can be appended.
fn parse_base_url(s: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("invalid URL '{s}': {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "invalid URL '{s}': expected http://host:port or https://host:port"
        ));
    }
    if url.query().is_some() {
        return Err(format!("invalid URL '{s}': no query string allowed"));
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// The router sanitizes ids and the peer does not: a canonical bucket addresses the same objects on both.
fn parse_bucket(s: &str) -> Result<String, String> {
    let canonical = !s.is_empty()
        && s.split(['-', '_'])
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if canonical {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid bucket '{s}': use letters and digits with single '-' or '_' separators"
        ))
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
