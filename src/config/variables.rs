//! The names of every router variable (`docs/config.md` §2), with and without effect.

/// Dotenv file read when `ENV_FILE_PATH` is unset.
pub const DEFAULT_ENV_FILE: &str = ".env.local";

/// Defines [`KNOWN_VARIABLES`] (every router variable of `docs/config.md` §2, effect or not; docs/config.md's tables
/// lists exactly these) and [`NO_EFFECT_VARIABLES`] (§2.2) from one list of each, so neither repeats the other.
macro_rules! router_variables {
    (effect: [$($effect:literal),* $(,)?], no_effect: [$($none:literal),* $(,)?] $(,)?) => {
        /// Every router variable of `docs/config.md` §2 (effect or not); docs/config.md's tables list exactly these.
        pub const KNOWN_VARIABLES: &[&str] = &[$($effect,)* $($none,)*];
        /// §2.2: accepted for compatibility, never parsed, never rejected; reported in
        /// `Config::ignored_variables`.
        pub const NO_EFFECT_VARIABLES: &[&str] = &[$($none,)*];
    };
}

router_variables! {
    effect: [
        // §2.1
        "ENV_FILE_PATH",
        "MICTLANX_ROUTER_HOST",
        "MICTLANX_ROUTER_PORT",
        "OPENAPI_PREFIX",
        "MICTLANX_PEERS_URI",
        "MICTLANX_PROCOTOL",
        "MICTLANX_API_VERSION",
        "MICTLANX_TEST",
        "MICTLANX_CACHE",
        "MICTLANX_CACHE_EVICTION_POLICY",
        "MICTLANX_CACHE_CAPACITY",
        "MICTLANX_CACHE_CAPACITY_STORAGE",
        "MICTLANX_CORS_ALLOW_ORIGINS",
        "MICTLANX_CORS_ALLOW_METHODS",
        "MICTLANX_CORS_ALLOW_HEADERS",
        "MICTLANX_CORS_ALLOW_CREDENTILAS",
        "MICTLANX_OPEN_API_TITLE",
        "MICTLANX_OPEN_API_VERSION",
        "MICTLANX_OPEN_API_SUMMARY",
        "MICTLANX_OPEN_API_DESCRIPTION",
        "MICTLANX_OPEN_API_LOGO",
        "MICTLANX_ROUTER_SERVICE_NAME",
        "MICTLANX_ROUTER_OPENTELEMETRY",
        "MICTLANX_JAEGER_ENDPOINT",
        "MICTLANX_ZIPKIN_ENDPOINT",
        "MICTLANX_ROUTER_DEBUG",
        "MICTLANX_ROUTER_LOG_LEVEL",
        "MICTLANX_ROUTER_LOG_SHOW",
        "MICTLANX_ROUTER_LOG_TO_FILE",
        "MICTLANX_ROUTER_LOG_ERROR_FILE",
        "MICTLANX_ROUTER_LOG_PATH",
        "MICTLANX_ROUTER_LOG_NAME",
        "MICTLANX_ROUTER_LOG_WHEN",
        "MICTLANX_ROUTER_LOG_INTERVAL",
        "MICTLANX_ROUTER_LOG_ROTATION_WHEN",
        "MICTLANX_ROUTER_LOG_ROTATION_INTERVAL",
        // §2.3
        "MICTLANX_ROUTER_CONNECT_TIMEOUT",
        "MICTLANX_ROUTER_IDLE_TIMEOUT",
        "MICTLANX_ROUTER_PEER_TIMEOUT",
        "MICTLANX_ROUTER_FANOUT_CONCURRENCY",
        "MICTLANX_ROUTER_HEALTH_INTERVAL",
        "MICTLANX_ROUTER_HEALTH_TIMEOUT",
        "MICTLANX_ROUTER_ERROR_THRESHOLD",
        "MICTLANX_ROUTER_ERROR_COOLDOWN",
        "MICTLANX_ROUTER_TASK_TTL",
        "MICTLANX_ROUTER_REBUILD_INTERVAL",
        "MICTLANX_ROUTER_REBUILD_PAGE_SIZE",
        "MICTLANX_ROUTER_FULL_PASS_EVERY",
        "MICTLANX_CACHE_MAX_OBJECT_SIZE",
        "MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE",
        "MICTLANX_ROUTER_STATE_DIR",
        "MICTLANX_ROUTER_TLS_CERT",
        "MICTLANX_ROUTER_TLS_KEY",
        "MICTLANX_ROUTER_PEER_TLS_CA",
        "MICTLANX_ROUTER_LOG_FORMAT",
        "MICTLANX_ROUTER_SHUTDOWN_TIMEOUT",
        // shared state (several routers) and healing
        "MICTLANX_ROUTER_STATE_BACKEND",
        "MICTLANX_ROUTER_REDIS_URL",
        "MICTLANX_ROUTER_REDIS_PREFIX",
        "MICTLANX_ROUTER_STATE_TIMEOUT",
        "MICTLANX_ROUTER_CLAIM_LEASE",
        "MICTLANX_ROUTER_REPAIR_DELAY",
        "MICTLANX_ROUTER_REPAIR_INTERVAL",
        "MICTLANX_ROUTER_REPAIR_CONCURRENCY",
        "MICTLANX_ROUTER_REPAIR_BANDWIDTH",
        "MICTLANX_ROUTER_FANOUT_DEADLINE",
        // security
        "MICTLANX_ROUTER_ADMIN_TOKEN",
        "MICTLANX_ROUTER_ADMIN_TOKEN_FILE",
        "MICTLANX_ROUTER_PEER_ALLOWLIST",
        "MICTLANX_ROUTER_PEER_TOKEN",
        "MICTLANX_ROUTER_PEER_TOKEN_FILE",
        "MICTLANX_ROUTER_HEADER_TIMEOUT",
        "MICTLANX_ROUTER_MAX_CONNECTIONS",
        "MICTLANX_ROUTER_MAX_OBJECT_SIZE",
        // tail latency
        "MICTLANX_ROUTER_HEDGE_DELAY_MAX",
        "MICTLANX_ROUTER_HEDGE_DELAY_MIN",
        "MICTLANX_ROUTER_READ_STALL_TIMEOUT",
        "MICTLANX_ROUTER_STRAGGLER_TIMEOUT",
        "MICTLANX_ROUTER_WRITE_QUORUM",
        // performance
        "MICTLANX_ROUTER_WORKER_THREADS",
        // S3 facade
        "MICTLANX_S3_PORT",
        "MICTLANX_S3_ACCESS_KEY",
        "MICTLANX_S3_ACCESS_KEY_FILE",
        "MICTLANX_S3_SECRET_KEY",
        "MICTLANX_S3_SECRET_KEY_FILE",
        "MICTLANX_S3_CREDENTIALS_FILE",
        "MICTLANX_S3_ANONYMOUS",
        "MICTLANX_S3_DOMAIN",
        "MICTLANX_S3_REPLICATION_FACTOR",
        "MICTLANX_S3_REDUCED_REPLICATION_FACTOR",
        "MICTLANX_S3_UPLOAD_EXPIRY",
    ],
    no_effect: [
        "MICTLANX_DAEMON_HOSTNAME",
        "MICTLANX_DAEMON_PORT",
        "MICTLANX_DAEMON_PROTOCOL",
        "MICTLANX_TIMEOUT",
        "MAX_WORKERS",
        "MICTLANX_MAX_WORKERS",
        "LOG_PATH",
        "MICTLANX_DEBUG",
        "MICTLANX_ROUTER_MAX_PEERS",
        "MICTLANX_ROUTER_MAX_TTL",
        "MICTLANX_ROUTER_AVAILABLE_NODES",
        "MICTLANX_ROUTER_SHOW_REPLICATOR_LOGS",
        "MICTLANX_ROUTER_MAX_TRIES",
        "MICTLANX_ROUTER_MAX_TASKS",
        "MICTLANX_ROUTER_MAX_CONCURRENCY",
        "MICTLANX_ROUTER_REPLICATOR_QUEUE_MAXSIZE",
        "MICTLANX_ROUTER_SYNC_FAST",
        "MICTLANX_ROUTER_NETWORK_ID",
        "MICTLANX_ROUTER_MAX_PEERS_RF",
        "MICTLANX_SUMMONER_IP_ADDR",
        "MICTLANX_SUMMONER_PORT",
        "MICTLANX_SUMMONER_API_VERSION",
        "MICTLANX_SUMMONER_MODE",
        "MICTLANX_SUMMONER_SUBNET",
        "MICTLANX_ROUTER_PROFILER",
        "MICTLANX_ROUTER_PROFILER_OUTPUT_DIR",
        "MICTLANX_ROUTER_PROFILER_ENABLE_BY_DEFAULT",
        "MICTLANX_ROUTER_MEMORY_PROFILER",
        "MICTLANX_ROUTER_MEMORY_PROFILER_OUTPUT_DIR",
        "MICTLANX_ROUTER_MEMORY_PROFILER_ENABLE_BY_DEFAULT",
        "MICTLANX_ROUTER_MEMORY_PROFILER_REPORT_ARGS",
        "MICTLANX_ROUTER_DOCKER_IMAGE",
        "GITHUB_ACTIONS",
    ],
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::env::{upper_name, RawEnv};
    use super::*;

    #[test]
    fn known_variables_cover_the_env_struct_and_the_no_effect_list() {
        let known: BTreeSet<&str> = KNOWN_VARIABLES.iter().copied().collect();
        assert_eq!(known.len(), KNOWN_VARIABLES.len(), "no duplicates");
        let fields = serde_json::to_value(RawEnv::default()).expect("serialise");
        let effect: BTreeSet<&str> = fields
            .as_object()
            .expect("object")
            .keys()
            .map(|f| upper_name(f))
            .collect();
        assert!(
            !effect.contains("UNKNOWN_VARIABLE"),
            "every RawEnv field is a known variable"
        );
        let no_effect: BTreeSet<&str> = NO_EFFECT_VARIABLES.iter().copied().collect();
        assert!(effect.is_disjoint(&no_effect));
        let mut union: BTreeSet<&str> = effect.union(&no_effect).copied().collect();
        union.insert("ENV_FILE_PATH");
        assert_eq!(union, known);
        // 110 + MICTLANX_ROUTER_WORKER_THREADS + MICTLANX_ZIPKIN_ENDPOINT + eleven MICTLANX_S3_*
        // + MICTLANX_ROUTER_FULL_PASS_EVERY
        assert_eq!(KNOWN_VARIABLES.len(), 124);
    }
}
