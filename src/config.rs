//! Router configuration (`docs/config.md` §2): a flat envy struct of raw strings (`config/env.rs`) converted into
//! this validated, typed `Config`. Tests build `Config` values directly (`Config::for_tests`, `Config::from_vars`)
//! and never touch the process environment.

use std::{path::Path, path::PathBuf, time::Duration};

use crate::peer::PeerInfo;

mod env;
// security
mod s3;
mod security;
#[cfg(test)]
mod tests;
mod values;
mod variables;

// security
pub use s3::{S3Config, S3Credential, DEFAULT_S3_PORT};
pub use security::{SecurityConfig, DEFAULT_MAX_CONNECTIONS};
pub use variables::{DEFAULT_ENV_FILE, KNOWN_VARIABLES, NO_EFFECT_VARIABLES};

/// A start-up configuration error. `Display` is exactly one line naming the variable, its value and what was
/// expected, e.g. `invalid MICTLANX_CACHE_CAPACITY_STORAGE='12xx': expected a size such as 1GB or 512MiB`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {name}='{value}': expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
    #[error("invalid {name}='{value}': {other} must be set too (set both or neither)")]
    TlsPair {
        name: &'static str,
        value: String,
        other: &'static str,
    },
    // security
    #[error("invalid {name}='{value}': {other} is set too (set one or the other)")]
    Conflict {
        name: &'static str,
        value: String,
        other: &'static str,
    },
    #[error("invalid ENV_FILE_PATH='{path}': cannot load the dotenv file ({reason})")]
    Dotenv { path: String, reason: String },
    #[error("cannot read the environment: {0}")]
    Env(String),
}

impl ConfigError {
    fn invalid(name: &'static str, value: &str, expected: &str) -> Self {
        Self::Invalid {
            name,
            value: one_line(value),
            expected: one_line(expected),
        }
    }

    fn tls_pair(name: &'static str, value: &str, other: &'static str) -> Self {
        Self::TlsPair {
            name,
            value: one_line(value),
            other,
        }
    }

    fn dotenv(path: &Path, reason: &dyn std::fmt::Display) -> Self {
        Self::Dotenv {
            path: one_line(&path.display().to_string()),
            reason: one_line(&reason.to_string()),
        }
    }
}

/// Escapes control characters (newlines...) so an error always prints as exactly one line.
fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Everything the router reads at start-up, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    /// Seed peers from `MICTLANX_PEERS_URI`.
    pub seed_peers: Vec<PeerInfo>,
    /// `MICTLANX_TEST`: every peer URL's host becomes `localhost`.
    pub test_mode: bool,
    pub cache: CacheConfig,
    pub cors: CorsConfig,
    pub openapi: OpenApiInfo,
    pub telemetry: TelemetryConfig,
    pub peer_io: PeerIoConfig,
    pub replica: ReplicaConfig,
    // security
    /// Admin token, peer allowlist and listener limits (`MICTLANX_ROUTER_ADMIN_TOKEN`...).
    pub security: SecurityConfig,
    // tail latency
    pub tail: TailConfig,
    /// The S3 listener (`MICTLANX_S3_*`); off unless credentials or anonymous access are configured.
    pub s3: S3Config,
    /// §2.2 variables that were set: accepted, without effect; log them with `log_ignored_variables`.
    pub ignored_variables: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// `MICTLANX_ROUTER_HOST`
    pub host: String,
    /// `MICTLANX_ROUTER_PORT` (0 = any free port)
    pub port: u16,
    /// `OPENAPI_PREFIX`, normalised (`/mictlanx`); `None` = no prefix.
    pub prefix: Option<String>,
    /// `MICTLANX_ROUTER_SHUTDOWN_TIMEOUT`
    pub shutdown_timeout: Duration,
    /// `MICTLANX_ROUTER_TLS_CERT` + `MICTLANX_ROUTER_TLS_KEY` (both or neither).
    pub tls: Option<TlsFiles>,
    // performance
    /// `MICTLANX_ROUTER_WORKER_THREADS`: tokio worker threads of the router binary; 0 = one per CPU core.
    pub worker_threads: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    Lru,
    Lfu,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// `MICTLANX_CACHE`
    pub enabled: bool,
    /// `MICTLANX_CACHE_EVICTION_POLICY` (`LRU_SM` = `LRU`)
    pub policy: CachePolicy,
    /// `MICTLANX_CACHE_CAPACITY` (0 = no entry limit)
    pub capacity_entries: u64,
    /// `MICTLANX_CACHE_CAPACITY_STORAGE` in bytes
    pub capacity_bytes: u64,
    /// `MICTLANX_CACHE_MAX_OBJECT_SIZE` (alias `MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE`), clamped to capacity_bytes
    pub max_object_size: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CorsConfig {
    /// `MICTLANX_CORS_ALLOW_ORIGINS` (`*` = any)
    pub allow_origins: Vec<String>,
    /// `MICTLANX_CORS_ALLOW_METHODS`
    pub allow_methods: Vec<String>,
    /// `MICTLANX_CORS_ALLOW_HEADERS`
    pub allow_headers: Vec<String>,
    /// `MICTLANX_CORS_ALLOW_CREDENTILAS` (sic)
    pub allow_credentials: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenApiInfo {
    /// `MICTLANX_OPEN_API_TITLE`
    pub title: String,
    /// `MICTLANX_OPEN_API_VERSION`
    pub version: String,
    /// `MICTLANX_OPEN_API_SUMMARY`
    pub summary: String,
    /// `MICTLANX_OPEN_API_DESCRIPTION`
    pub description: String,
    /// `MICTLANX_OPEN_API_LOGO`
    pub logo: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Minutely,
    Hourly,
    Daily,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// `MICTLANX_ROUTER_SERVICE_NAME`
    pub service_name: String,
    /// `MICTLANX_ROUTER_OPENTELEMETRY`
    pub otel_enabled: bool,
    /// `MICTLANX_JAEGER_ENDPOINT` (spans go to `{endpoint}/v1/traces`)
    pub otlp_endpoint: String,
    /// `MICTLANX_ZIPKIN_ENDPOINT` as the full collector URL (a bare `http://host:9411` gains `/api/v2/spans`);
    /// `None` (unset or empty) = no Zipkin export
    pub zipkin_endpoint: Option<String>,
    /// `MICTLANX_ROUTER_DEBUG`: with tracing on, spans are also printed to stdout
    pub debug: bool,
    /// `MICTLANX_ROUTER_LOG_LEVEL` / `MICTLANX_ROUTER_DEBUG`, as a tracing filter directive (`info`, `debug`...)
    pub log_level: String,
    /// `MICTLANX_ROUTER_LOG_FORMAT`
    pub log_format: LogFormat,
    /// `MICTLANX_ROUTER_LOG_SHOW`
    pub log_show: bool,
    /// `MICTLANX_ROUTER_LOG_TO_FILE`
    pub log_to_file: bool,
    /// `MICTLANX_ROUTER_LOG_ERROR_FILE`
    pub log_error_file: bool,
    /// `MICTLANX_ROUTER_LOG_PATH`
    pub log_path: PathBuf,
    /// `MICTLANX_ROUTER_LOG_NAME`
    pub log_name: String,
    /// `MICTLANX_ROUTER_LOG_(ROTATION_)WHEN` + `..._INTERVAL`, mapped onto the nearest rotation
    pub rotation: Rotation,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeerIoConfig {
    /// `MICTLANX_ROUTER_CONNECT_TIMEOUT`
    pub connect_timeout: Duration,
    /// `MICTLANX_ROUTER_IDLE_TIMEOUT`
    pub idle_timeout: Duration,
    /// `MICTLANX_ROUTER_PEER_TIMEOUT`
    pub peer_timeout: Duration,
    /// `MICTLANX_ROUTER_FANOUT_CONCURRENCY`
    pub fanout_concurrency: usize,
    /// `MICTLANX_ROUTER_PEER_TLS_CA`
    pub peer_tls_ca: Option<PathBuf>,
    /// `MICTLANX_ROUTER_FANOUT_DEADLINE`: a fan-out to many peers (delete, disable, listings) answers with
    /// what the peers said by then; the others count as not answered
    pub fanout_deadline: Duration,
    // security
    /// `MICTLANX_ROUTER_PEER_TOKEN` or `MICTLANX_ROUTER_PEER_TOKEN_FILE`: sent as `Authorization: Bearer` on
    /// every peer call.
    pub peer_token: Option<crate::security::Secret>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaConfig {
    /// `MICTLANX_ROUTER_STATE_DIR`
    pub state_dir: PathBuf,
    /// `MICTLANX_ROUTER_HEALTH_INTERVAL`
    pub health_interval: Duration,
    /// `MICTLANX_ROUTER_HEALTH_TIMEOUT`
    pub health_timeout: Duration,
    /// `MICTLANX_ROUTER_ERROR_THRESHOLD`
    pub error_threshold: u32,
    /// `MICTLANX_ROUTER_ERROR_COOLDOWN`
    pub error_cooldown: Duration,
    /// `MICTLANX_ROUTER_TASK_TTL`
    pub task_ttl: Duration,
    /// `MICTLANX_ROUTER_REBUILD_INTERVAL` (zero = only at start-up)
    pub rebuild_interval: Duration,
    /// `MICTLANX_ROUTER_REBUILD_PAGE_SIZE`
    pub rebuild_page_size: u64,
    /// `MICTLANX_ROUTER_FULL_PASS_EVERY`: every this many passes of a peer, every shard is reconciled
    /// whatever its digest (`0` or `1` = always)
    pub full_pass_every: u32,
    /// `MICTLANX_ROUTER_STATE_BACKEND` (+ `MICTLANX_ROUTER_REDIS_URL`, `MICTLANX_ROUTER_REDIS_PREFIX`)
    pub backend: StateBackend,
    /// `MICTLANX_ROUTER_STATE_TIMEOUT`: longest wait for one state-store call
    pub state_timeout: Duration,
    /// `MICTLANX_ROUTER_CLAIM_LEASE`: lease of a phase-2 claim, renewed while bytes stream
    pub claim_lease: Duration,
    pub repair: RepairConfig,
}

/// Where the cluster state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateBackend {
    /// In this router's process (the default; one router).
    Embedded,
    /// On Redis, shared by every router of the space; every key under the hash tag `{prefix}`.
    Redis { url: String, prefix: String },
    /// On a Redis Cluster reached through any of its `seeds` (`redis://host:port`); the space is spread
    /// over the masters by a hash of each object.
    RedisCluster { seeds: Vec<String>, prefix: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RepairConfig {
    /// `MICTLANX_ROUTER_REPAIR_DELAY`: how long a holder must have been unavailable before its copies are
    /// replaced elsewhere
    pub delay: Duration,
    /// `MICTLANX_ROUTER_REPAIR_INTERVAL`: period of the repair loop
    pub interval: Duration,
    /// `MICTLANX_ROUTER_REPAIR_CONCURRENCY`: copies made at once
    pub concurrency: usize,
    /// `MICTLANX_ROUTER_REPAIR_BANDWIDTH`: bytes per second all repair and drain copies share (0 = no bound)
    pub bandwidth: u64,
}

// tail latency
/// Bounded latency when a peer stalls: hedged reads, stall detection on streams, straggler
/// writes and the write quorum.
#[derive(Debug, Clone, PartialEq)]
pub struct TailConfig {
    /// `MICTLANX_ROUTER_HEDGE_DELAY_MAX`: ceiling of the adaptive hedge delay (zero = no hedged reads)
    pub hedge_delay_max: Duration,
    /// `MICTLANX_ROUTER_HEDGE_DELAY_MIN`: floor of the adaptive hedge delay (at most the ceiling)
    pub hedge_delay_min: Duration,
    /// `MICTLANX_ROUTER_READ_STALL_TIMEOUT`: a peer body that sends nothing for this long is continued
    /// from another holder (zero = only the idle timeout applies)
    pub read_stall_timeout: Duration,
    /// `MICTLANX_ROUTER_STRAGGLER_TIMEOUT`: a replica that takes no piece for this long while others do
    /// is dropped from the write fan-out
    pub straggler_timeout: Duration,
    /// `MICTLANX_ROUTER_WRITE_QUORUM`: replicas that must confirm before phase 2 answers 200
    pub write_quorum: WriteQuorum,
}

/// How many replicas of a write must confirm (`MICTLANX_ROUTER_WRITE_QUORUM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteQuorum {
    /// `1`: any one replica.
    One,
    /// `majority`: more than half of the group's replicas.
    Majority,
    /// `all`: every replica of the group.
    All,
}

impl WriteQuorum {
    /// Confirmations needed out of `replicas` (at least 1).
    pub fn required(self, replicas: usize) -> usize {
        let n = replicas.max(1);
        match self {
            WriteQuorum::One => 1,
            WriteQuorum::Majority => n / 2 + 1,
            WriteQuorum::All => n,
        }
    }
}

impl Config {
    /// Defaults of `docs/config.md` with test-friendly overrides: port 0 on 127.0.0.1, no seed peers, no OTLP
    /// export, no log files, `state_dir` as given. Tests adjust fields directly.
    pub fn for_tests(state_dir: PathBuf) -> Config {
        Config {
            server: ServerConfig {
                host: "127.0.0.1".into(),
                port: 0,
                prefix: Some("/mictlanx".into()),
                shutdown_timeout: Duration::from_secs(30),
                worker_threads: 0,
                tls: None,
            },
            seed_peers: Vec::new(),
            test_mode: false,
            cache: CacheConfig {
                enabled: true,
                policy: CachePolicy::Lru,
                capacity_entries: 100,
                capacity_bytes: 1_000_000_000,
                max_object_size: 125_000_000,
            },
            cors: CorsConfig {
                allow_origins: vec!["*".into()],
                allow_methods: vec!["*".into()],
                allow_headers: vec!["*".into()],
                allow_credentials: true,
            },
            openapi: OpenApiInfo {
                title: "MictlanX Router".into(),
                version: "0.1.0a0".into(),
                summary: "MictlanX Router: Virtual storage spaces management.".into(),
                description: String::new(),
                logo: String::new(),
            },
            telemetry: TelemetryConfig {
                service_name: "mictlanx-router".into(),
                otel_enabled: false,
                otlp_endpoint: "http://localhost:4318".into(),
                zipkin_endpoint: None,
                debug: false,
                log_level: "info".into(),
                log_format: LogFormat::Text,
                log_show: true,
                log_to_file: false,
                log_error_file: false,
                log_path: PathBuf::from("/mictlanx/router"),
                log_name: "mictlanx-router-0".into(),
                rotation: Rotation::Daily,
            },
            peer_io: PeerIoConfig {
                connect_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(60),
                peer_timeout: Duration::from_secs(30),
                fanout_concurrency: 32,
                peer_tls_ca: None,
                fanout_deadline: Duration::from_secs(2),
                peer_token: None,
            },
            replica: ReplicaConfig {
                state_dir,
                health_interval: Duration::from_secs(5),
                health_timeout: Duration::from_secs(3),
                error_threshold: 3,
                error_cooldown: Duration::from_secs(30),
                task_ttl: Duration::from_secs(3600),
                rebuild_interval: Duration::from_secs(300),
                rebuild_page_size: 1000,
                full_pass_every: 12,
                backend: StateBackend::Embedded,
                state_timeout: Duration::from_secs(2),
                claim_lease: Duration::from_secs(10),
                repair: RepairConfig {
                    delay: Duration::from_secs(600),
                    interval: Duration::from_secs(30),
                    concurrency: 4,
                    bandwidth: 50_000_000,
                },
            },
            security: SecurityConfig::default(),
            tail: TailConfig {
                hedge_delay_max: Duration::from_millis(500),
                hedge_delay_min: Duration::from_millis(20),
                read_stall_timeout: Duration::from_secs(1),
                straggler_timeout: Duration::from_secs(2),
                write_quorum: WriteQuorum::One,
            },
            s3: S3Config::default(),
            ignored_variables: Vec::new(),
        }
    }

    /// Logs, at debug level, every set variable that the port accepts without effect (`docs/config.md` §2.2).
    /// Call after the tracing subscriber is installed.
    pub fn log_ignored_variables(&self) {
        for name in &self.ignored_variables {
            tracing::debug!(variable = %name, "environment variable accepted with no effect");
        }
    }
}
