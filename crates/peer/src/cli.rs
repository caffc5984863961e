//! Command line and environment of `mictlanx-peer` (`docs/peer-api.md` §8, `docs/config.md` §3): every setting is a
//! flag with its environment variable as fallback (a flag wins), validated into a [`PeerConfig`].

use std::path::PathBuf;

use clap::Parser;

use super::auth::PeerToken;
use super::config::{LogFormat, PeerConfig};
use mictlanx_proto::units;

/// A bad value: `invalid {VAR}='{value}': expected {what}` (one line on stderr, exit code 2).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {var}='{value}': expected {expected}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// `mictlanx-peer` flags. Values are strings here and validated in [`PeerArgs::into_config`].
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mictlanx-peer",
    version,
    about = "MictlanX storage peer (peer API v4)"
)]
pub struct PeerArgs {
    /// GET /health on the local port; exit 0 on 200, 1 otherwise.
    #[arg(long)]
    pub healthcheck: bool,
    #[arg(long, env = "NODE_ID")]
    pub node_id: Option<String>,
    #[arg(long = "port", env = "NODE_PORT")]
    pub port: Option<String>,
    #[arg(long = "host", env = "SERVER_IP_ADDR")]
    pub host: Option<String>,
    #[arg(long, env = "IP_ADDRESS")]
    pub ip_address: Option<String>,
    #[arg(long, env = "BASE_PATH")]
    pub base_path: Option<PathBuf>,
    #[arg(long, env = "DATA_PATH")]
    pub data_path: Option<PathBuf>,
    #[arg(long, env = "LOCAL_PATH")]
    pub local_path: Option<PathBuf>,
    #[arg(long, env = "LOG_PATH")]
    pub log_path: Option<PathBuf>,
    #[arg(
        long = "disk-capacity",
        visible_alias = "capacity",
        env = "NODE_DISK_CAPACITY"
    )]
    pub disk_capacity: Option<String>,
    #[arg(long, env = "NODE_MEMORY_CAPACITY")]
    pub memory_capacity: Option<String>,
    #[arg(long, env = "PAYLOAD_LIMIT")]
    pub payload_limit: Option<String>,
    #[arg(long, env = "CLIENT_REQUEST_TIMEOUT")]
    pub client_request_timeout: Option<String>,
    #[arg(long, env = "WORKERS")]
    pub workers: Option<String>,
    #[arg(long, env = "PEERS")]
    pub peers: Option<String>,
    #[arg(long, env = "TRAVERSE_AND_CLEAN")]
    pub traverse_and_clean: Option<String>,
    #[arg(long, env = "MICTLANX_PEER_TASK_TTL")]
    pub task_ttl: Option<String>,
    #[arg(long, env = "MICTLANX_PEER_LOG_LEVEL")]
    pub log_level: Option<String>,
    #[arg(long, env = "MICTLANX_PEER_LOG_FORMAT")]
    pub log_format: Option<String>,
    // security (`docs/peer-api.md` §9–§14)
    #[arg(long, env = "MICTLANX_PEER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, env = "MICTLANX_PEER_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    #[arg(long, env = "MICTLANX_PEER_TOKEN_READS")]
    pub token_reads: Option<String>,
    #[arg(long, env = "MICTLANX_PEER_HEADER_TIMEOUT")]
    pub header_timeout: Option<String>,
    #[arg(long, env = "MICTLANX_PEER_SCRUB_INTERVAL")]
    pub scrub_interval: Option<String>,
    #[arg(long, env = "MICTLANX_PEER_SCRUB_BANDWIDTH")]
    pub scrub_bandwidth: Option<String>,
}

fn bad(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError {
        var,
        value: value.to_string(),
        expected,
    }
}

const SIZE: &str = "a size such as 1GB or 512MiB";
const SPAN: &str = "a time span such as 30s, 5m or 1h";

fn size(var: &'static str, v: &Option<String>, default: u64) -> Result<u64, ConfigError> {
    v.as_deref().map_or(Ok(default), |s| {
        units::parse_size(s).map_err(|_| bad(var, s, SIZE))
    })
}

fn boolean(var: &'static str, v: &Option<String>, default: bool) -> Result<bool, ConfigError> {
    match v.as_deref() {
        None => Ok(default),
        Some(s) => units::parse_bool(s).ok_or_else(|| bad(var, s, "a boolean (0, 1, true, false)")),
    }
}

/// `MICTLANX_PEER_TOKEN` or the trimmed content of `MICTLANX_PEER_TOKEN_FILE` (an empty variable counts as
/// unset; both set is an error). The token itself never appears in an error.
fn token(value: Option<&str>, file: Option<&PathBuf>) -> Result<Option<PeerToken>, ConfigError> {
    const HIDDEN: &str = "(hidden)";
    const TOKEN: &str = "a bearer token: visible ASCII characters, no spaces";
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    match (value, file) {
        (Some(_), Some(f)) => Err(bad(
            "MICTLANX_PEER_TOKEN_FILE",
            &f.display().to_string(),
            "unset when MICTLANX_PEER_TOKEN is set (set only one of them)",
        )),
        (Some(v), None) => PeerToken::new(v)
            .map(Some)
            .ok_or_else(|| bad("MICTLANX_PEER_TOKEN", HIDDEN, TOKEN)),
        (None, Some(f)) => {
            let path = f.display().to_string();
            let text = std::fs::read_to_string(f).map_err(|_| {
                bad(
                    "MICTLANX_PEER_TOKEN_FILE",
                    &path,
                    "a readable file holding the token",
                )
            })?;
            PeerToken::new(text.trim()).map(Some).ok_or_else(|| {
                bad(
                    "MICTLANX_PEER_TOKEN_FILE",
                    &path,
                    "a file holding a bearer token: visible ASCII characters, no spaces",
                )
            })
        }
        (None, None) => Ok(None),
    }
}

impl PeerArgs {
    /// Validate every value (start-up only).
    pub fn into_config(self) -> Result<PeerConfig, ConfigError> {
        let d = PeerConfig::default();
        let base = self
            .base_path
            .unwrap_or_else(|| PathBuf::from("/app/mictlanx"));
        let port = match self.port.as_deref() {
            None => d.port,
            Some(s) => s
                .trim()
                .parse::<u16>()
                .map_err(|_| bad("NODE_PORT", s, "a port number 0-65535"))?,
        };
        let span = |var, v: &Option<String>, default| match v.as_deref() {
            None => Ok(default),
            Some(s) => units::parse_timespan(s).map_err(|_| bad(var, s, SPAN)),
        };
        let task_ttl = span("MICTLANX_PEER_TASK_TTL", &self.task_ttl, d.task_ttl)?;
        if task_ttl.is_zero() {
            return Err(bad(
                "MICTLANX_PEER_TASK_TTL",
                self.task_ttl.as_deref().unwrap_or(""),
                "a time span > 0",
            ));
        }
        let workers = match self.workers.as_deref() {
            None => None,
            Some(s) => Some(
                s.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|w| *w >= 1)
                    .ok_or_else(|| bad("WORKERS", s, "an integer >= 1"))?,
            ),
        };
        let scrub_interval = span(
            "MICTLANX_PEER_SCRUB_INTERVAL",
            &self.scrub_interval,
            d.scrub_interval,
        )?;
        let scrub_bandwidth = size(
            "MICTLANX_PEER_SCRUB_BANDWIDTH",
            &self.scrub_bandwidth,
            d.scrub_bandwidth,
        )?;
        if scrub_bandwidth == 0 {
            return Err(bad(
                "MICTLANX_PEER_SCRUB_BANDWIDTH",
                self.scrub_bandwidth.as_deref().unwrap_or(""),
                "a size per second > 0, such as 50MB",
            ));
        }
        let traverse_and_clean = boolean("TRAVERSE_AND_CLEAN", &self.traverse_and_clean, true)?;
        let token = token(self.token.as_deref(), self.token_file.as_ref())?;
        let token_reads = boolean("MICTLANX_PEER_TOKEN_READS", &self.token_reads, false)?;
        let header_timeout = span(
            "MICTLANX_PEER_HEADER_TIMEOUT",
            &self.header_timeout,
            d.header_timeout,
        )?;
        if header_timeout.is_zero() {
            return Err(bad(
                "MICTLANX_PEER_HEADER_TIMEOUT",
                self.header_timeout.as_deref().unwrap_or(""),
                "a time span > 0",
            ));
        }
        let log_format = match self
            .log_format
            .as_deref()
            .map(|s| s.trim().to_ascii_lowercase())
        {
            None => LogFormat::Text,
            Some(f) if f == "text" => LogFormat::Text,
            Some(f) if f == "json" => LogFormat::Json,
            Some(_) => {
                return Err(bad(
                    "MICTLANX_PEER_LOG_FORMAT",
                    self.log_format.as_deref().unwrap_or(""),
                    "text or json",
                ))
            }
        };
        let log_level = match self.log_level {
            Some(l) if l.trim().eq_ignore_ascii_case("warning") => "warn".to_string(),
            Some(l) => l.trim().to_ascii_lowercase(),
            None => d.log_level,
        };
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(bad(
                "MICTLANX_PEER_LOG_LEVEL",
                &log_level,
                "a level such as info or debug",
            ));
        }
        Ok(PeerConfig {
            node_id: self.node_id.unwrap_or(d.node_id),
            host: self.host.unwrap_or(d.host),
            port,
            ip_address: self.ip_address.unwrap_or(d.ip_address),
            data_path: self.data_path.unwrap_or_else(|| base.join("data")),
            local_path: self.local_path.unwrap_or_else(|| base.join("local")),
            log_path: self.log_path.unwrap_or_else(|| base.join("log")),
            disk_capacity: size("NODE_DISK_CAPACITY", &self.disk_capacity, d.disk_capacity)?,
            // no effect, so never rejected: an unparsable value keeps the default
            memory_capacity: self
                .memory_capacity
                .as_deref()
                .and_then(|s| units::parse_size(s).ok())
                .unwrap_or(d.memory_capacity),
            payload_limit: size("PAYLOAD_LIMIT", &self.payload_limit, d.payload_limit)?,
            client_request_timeout: span(
                "CLIENT_REQUEST_TIMEOUT",
                &self.client_request_timeout,
                d.client_request_timeout,
            )?,
            workers,
            peers: self
                .peers
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            traverse_and_clean,
            task_ttl,
            task_sweep_interval: d.task_sweep_interval,
            log_level,
            log_format,
            token,
            token_reads,
            header_timeout,
            scrub_interval,
            scrub_bandwidth,
        })
    }
}

/// Every variable the peer knows: the `env` of each flag, then [`NO_EFFECT_VARIABLES`]. The documentation
/// and the deployment files are checked against this list, so it is derived, never kept by hand.
pub fn known_variables() -> Vec<String> {
    use clap::CommandFactory;
    PeerArgs::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .chain(NO_EFFECT_VARIABLES.iter().map(|name| name.to_string()))
        .collect()
}

/// Variables of the original peer accepted with no effect (`docs/config.md` §3): never parsed, never rejected.
pub const NO_EFFECT_VARIABLES: &[&str] = &[
    "NODE_MEMORY_CAPACITY",
    "MIN_INTERVAL_TIME",
    "MAX_INTERVAL_TIME",
    "CLIENT_DISCONNECT_TIMEOUT",
    "DISK_CHECK_INTERVAL_TIME",
    "CLEAN_CACHE",
    "ELASTIC",
    "PROTOCOL",
    "ENV",
    "BIN_NAME",
    "USE_CARGO",
];

/// Log (debug) every no-effect variable that is set; call after logging is initialised.
pub fn log_no_effect_variables() {
    for name in NO_EFFECT_VARIABLES {
        if let Ok(value) = std::env::var(name) {
            tracing::debug!(variable = name, %value, "accepted with no effect");
        }
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
