//! Loading the router `Config` from the environment (`docs/config.md` §1–2): dotenv merge, the flat envy struct of
//! raw strings, and its conversion into the typed sections with start-up validation.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::values::{
    bool_var, cache_policy_var, int_var, list_var, log_format_var, log_level_var, min_int_var,
    optional_var, rotation, size_var, string_var, timespan_var, Var,
};
use super::variables::{DEFAULT_ENV_FILE, KNOWN_VARIABLES, NO_EFFECT_VARIABLES};
use super::*;
// security
use super::s3;
use super::security;
use crate::peers_uri::parse_peers_uri;
use mictlanx_http::normalize_prefix;

/// The flat envy struct: every variable with an effect (§2.1 except `ENV_FILE_PATH`, §2.3), raw and optional.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(super) struct RawEnv {
    mictlanx_router_host: Option<String>,
    mictlanx_router_port: Option<String>,
    openapi_prefix: Option<String>,
    mictlanx_peers_uri: Option<String>,
    mictlanx_procotol: Option<String>,
    mictlanx_api_version: Option<String>,
    mictlanx_test: Option<String>,
    mictlanx_cache: Option<String>,
    mictlanx_cache_eviction_policy: Option<String>,
    mictlanx_cache_capacity: Option<String>,
    mictlanx_cache_capacity_storage: Option<String>,
    mictlanx_cors_allow_origins: Option<String>,
    mictlanx_cors_allow_methods: Option<String>,
    mictlanx_cors_allow_headers: Option<String>,
    mictlanx_cors_allow_credentilas: Option<String>,
    mictlanx_open_api_title: Option<String>,
    mictlanx_open_api_version: Option<String>,
    mictlanx_open_api_summary: Option<String>,
    mictlanx_open_api_description: Option<String>,
    mictlanx_open_api_logo: Option<String>,
    mictlanx_router_service_name: Option<String>,
    mictlanx_router_opentelemetry: Option<String>,
    mictlanx_jaeger_endpoint: Option<String>,
    mictlanx_zipkin_endpoint: Option<String>,
    mictlanx_router_debug: Option<String>,
    mictlanx_router_log_level: Option<String>,
    mictlanx_router_log_show: Option<String>,
    mictlanx_router_log_to_file: Option<String>,
    mictlanx_router_log_error_file: Option<String>,
    mictlanx_router_log_path: Option<String>,
    mictlanx_router_log_name: Option<String>,
    mictlanx_router_log_when: Option<String>,
    mictlanx_router_log_interval: Option<String>,
    mictlanx_router_log_rotation_when: Option<String>,
    mictlanx_router_log_rotation_interval: Option<String>,
    mictlanx_router_connect_timeout: Option<String>,
    mictlanx_router_idle_timeout: Option<String>,
    mictlanx_router_peer_timeout: Option<String>,
    mictlanx_router_fanout_concurrency: Option<String>,
    mictlanx_router_health_interval: Option<String>,
    mictlanx_router_health_timeout: Option<String>,
    mictlanx_router_error_threshold: Option<String>,
    mictlanx_router_error_cooldown: Option<String>,
    mictlanx_router_task_ttl: Option<String>,
    mictlanx_router_rebuild_interval: Option<String>,
    mictlanx_router_rebuild_page_size: Option<String>,
    mictlanx_router_full_pass_every: Option<String>,
    mictlanx_cache_max_object_size: Option<String>,
    mictlanx_router_cache_max_object_size: Option<String>,
    mictlanx_router_state_dir: Option<String>,
    mictlanx_router_tls_cert: Option<String>,
    mictlanx_router_tls_key: Option<String>,
    mictlanx_router_peer_tls_ca: Option<String>,
    mictlanx_router_log_format: Option<String>,
    mictlanx_router_shutdown_timeout: Option<String>,
    // shared state (several routers) and healing
    mictlanx_router_state_backend: Option<String>,
    mictlanx_router_redis_url: Option<String>,
    mictlanx_router_redis_prefix: Option<String>,
    mictlanx_router_state_timeout: Option<String>,
    mictlanx_router_claim_lease: Option<String>,
    mictlanx_router_repair_delay: Option<String>,
    mictlanx_router_repair_interval: Option<String>,
    mictlanx_router_repair_concurrency: Option<String>,
    mictlanx_router_repair_bandwidth: Option<String>,
    mictlanx_router_fanout_deadline: Option<String>,
    // security
    mictlanx_router_admin_token: Option<String>,
    mictlanx_router_admin_token_file: Option<String>,
    mictlanx_router_peer_allowlist: Option<String>,
    mictlanx_router_peer_token: Option<String>,
    mictlanx_router_peer_token_file: Option<String>,
    mictlanx_router_header_timeout: Option<String>,
    mictlanx_router_max_connections: Option<String>,
    mictlanx_router_max_object_size: Option<String>,
    mictlanx_s3_port: Option<String>,
    mictlanx_s3_access_key: Option<String>,
    mictlanx_s3_access_key_file: Option<String>,
    mictlanx_s3_secret_key: Option<String>,
    mictlanx_s3_secret_key_file: Option<String>,
    mictlanx_s3_credentials_file: Option<String>,
    mictlanx_s3_anonymous: Option<String>,
    mictlanx_s3_domain: Option<String>,
    mictlanx_s3_replication_factor: Option<String>,
    mictlanx_s3_reduced_replication_factor: Option<String>,
    mictlanx_s3_upload_expiry: Option<String>,
    // tail latency
    mictlanx_router_hedge_delay_max: Option<String>,
    mictlanx_router_hedge_delay_min: Option<String>,
    mictlanx_router_read_stall_timeout: Option<String>,
    mictlanx_router_straggler_timeout: Option<String>,
    mictlanx_router_write_quorum: Option<String>,
    // performance
    mictlanx_router_worker_threads: Option<String>,
}

/// `(VARIABLE_NAME, raw value)` for one field of `RawEnv`.
macro_rules! var {
    ($raw:expr, $field:ident) => {
        (upper_name(stringify!($field)), $raw.$field.as_deref())
    };
}

/// Maps a `RawEnv` field name to its variable name in `KNOWN_VARIABLES` (a test checks every field has one).
pub(super) fn upper_name(field: &str) -> &'static str {
    KNOWN_VARIABLES
        .iter()
        .copied()
        .find(|name| name.eq_ignore_ascii_case(field))
        .unwrap_or("UNKNOWN_VARIABLE")
}

/// The Zipkin v2 collector URL of `MICTLANX_ZIPKIN_ENDPOINT`: an http(s) URL with a host; without a path
/// (`http://zipkin:9411`, the original's form, or with a trailing `/`) it gains Zipkin's `/api/v2/spans`,
/// with any other path it is used as given (a collector behind a proxy). `None` when malformed.
pub(super) fn zipkin_collector_url(raw: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    if url.path() == "/" {
        url.set_path("/api/v2/spans");
    }
    Some(url.to_string())
}

impl Config {
    /// Start-up entry point: loads the dotenv file at `ENV_FILE_PATH` (default `.env.local`) into the process
    /// environment without overriding it (a missing file is fine), then reads and validates every variable.
    /// Call it once, first thing in `main`, before any thread starts.
    pub fn from_env() -> Result<Config, ConfigError> {
        let path = std::env::var_os("ENV_FILE_PATH")
            .map_or_else(|| PathBuf::from(DEFAULT_ENV_FILE), PathBuf::from);
        match dotenvy::from_path(&path) {
            Err(e) if !e.not_found() => return Err(ConfigError::dotenv(&path, &e)),
            _ => {}
        }
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())));
        Config::from_vars(vars)
    }

    /// Pure `from_env`: `vars` stands for the process environment; the dotenv file named by its `ENV_FILE_PATH`
    /// (default `.env.local`) only fills variables that `vars` does not set.
    pub fn from_vars_with_dotenv(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut vars: Vec<(String, String)> = vars.into_iter().collect();
        let path = vars.iter().find(|(k, _)| k == "ENV_FILE_PATH").map_or_else(
            || PathBuf::from(DEFAULT_ENV_FILE),
            |(_, v)| PathBuf::from(v),
        );
        let present: HashSet<String> = vars.iter().map(|(k, _)| k.clone()).collect();
        for (key, value) in read_dotenv(&path)? {
            if !present.contains(&key) {
                vars.push((key, value));
            }
        }
        Config::from_vars(vars)
    }

    /// Reads and validates the router variables from `vars` (names are case-sensitive; the first occurrence of
    /// a name wins; unknown names are ignored). Never touches the process environment; the only files it
    /// reads are the token files named by `MICTLANX_ROUTER_ADMIN_TOKEN_FILE` / `MICTLANX_ROUTER_PEER_TOKEN_FILE`.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut seen = HashSet::new();
        let mut ignored = Vec::new();
        let mut known = Vec::new();
        for (key, value) in vars {
            if !KNOWN_VARIABLES.contains(&key.as_str()) || !seen.insert(key.clone()) {
                continue;
            }
            if NO_EFFECT_VARIABLES.contains(&key.as_str()) {
                ignored.push(key);
            } else {
                known.push((key, value));
            }
        }
        ignored.sort();
        let raw: RawEnv = envy::from_iter(known).map_err(|e| ConfigError::Env(e.to_string()))?;
        let mut config = raw.into_config()?;
        config.ignored_variables = ignored;
        Ok(config)
    }
}

/// The `(key, value)` pairs of a dotenv file; a missing file is empty.
fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    match dotenvy::from_path_iter(path) {
        Ok(iter) => iter
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError::dotenv(path, &e)),
        Err(e) if e.not_found() => Ok(Vec::new()),
        Err(e) => Err(ConfigError::dotenv(path, &e)),
    }
}

const SECOND: Duration = Duration::from_secs(1);

fn positive(var: Var<'_>, default: Duration) -> Result<Duration, ConfigError> {
    timespan_var(var, default, Duration::ZERO, true)
}

impl RawEnv {
    fn into_config(self) -> Result<Config, ConfigError> {
        Ok(Config {
            server: self.server()?,
            seed_peers: self.seed_peers()?,
            test_mode: bool_var(var!(self, mictlanx_test), false)?,
            cache: self.cache()?,
            cors: CorsConfig {
                allow_origins: list_var(var!(self, mictlanx_cors_allow_origins), &["*"]),
                allow_methods: list_var(var!(self, mictlanx_cors_allow_methods), &["*"]),
                allow_headers: list_var(var!(self, mictlanx_cors_allow_headers), &["*"]),
                allow_credentials: bool_var(var!(self, mictlanx_cors_allow_credentilas), true)?,
            },
            openapi: OpenApiInfo {
                title: string_var(var!(self, mictlanx_open_api_title), "MictlanX Router"),
                version: string_var(var!(self, mictlanx_open_api_version), "0.1.0a0"),
                summary: string_var(
                    var!(self, mictlanx_open_api_summary),
                    "MictlanX Router: Virtual storage spaces management.",
                ),
                description: string_var(var!(self, mictlanx_open_api_description), ""),
                logo: string_var(var!(self, mictlanx_open_api_logo), ""),
            },
            telemetry: self.telemetry()?,
            peer_io: PeerIoConfig {
                connect_timeout: timespan_var(
                    var!(self, mictlanx_router_connect_timeout),
                    5 * SECOND,
                    Duration::ZERO,
                    true,
                )?,
                idle_timeout: timespan_var(
                    var!(self, mictlanx_router_idle_timeout),
                    60 * SECOND,
                    Duration::ZERO,
                    true,
                )?,
                peer_timeout: timespan_var(
                    var!(self, mictlanx_router_peer_timeout),
                    30 * SECOND,
                    Duration::ZERO,
                    true,
                )?,
                fanout_concurrency: min_int_var::<u32>(
                    var!(self, mictlanx_router_fanout_concurrency),
                    32,
                    1,
                )? as usize,
                peer_tls_ca: optional_var(var!(self, mictlanx_router_peer_tls_ca))
                    .map(PathBuf::from),
                fanout_deadline: positive(var!(self, mictlanx_router_fanout_deadline), 2 * SECOND)?,
                peer_token: security::token(
                    var!(self, mictlanx_router_peer_token),
                    var!(self, mictlanx_router_peer_token_file),
                )?,
            },
            replica: self.replica()?,
            security: security::security(security::SecurityVars {
                admin_token: var!(self, mictlanx_router_admin_token),
                admin_token_file: var!(self, mictlanx_router_admin_token_file),
                peer_allowlist: var!(self, mictlanx_router_peer_allowlist),
                header_timeout: var!(self, mictlanx_router_header_timeout),
                max_connections: var!(self, mictlanx_router_max_connections),
                max_object_size: var!(self, mictlanx_router_max_object_size),
            })?,
            tail: self.tail()?,
            s3: s3::s3(s3::S3Vars {
                port: var!(self, mictlanx_s3_port),
                access_key: var!(self, mictlanx_s3_access_key),
                access_key_file: var!(self, mictlanx_s3_access_key_file),
                secret_key: var!(self, mictlanx_s3_secret_key),
                secret_key_file: var!(self, mictlanx_s3_secret_key_file),
                credentials_file: var!(self, mictlanx_s3_credentials_file),
                anonymous: var!(self, mictlanx_s3_anonymous),
                domain: var!(self, mictlanx_s3_domain),
                replication_factor: var!(self, mictlanx_s3_replication_factor),
                reduced_replication_factor: var!(self, mictlanx_s3_reduced_replication_factor),
                upload_expiry: var!(self, mictlanx_s3_upload_expiry),
            })?,
            ignored_variables: Vec::new(),
        })
    }

    fn server(&self) -> Result<ServerConfig, ConfigError> {
        let cert = optional_var(var!(self, mictlanx_router_tls_cert));
        let key = optional_var(var!(self, mictlanx_router_tls_key));
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (None, None) => None,
            (Some(cert), None) => {
                return Err(ConfigError::tls_pair(
                    "MICTLANX_ROUTER_TLS_CERT",
                    cert,
                    "MICTLANX_ROUTER_TLS_KEY",
                ))
            }
            (None, Some(key)) => {
                return Err(ConfigError::tls_pair(
                    "MICTLANX_ROUTER_TLS_KEY",
                    key,
                    "MICTLANX_ROUTER_TLS_CERT",
                ))
            }
        };
        Ok(ServerConfig {
            host: string_var(var!(self, mictlanx_router_host), "0.0.0.0")
                .trim()
                .to_string(),
            port: int_var(var!(self, mictlanx_router_port), 60666, 0, 65535)? as u16,
            prefix: normalize_prefix(&string_var(var!(self, openapi_prefix), "/mictlanx")),
            shutdown_timeout: timespan_var(
                var!(self, mictlanx_router_shutdown_timeout),
                30 * SECOND,
                Duration::ZERO,
                false,
            )?,
            tls,
            worker_threads: int_var(var!(self, mictlanx_router_worker_threads), 0, 0, 1024)?
                as usize,
        })
    }

    fn seed_peers(&self) -> Result<Vec<crate::peer::PeerInfo>, ConfigError> {
        let protocol = string_var(var!(self, mictlanx_procotol), "http");
        let api_version = min_int_var::<u32>(var!(self, mictlanx_api_version), 4, 0)?;
        let (name, uri) = match var!(self, mictlanx_peers_uri) {
            (name, Some(uri)) => (name, uri.to_string()),
            // Only the protocol can break the default URI (e.g. an `&` in it), so it is the one to blame.
            (_, None) => (
                upper_name("mictlanx_procotol"),
                format!(
                    "mictlanx://mictlanx-peer-0@localhost:24000,mictlanx-peer-1@localhost:24001/?protocol={}&api_version={}",
                    protocol.trim(),
                    api_version
                ),
            ),
        };
        parse_peers_uri(uri.trim()).map_err(|e| {
            let raw = if name == "MICTLANX_PEERS_URI" { uri.as_str() } else { protocol.as_str() };
            ConfigError::invalid(
                name,
                raw,
                &format!("a mictlanx:// URI such as mictlanx://peer-0@localhost:25000/?protocol=http&api_version=4 ({e})"),
            )
        })
    }

    fn cache(&self) -> Result<CacheConfig, ConfigError> {
        let capacity_bytes = size_var(var!(self, mictlanx_cache_capacity_storage), 1_000_000_000)?;
        let max_object = match var!(self, mictlanx_cache_max_object_size) {
            (_, None) => var!(self, mictlanx_router_cache_max_object_size),
            set => set,
        };
        Ok(CacheConfig {
            enabled: bool_var(var!(self, mictlanx_cache), true)?,
            policy: cache_policy_var(var!(self, mictlanx_cache_eviction_policy))?,
            capacity_entries: int_var(var!(self, mictlanx_cache_capacity), 100, 0, i64::MAX)?
                as u64,
            capacity_bytes,
            max_object_size: size_var(max_object, capacity_bytes / 8)?.min(capacity_bytes),
        })
    }

    fn telemetry(&self) -> Result<TelemetryConfig, ConfigError> {
        let level = log_level_var(var!(self, mictlanx_router_log_level), "info")?;
        let debug = bool_var(var!(self, mictlanx_router_debug), false)?;
        let when = match var!(self, mictlanx_router_log_rotation_when) {
            (_, Some(w)) => w.to_string(),
            (_, None) => string_var(var!(self, mictlanx_router_log_when), "h"),
        };
        let interval = match var!(self, mictlanx_router_log_rotation_interval) {
            (_, None) => int_var(
                var!(self, mictlanx_router_log_interval),
                24,
                i64::MIN,
                i64::MAX,
            )?,
            set => int_var(set, 24, i64::MIN, i64::MAX)?,
        };
        let endpoint = string_var(
            var!(self, mictlanx_jaeger_endpoint),
            "http://localhost:4318",
        );
        let endpoint_ok = reqwest::Url::parse(endpoint.trim())
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !endpoint_ok {
            return Err(ConfigError::invalid(
                upper_name("mictlanx_jaeger_endpoint"),
                &endpoint,
                "an http(s) URL such as http://localhost:4318",
            ));
        }
        let zipkin_endpoint = optional_var(var!(self, mictlanx_zipkin_endpoint))
            .map(|raw| {
                zipkin_collector_url(raw).ok_or_else(|| {
                    ConfigError::invalid(
                        upper_name("mictlanx_zipkin_endpoint"),
                        raw,
                        "an http(s) URL such as http://localhost:9411",
                    )
                })
            })
            .transpose()?;
        Ok(TelemetryConfig {
            service_name: string_var(var!(self, mictlanx_router_service_name), "mictlanx-router"),
            otel_enabled: bool_var(var!(self, mictlanx_router_opentelemetry), true)?,
            otlp_endpoint: endpoint.trim().trim_end_matches('/').to_string(),
            zipkin_endpoint,
            debug,
            log_level: if debug { "debug" } else { level }.to_string(),
            log_format: log_format_var(var!(self, mictlanx_router_log_format))?,
            log_show: bool_var(var!(self, mictlanx_router_log_show), true)?,
            log_to_file: bool_var(var!(self, mictlanx_router_log_to_file), true)?,
            log_error_file: bool_var(var!(self, mictlanx_router_log_error_file), true)?,
            log_path: PathBuf::from(string_var(
                var!(self, mictlanx_router_log_path),
                "/mictlanx/router",
            )),
            log_name: string_var(var!(self, mictlanx_router_log_name), "mictlanx-router-0"),
            rotation: rotation(&when, interval),
        })
    }

    fn replica(&self) -> Result<ReplicaConfig, ConfigError> {
        Ok(ReplicaConfig {
            state_dir: PathBuf::from(string_var(
                var!(self, mictlanx_router_state_dir),
                "./mictlanx-router-state",
            )),
            health_interval: timespan_var(
                var!(self, mictlanx_router_health_interval),
                5 * SECOND,
                Duration::from_millis(100),
                true,
            )?,
            health_timeout: positive(var!(self, mictlanx_router_health_timeout), 3 * SECOND)?,
            error_threshold: min_int_var::<u32>(var!(self, mictlanx_router_error_threshold), 3, 1)?,
            error_cooldown: positive(var!(self, mictlanx_router_error_cooldown), 30 * SECOND)?,
            task_ttl: positive(var!(self, mictlanx_router_task_ttl), 3600 * SECOND)?,
            rebuild_interval: timespan_var(
                var!(self, mictlanx_router_rebuild_interval),
                300 * SECOND,
                Duration::ZERO,
                false,
            )?,
            rebuild_page_size: int_var(
                var!(self, mictlanx_router_rebuild_page_size),
                1000,
                1,
                i64::MAX,
            )? as u64,
            full_pass_every: int_var(
                var!(self, mictlanx_router_full_pass_every),
                12,
                0,
                i64::from(u32::MAX),
            )? as u32,
            backend: self.state_backend()?,
            state_timeout: positive(var!(self, mictlanx_router_state_timeout), 2 * SECOND)?,
            claim_lease: timespan_var(
                var!(self, mictlanx_router_claim_lease),
                10 * SECOND,
                Duration::from_millis(300),
                true,
            )?,
            repair: RepairConfig {
                delay: timespan_var(
                    var!(self, mictlanx_router_repair_delay),
                    600 * SECOND,
                    Duration::ZERO,
                    false,
                )?,
                interval: timespan_var(
                    var!(self, mictlanx_router_repair_interval),
                    30 * SECOND,
                    Duration::from_millis(100),
                    true,
                )?,
                concurrency: min_int_var::<u32>(
                    var!(self, mictlanx_router_repair_concurrency),
                    4,
                    1,
                )? as usize,
                bandwidth: size_var(var!(self, mictlanx_router_repair_bandwidth), 50_000_000)?,
            },
        })
    }

    fn state_backend(&self) -> Result<StateBackend, ConfigError> {
        let (name, raw) = var!(self, mictlanx_router_state_backend);
        let kind = raw.map(|v| v.trim().to_ascii_lowercase());
        match kind.as_deref() {
            None | Some("embedded") => Ok(StateBackend::Embedded),
            Some("redis") => {
                let (url_name, url) = var!(self, mictlanx_router_redis_url);
                let url = url.unwrap_or("redis://127.0.0.1:6379/0").trim().to_string();
                check_redis_url(url_name, &url)?;
                let prefix = self.redis_prefix()?;
                Ok(StateBackend::Redis { url, prefix })
            }
            Some("redis-cluster") => {
                let (url_name, urls) = var!(self, mictlanx_router_redis_url);
                let seeds: Vec<String> = urls
                    .unwrap_or("redis://127.0.0.1:6379")
                    .split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect();
                for url in &seeds {
                    check_redis_url(url_name, url)?;
                }
                if seeds.is_empty() {
                    return Err(ConfigError::invalid(
                        url_name,
                        urls.unwrap_or_default(),
                        "a comma-separated list of cluster nodes such as redis://10.0.0.1:6379,redis://10.0.0.2:6379",
                    ));
                }
                let prefix = self.redis_prefix()?;
                Ok(StateBackend::RedisCluster { seeds, prefix })
            }
            Some(_) => Err(ConfigError::invalid(
                name,
                raw.unwrap_or_default(),
                "embedded, redis or redis-cluster",
            )),
        }
    }

    fn redis_prefix(&self) -> Result<String, ConfigError> {
        let (prefix_name, prefix) = var!(self, mictlanx_router_redis_prefix);
        let prefix = prefix.unwrap_or("mictlanx").trim().to_string();
        if prefix.is_empty() || prefix.contains(['{', '}']) || prefix.contains(char::is_whitespace)
        {
            return Err(ConfigError::invalid(
                prefix_name,
                &prefix,
                "a non-empty name without braces or spaces, such as mictlanx",
            ));
        }
        Ok(prefix)
    }
}

fn check_redis_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    let scheme_ok = ["redis://", "rediss://", "unix://", "redis+unix://"]
        .iter()
        .any(|s| url.starts_with(s));
    if !scheme_ok || url.parse::<reqwest::Url>().is_err() {
        return Err(ConfigError::invalid(
            name,
            url,
            "a redis://, rediss:// or unix:// URL such as redis://127.0.0.1:6379/0",
        ));
    }
    Ok(())
}

// tail latency
impl RawEnv {
    fn tail(&self) -> Result<TailConfig, ConfigError> {
        let span =
            |var: Var<'_>, default: Duration| timespan_var(var, default, Duration::ZERO, false);
        let hedge_delay_max = span(
            var!(self, mictlanx_router_hedge_delay_max),
            Duration::from_millis(500),
        )?;
        let min_var = var!(self, mictlanx_router_hedge_delay_min);
        let hedge_delay_min = span(min_var, Duration::from_millis(20))?;
        // The floor only means something below a ceiling; with hedging off (`0`) it is not used.
        let hedge_delay_min = if hedge_delay_max.is_zero() {
            hedge_delay_min
        } else if min_var.1.is_some() && hedge_delay_min > hedge_delay_max {
            return Err(ConfigError::invalid(
                min_var.0,
                min_var.1.unwrap_or_default(),
                &format!(
                    "a time span <= MICTLANX_ROUTER_HEDGE_DELAY_MAX ({}ms)",
                    hedge_delay_max.as_millis()
                ),
            ));
        } else {
            hedge_delay_min.min(hedge_delay_max)
        };
        let (quorum_name, quorum_raw) = var!(self, mictlanx_router_write_quorum);
        let write_quorum = match quorum_raw.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("1") => WriteQuorum::One,
            Some("majority") => WriteQuorum::Majority,
            Some("all") => WriteQuorum::All,
            Some(_) => {
                return Err(ConfigError::invalid(
                    quorum_name,
                    quorum_raw.unwrap_or_default(),
                    "1, majority or all",
                ))
            }
        };
        Ok(TailConfig {
            hedge_delay_max,
            hedge_delay_min,
            read_stall_timeout: span(
                var!(self, mictlanx_router_read_stall_timeout),
                Duration::from_secs(1),
            )?,
            straggler_timeout: positive(var!(self, mictlanx_router_straggler_timeout), 2 * SECOND)?,
            write_quorum,
        })
    }
}
