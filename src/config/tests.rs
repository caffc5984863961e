//! Tests of `Config::from_vars` / `from_vars_with_dotenv` against `docs/config.md` (explicit maps, never the process env).

use std::io::Write;

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_vars(vars(pairs)).expect("valid configuration")
}

fn error(pairs: &[(&str, &str)]) -> String {
    Config::from_vars(vars(pairs))
        .expect_err("invalid configuration")
        .to_string()
}

fn peer(id: &str, port: u16) -> PeerInfo {
    PeerInfo {
        peer_id: id.into(),
        ip_addr: "localhost".into(),
        port,
        protocol: "http".into(),
        api_version: 4,
    }
}

#[test]
fn defaults_equal_config_md() {
    let mut want = Config::for_tests(PathBuf::from("./mictlanx-router-state"));
    want.server.host = "0.0.0.0".into();
    want.server.port = 60666;
    want.seed_peers = vec![
        peer("mictlanx-peer-0", 24000),
        peer("mictlanx-peer-1", 24001),
    ];
    want.telemetry.otel_enabled = true;
    want.telemetry.log_to_file = true;
    want.telemetry.log_error_file = true;
    assert_eq!(config(&[]), want);
    // Spot checks that do not depend on `for_tests`.
    let c = config(&[]);
    assert_eq!(c.server.prefix.as_deref(), Some("/mictlanx"));
    assert_eq!(c.cache.capacity_bytes, 1_000_000_000);
    assert_eq!(c.cache.max_object_size, 125_000_000);
    assert_eq!(c.cache.policy, CachePolicy::Lru);
    assert_eq!(c.telemetry.rotation, Rotation::Daily);
    assert_eq!(c.telemetry.log_level, "info");
    assert_eq!(c.replica.health_interval, Duration::from_secs(5));
    assert_eq!(c.replica.rebuild_interval, Duration::from_secs(300));
    assert_eq!(c.replica.task_ttl, Duration::from_secs(3600));
    assert!(c.ignored_variables.is_empty());
}

#[test]
fn typed_values_are_read() {
    let c = config(&[
        ("MICTLANX_ROUTER_HOST", "127.0.0.1"),
        ("MICTLANX_ROUTER_PORT", "0"),
        ("MICTLANX_TEST", "TRUE"),
        ("MICTLANX_CACHE", "0"),
        ("MICTLANX_CACHE_CAPACITY", "0"),
        ("MICTLANX_CACHE_CAPACITY_STORAGE", "512MiB"),
        ("MICTLANX_CACHE_EVICTION_POLICY", "lfu"),
        ("MICTLANX_CORS_ALLOW_ORIGINS", "http://a, http://b,,"),
        ("MICTLANX_CORS_ALLOW_CREDENTILAS", "false"),
        ("MICTLANX_OPEN_API_TITLE", "T"),
        ("MICTLANX_ROUTER_FANOUT_CONCURRENCY", "4"),
        ("MICTLANX_ROUTER_CONNECT_TIMEOUT", "500ms"),
        ("MICTLANX_ROUTER_HEALTH_INTERVAL", "100ms"),
        ("MICTLANX_ROUTER_REBUILD_INTERVAL", "0"),
        ("MICTLANX_ROUTER_SHUTDOWN_TIMEOUT", "0s"),
        ("MICTLANX_ROUTER_ERROR_THRESHOLD", "1"),
        ("MICTLANX_ROUTER_REBUILD_PAGE_SIZE", "10"),
        ("MICTLANX_ROUTER_FULL_PASS_EVERY", "0"),
        ("MICTLANX_ROUTER_STATE_DIR", "/tmp/state"),
        ("MICTLANX_ROUTER_LOG_FORMAT", "json"),
        ("MICTLANX_ROUTER_PEER_TLS_CA", "/ca.pem"),
        ("MICTLANX_JAEGER_ENDPOINT", "http://jaeger:4318/"),
    ]);
    assert_eq!((c.server.host.as_str(), c.server.port), ("127.0.0.1", 0));
    assert!(c.test_mode);
    assert!(!c.cache.enabled);
    assert_eq!(
        (c.cache.capacity_entries, c.cache.capacity_bytes),
        (0, 512 << 20)
    );
    assert_eq!(c.cache.max_object_size, 64 << 20);
    assert_eq!(c.cache.policy, CachePolicy::Lfu);
    assert_eq!(c.cors.allow_origins, vec!["http://a", "http://b"]);
    assert!(!c.cors.allow_credentials);
    assert_eq!(c.openapi.title, "T");
    assert_eq!(c.peer_io.fanout_concurrency, 4);
    assert_eq!(c.peer_io.connect_timeout, Duration::from_millis(500));
    assert_eq!(c.peer_io.peer_tls_ca, Some(PathBuf::from("/ca.pem")));
    assert_eq!(c.replica.health_interval, Duration::from_millis(100));
    assert_eq!(c.replica.rebuild_interval, Duration::ZERO);
    assert_eq!(c.server.shutdown_timeout, Duration::ZERO);
    assert_eq!(
        (c.replica.error_threshold, c.replica.rebuild_page_size),
        (1, 10)
    );
    assert_eq!(c.replica.full_pass_every, 0);
    assert_eq!(c.replica.state_dir, PathBuf::from("/tmp/state"));
    assert_eq!(c.telemetry.log_format, LogFormat::Json);
    assert_eq!(c.telemetry.otlp_endpoint, "http://jaeger:4318");
}

#[test]
fn invalid_values_name_the_variable_in_one_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "MICTLANX_CACHE_CAPACITY_STORAGE",
            "12xx",
            "expected a size such as 1GB or 512MiB",
        ),
        (
            "MICTLANX_ROUTER_PORT",
            "65536",
            "expected an integer between 0 and 65535",
        ),
        (
            "MICTLANX_ROUTER_PORT",
            "http",
            "expected an integer between 0 and 65535",
        ),
        ("MICTLANX_CACHE", "yes", "expected 0, 1, true or false"),
        ("MICTLANX_CACHE_CAPACITY", "-1", "expected an integer >= 0"),
        (
            "MICTLANX_CACHE_EVICTION_POLICY",
            "FIFO",
            "expected one of LRU, LFU, LRU_SM",
        ),
        (
            "MICTLANX_ROUTER_HEALTH_INTERVAL",
            "50ms",
            "expected a time span >= 100ms such as 500ms, 5s or 1m",
        ),
        (
            "MICTLANX_ROUTER_CONNECT_TIMEOUT",
            "0",
            "expected a time span > 0 such as 500ms, 5s, 10m or 1h",
        ),
        (
            "MICTLANX_ROUTER_TASK_TTL",
            "2 hrs",
            "expected a time span > 0 such as 500ms, 5s, 10m or 1h",
        ),
        (
            "MICTLANX_ROUTER_FANOUT_CONCURRENCY",
            "0",
            "expected an integer >= 1",
        ),
        (
            "MICTLANX_ROUTER_ERROR_THRESHOLD",
            "1.5",
            "expected an integer >= 1",
        ),
        (
            "MICTLANX_ROUTER_LOG_LEVEL",
            "loud",
            "expected one of TRACE, DEBUG, INFO, WARN, ERROR",
        ),
        ("MICTLANX_ROUTER_LOG_FORMAT", "xml", "expected text or json"),
        (
            "MICTLANX_ROUTER_LOG_INTERVAL",
            "daily",
            "expected an integer",
        ),
        ("MICTLANX_API_VERSION", "v4", "expected an integer >= 0"),
        (
            "MICTLANX_CACHE_MAX_OBJECT_SIZE",
            "big",
            "expected a size such as 1GB or 512MiB",
        ),
        (
            "MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE",
            "big",
            "expected a size such as 1GB or 512MiB",
        ),
        (
            "MICTLANX_JAEGER_ENDPOINT",
            "localhost:4318",
            "expected an http(s) URL such as http://localhost:4318",
        ),
        (
            "MICTLANX_ZIPKIN_ENDPOINT",
            "zipkin:9411",
            "expected an http(s) URL such as http://localhost:9411",
        ),
        (
            "MICTLANX_ZIPKIN_ENDPOINT",
            "http://",
            "expected an http(s) URL such as http://localhost:9411",
        ),
        (
            "MICTLANX_ROUTER_REBUILD_INTERVAL",
            "-1s",
            "expected a time span such as 0, 500ms, 5s, 10m or 1h",
        ),
    ];
    for (name, value, expected) in cases {
        assert_eq!(
            error(&[(name, value)]),
            format!("invalid {name}='{value}': {expected}")
        );
    }
    let multi_line = error(&[("MICTLANX_ROUTER_PORT", "1\n2")]);
    assert_eq!(
        multi_line,
        "invalid MICTLANX_ROUTER_PORT='1\\n2': expected an integer between 0 and 65535"
    );
    assert_eq!(multi_line.lines().count(), 1);
}

#[test]
fn zipkin_endpoint_and_debug() {
    let c = config(&[]);
    assert_eq!(
        c.telemetry.zipkin_endpoint, None,
        "unset = no Zipkin export"
    );
    assert!(!c.telemetry.debug);
    let zipkin = |raw: &str| {
        config(&[("MICTLANX_ZIPKIN_ENDPOINT", raw)])
            .telemetry
            .zipkin_endpoint
    };
    assert_eq!(zipkin(" "), None, "empty = unset");
    // The original's bare form gains the collector path; any other path is used as given.
    for (raw, want) in [
        (
            "http://localhost:9411",
            "http://localhost:9411/api/v2/spans",
        ),
        ("http://zipkin:9411/", "http://zipkin:9411/api/v2/spans"),
        (
            "https://z.example/api/v2/spans",
            "https://z.example/api/v2/spans",
        ),
        (
            "http://proxy/zipkin/api/v2/spans",
            "http://proxy/zipkin/api/v2/spans",
        ),
    ] {
        assert_eq!(zipkin(raw).as_deref(), Some(want), "{raw}");
    }
    let c = config(&[("MICTLANX_ROUTER_DEBUG", "1")]);
    assert!(c.telemetry.debug);
    assert_eq!(c.telemetry.log_level, "debug");
}

#[test]
fn peers_uri_and_its_default() {
    let c = config(&[(
        "MICTLANX_PEERS_URI",
        "mictlanx://a@h1:1,b@h2:2/?protocol=https&api_version=3",
    )]);
    let ids: Vec<&str> = c.seed_peers.iter().map(|p| p.peer_id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(c
        .seed_peers
        .iter()
        .all(|p| p.protocol == "https" && p.api_version == 3));
    let c = config(&[
        ("MICTLANX_PROCOTOL", "https"),
        ("MICTLANX_API_VERSION", "3"),
    ]);
    assert_eq!(c.seed_peers.len(), 2);
    assert_eq!(c.seed_peers[1].base_url(false), "https://localhost:24001");
    assert_eq!(c.seed_peers[1].api_version, 3);
    // The default-only variables do not change an explicit URI.
    let c = config(&[
        ("MICTLANX_PEERS_URI", "mictlanx://p@h:9"),
        ("MICTLANX_PROCOTOL", "https"),
    ]);
    assert_eq!(c.seed_peers[0].protocol, "http");
    let line = error(&[("MICTLANX_PEERS_URI", "mictlanx://a@h:abc")]);
    assert!(
        line.starts_with(
            "invalid MICTLANX_PEERS_URI='mictlanx://a@h:abc': expected a mictlanx:// URI"
        ),
        "{line}"
    );
    assert!(line.ends_with("(Invalid port number: abc)"), "{line}");
    assert!(error(&[("MICTLANX_PEERS_URI", "http://a@h:1")])
        .starts_with("invalid MICTLANX_PEERS_URI='http://a@h:1'"));
    assert!(error(&[("MICTLANX_PROCOTOL", "x&api_version=y")])
        .starts_with("invalid MICTLANX_PROCOTOL='x&api_version=y'"));
}

#[test]
fn log_level_debug_flag_and_rotation() {
    assert_eq!(
        config(&[("MICTLANX_ROUTER_LOG_LEVEL", "warning")])
            .telemetry
            .log_level,
        "warn"
    );
    assert_eq!(
        config(&[
            ("MICTLANX_ROUTER_LOG_LEVEL", "ERROR"),
            ("MICTLANX_ROUTER_DEBUG", "1")
        ])
        .telemetry
        .log_level,
        "debug"
    );
    assert_eq!(
        config(&[
            ("MICTLANX_ROUTER_LOG_LEVEL", "trace"),
            ("MICTLANX_ROUTER_DEBUG", "0")
        ])
        .telemetry
        .log_level,
        "trace"
    );
    let rotation = |pairs: &[(&str, &str)]| config(pairs).telemetry.rotation;
    assert_eq!(
        rotation(&[("MICTLANX_ROUTER_LOG_INTERVAL", "1")]),
        Rotation::Hourly
    );
    assert_eq!(
        rotation(&[
            ("MICTLANX_ROUTER_LOG_WHEN", "m"),
            ("MICTLANX_ROUTER_LOG_INTERVAL", "5")
        ]),
        Rotation::Minutely
    );
    assert_eq!(
        rotation(&[
            ("MICTLANX_ROUTER_LOG_WHEN", "m"),
            ("MICTLANX_ROUTER_LOG_ROTATION_WHEN", "h")
        ]),
        Rotation::Daily,
        "ROTATION_WHEN overrides WHEN; the interval stays 24"
    );
    assert_eq!(
        rotation(&[
            ("MICTLANX_ROUTER_LOG_INTERVAL", "24"),
            ("MICTLANX_ROUTER_LOG_ROTATION_INTERVAL", "2")
        ]),
        Rotation::Hourly
    );
    assert!(error(&[("MICTLANX_ROUTER_LOG_ROTATION_INTERVAL", "x")])
        .starts_with("invalid MICTLANX_ROUTER_LOG_ROTATION_INTERVAL='x'"));
}

#[test]
fn cache_max_object_size_alias_and_clamp() {
    let max = |pairs: &[(&str, &str)]| config(pairs).cache.max_object_size;
    assert_eq!(
        max(&[("MICTLANX_CACHE_CAPACITY_STORAGE", "80mb")]),
        10_000_000
    );
    assert_eq!(
        max(&[("MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE", "1mb")]),
        1_000_000
    );
    assert_eq!(
        max(&[
            ("MICTLANX_CACHE_MAX_OBJECT_SIZE", "2mb"),
            ("MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE", "1mb")
        ]),
        2_000_000
    );
    assert_eq!(
        max(&[
            ("MICTLANX_CACHE_CAPACITY_STORAGE", "1mb"),
            ("MICTLANX_CACHE_MAX_OBJECT_SIZE", "5mb")
        ]),
        1_000_000
    );
}

#[test]
fn tls_needs_both_files() {
    let c = config(&[
        ("MICTLANX_ROUTER_TLS_CERT", "/c.pem"),
        ("MICTLANX_ROUTER_TLS_KEY", "/k.pem"),
    ]);
    assert_eq!(
        c.server.tls,
        Some(TlsFiles {
            cert: "/c.pem".into(),
            key: "/k.pem".into()
        })
    );
    assert_eq!(
        error(&[("MICTLANX_ROUTER_TLS_CERT", "/c.pem")]),
        "invalid MICTLANX_ROUTER_TLS_CERT='/c.pem': MICTLANX_ROUTER_TLS_KEY must be set too (set both or neither)"
    );
    assert_eq!(
        error(&[("MICTLANX_ROUTER_TLS_KEY", "/k.pem"), ("MICTLANX_ROUTER_TLS_CERT", "")]),
        "invalid MICTLANX_ROUTER_TLS_KEY='/k.pem': MICTLANX_ROUTER_TLS_CERT must be set too (set both or neither)"
    );
}

#[test]
fn openapi_prefix_is_normalised() {
    let prefix = |v: &str| config(&[("OPENAPI_PREFIX", v)]).server.prefix;
    assert_eq!(prefix(""), None);
    assert_eq!(prefix("/"), None);
    assert_eq!(prefix("api/"), Some("/api".into()));
    assert_eq!(prefix("/mictlanx/"), Some("/mictlanx".into()));
}

#[test]
fn no_effect_variables_are_never_rejected() {
    let c = config(&[
        ("MICTLANX_TIMEOUT", "forever"),
        ("MAX_WORKERS", "many"),
        ("MICTLANX_SUMMONER_SUBNET", "not a subnet"),
        ("GITHUB_ACTIONS", "true"),
        ("PATH", "/usr/bin"),
    ]);
    assert_eq!(
        c.ignored_variables,
        vec![
            "GITHUB_ACTIONS",
            "MAX_WORKERS",
            "MICTLANX_SUMMONER_SUBNET",
            "MICTLANX_TIMEOUT"
        ]
    );
}

#[test]
fn first_occurrence_wins_and_names_are_case_sensitive() {
    let c = config(&[
        ("MICTLANX_ROUTER_PORT", "1"),
        ("MICTLANX_ROUTER_PORT", "2"),
        ("mictlanx_router_port", "bad"),
    ]);
    assert_eq!(c.server.port, 1);
}

fn dotenv_file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(contents.as_bytes()).expect("write dotenv");
    file
}

#[test]
fn dotenv_fills_but_never_overrides() {
    let file = dotenv_file(
        "MICTLANX_ROUTER_PORT=7000\nMICTLANX_ROUTER_HOST=10.0.0.1\n# comment\nMICTLANX_CACHE=0\n",
    );
    let path = file.path().to_str().expect("utf-8 temp path");
    let env = vars(&[
        ("ENV_FILE_PATH", path),
        ("MICTLANX_ROUTER_PORT", "8000"),
        ("MICTLANX_CACHE", "1"),
    ]);
    let c = Config::from_vars_with_dotenv(env).expect("valid");
    assert_eq!(c.server.port, 8000, "the environment wins");
    assert_eq!(
        c.server.host, "10.0.0.1",
        "the dotenv file fills unset variables"
    );
    assert!(c.cache.enabled);
}

#[test]
fn dotenv_values_are_validated_and_missing_file_is_fine() {
    let file = dotenv_file("MICTLANX_CACHE_CAPACITY_STORAGE=12xx\n");
    let path = file.path().to_str().expect("utf-8 temp path");
    let err = Config::from_vars_with_dotenv(vars(&[("ENV_FILE_PATH", path)])).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "invalid MICTLANX_CACHE_CAPACITY_STORAGE='12xx': expected a size such as 1GB or 512MiB"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("absent.env");
    let env = vars(&[
        ("ENV_FILE_PATH", missing.to_str().expect("utf-8")),
        ("MICTLANX_ROUTER_PORT", "1"),
    ]);
    assert_eq!(
        Config::from_vars_with_dotenv(env)
            .expect("missing file is fine")
            .server
            .port,
        1
    );

    let broken = dotenv_file("THIS IS NOT A LINE\n");
    let path = broken.path().to_str().expect("utf-8 temp path");
    let line = Config::from_vars_with_dotenv(vars(&[("ENV_FILE_PATH", path)]))
        .expect_err("malformed")
        .to_string();
    assert!(
        line.starts_with(&format!(
            "invalid ENV_FILE_PATH='{path}': cannot load the dotenv file"
        )),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1);
}

#[test]
fn the_example_env_file_lists_every_variable_with_the_defaults() {
    let example = include_str!("../../config/router.env.example");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/router.env.example");
    let c = Config::from_vars_with_dotenv(vars(&[("ENV_FILE_PATH", path)]))
        .expect("the example is valid");
    assert_eq!(c, config(&[]), "every active line carries the default");
    for name in KNOWN_VARIABLES {
        let listed = example.lines().any(|line| {
            let line = line.trim_start_matches(['#', ' ']);
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('='))
        });
        assert!(listed, "{name} is missing from config/router.env.example");
    }
    for name in NO_EFFECT_VARIABLES {
        let line = example
            .lines()
            .find(|l| l.starts_with(&format!("# {name}=")))
            .expect("listed");
        assert!(line.contains("(no effect"), "{line}");
    }
}

// security
#[test]
fn security_variables_are_read() {
    let c = config(&[]);
    assert_eq!(c.security, SecurityConfig::default());
    assert_eq!(c.security.header_timeout, Duration::from_secs(10));
    assert_eq!(c.security.max_connections, 4096);
    assert_eq!(c.security.max_object_size, 0);
    assert!(c.peer_io.peer_token.is_none());

    let token_file = dotenv_file("  peer-secret\n");
    let c = config(&[
        ("MICTLANX_ROUTER_ADMIN_TOKEN", "admin-secret"),
        (
            "MICTLANX_ROUTER_PEER_TOKEN_FILE",
            token_file.path().to_str().unwrap(),
        ),
        ("MICTLANX_ROUTER_PEER_ALLOWLIST", "peer-0, 10.0.0.0/8"),
        ("MICTLANX_ROUTER_HEADER_TIMEOUT", "2s"),
        ("MICTLANX_ROUTER_MAX_CONNECTIONS", "10"),
        ("MICTLANX_ROUTER_MAX_OBJECT_SIZE", "1MiB"),
    ]);
    assert_eq!(
        c.security.admin_token.as_ref().map(|t| t.expose()),
        Some("admin-secret")
    );
    assert_eq!(
        c.peer_io.peer_token.as_ref().map(|t| t.expose()),
        Some("peer-secret")
    );
    let allow = c.security.peer_allowlist.as_ref().expect("allowlist");
    assert!(allow.allows("peer-0") && allow.allows("10.2.3.4") && !allow.allows("peer-1"));
    assert_eq!(c.security.header_timeout, Duration::from_secs(2));
    assert_eq!(c.security.max_connections, 10);
    assert_eq!(c.security.max_object_size, 1024 * 1024);
    let debug = format!("{c:?}");
    assert!(!debug.contains("admin-secret") && !debug.contains("peer-secret"));

    assert_eq!(
        error(&[
            ("MICTLANX_ROUTER_ADMIN_TOKEN", "a"),
            ("MICTLANX_ROUTER_ADMIN_TOKEN_FILE", "/x")
        ]),
        "invalid MICTLANX_ROUTER_ADMIN_TOKEN_FILE='/x': MICTLANX_ROUTER_ADMIN_TOKEN is set too (set one or the other)"
    );
    assert_eq!(
        error(&[("MICTLANX_ROUTER_PEER_TOKEN", "has space")]),
        "invalid MICTLANX_ROUTER_PEER_TOKEN='<hidden>': expected a token of visible ASCII characters without spaces"
    );
    assert_eq!(
        error(&[("MICTLANX_ROUTER_MAX_CONNECTIONS", "0")]),
        "invalid MICTLANX_ROUTER_MAX_CONNECTIONS='0': expected an integer >= 1"
    );
    assert_eq!(
        error(&[("MICTLANX_ROUTER_MAX_OBJECT_SIZE", "big")]),
        "invalid MICTLANX_ROUTER_MAX_OBJECT_SIZE='big': expected a size such as 1GB or 512MiB"
    );
    assert!(error(&[("MICTLANX_ROUTER_HEADER_TIMEOUT", "0")])
        .starts_with("invalid MICTLANX_ROUTER_HEADER_TIMEOUT='0'"));
    assert!(error(&[("MICTLANX_ROUTER_PEER_ALLOWLIST", "a b")])
        .starts_with("invalid MICTLANX_ROUTER_PEER_ALLOWLIST='a b'"));
}

// tail latency
#[test]
fn tail_latency_variables_parse_and_validate() {
    let d = config(&[]).tail;
    assert_eq!(d.hedge_delay_max, Duration::from_millis(500));
    assert_eq!(d.hedge_delay_min, Duration::from_millis(20));
    assert_eq!(d.read_stall_timeout, Duration::from_secs(1));
    assert_eq!(d.straggler_timeout, Duration::from_secs(2));
    assert_eq!(d.write_quorum, WriteQuorum::One);

    let c = config(&[
        ("MICTLANX_ROUTER_HEDGE_DELAY_MAX", "0"),
        ("MICTLANX_ROUTER_READ_STALL_TIMEOUT", "0"),
        ("MICTLANX_ROUTER_STRAGGLER_TIMEOUT", "750ms"),
        ("MICTLANX_ROUTER_WRITE_QUORUM", "Majority"),
    ])
    .tail;
    assert!(c.hedge_delay_max.is_zero() && c.read_stall_timeout.is_zero());
    assert_eq!(c.straggler_timeout, Duration::from_millis(750));
    assert_eq!(c.write_quorum, WriteQuorum::Majority);
    assert_eq!(
        config(&[("MICTLANX_ROUTER_WRITE_QUORUM", "all")])
            .tail
            .write_quorum,
        WriteQuorum::All
    );
    // a lower ceiling pulls the default floor down with it
    let low = config(&[("MICTLANX_ROUTER_HEDGE_DELAY_MAX", "5ms")]).tail;
    assert_eq!(low.hedge_delay_min, Duration::from_millis(5));

    assert_eq!(
        error(&[("MICTLANX_ROUTER_WRITE_QUORUM", "2")]),
        "invalid MICTLANX_ROUTER_WRITE_QUORUM='2': expected 1, majority or all"
    );
    assert_eq!(
        error(&[
            ("MICTLANX_ROUTER_HEDGE_DELAY_MAX", "100ms"),
            ("MICTLANX_ROUTER_HEDGE_DELAY_MIN", "200ms"),
        ]),
        "invalid MICTLANX_ROUTER_HEDGE_DELAY_MIN='200ms': expected a time span <= \
         MICTLANX_ROUTER_HEDGE_DELAY_MAX (100ms)"
    );
    for name in [
        "MICTLANX_ROUTER_HEDGE_DELAY_MAX",
        "MICTLANX_ROUTER_READ_STALL_TIMEOUT",
        "MICTLANX_ROUTER_STRAGGLER_TIMEOUT",
    ] {
        let line = error(&[(name, "soon")]);
        assert!(
            line.starts_with(&format!("invalid {name}='soon'")),
            "{line}"
        );
    }
    assert!(error(&[("MICTLANX_ROUTER_STRAGGLER_TIMEOUT", "0")])
        .starts_with("invalid MICTLANX_ROUTER_STRAGGLER_TIMEOUT='0'"));
}

#[test]
fn write_quorum_counts() {
    for (q, n, want) in [
        (WriteQuorum::One, 3, 1),
        (WriteQuorum::Majority, 1, 1),
        (WriteQuorum::Majority, 2, 2),
        (WriteQuorum::Majority, 3, 2),
        (WriteQuorum::Majority, 4, 3),
        (WriteQuorum::All, 3, 3),
        (WriteQuorum::All, 0, 1),
    ] {
        assert_eq!(q.required(n), want, "{q:?} of {n}");
    }
}

// performance
#[test]
fn worker_threads_default_to_one_per_core_and_are_validated() {
    assert_eq!(config(&[]).server.worker_threads, 0);
    assert_eq!(
        config(&[("MICTLANX_ROUTER_WORKER_THREADS", "1")])
            .server
            .worker_threads,
        1
    );
    for bad in ["-1", "two", "1025"] {
        assert_eq!(
            error(&[("MICTLANX_ROUTER_WORKER_THREADS", bad)]),
            format!("invalid MICTLANX_ROUTER_WORKER_THREADS='{bad}': expected an integer between 0 and 1024")
        );
    }
}

#[test]
fn a_redis_cluster_backend_takes_a_list_of_seed_nodes() {
    let cfg = config(&[
        ("MICTLANX_ROUTER_STATE_BACKEND", "redis-cluster"),
        (
            "MICTLANX_ROUTER_REDIS_URL",
            "redis://10.0.0.1:6379, redis://10.0.0.2:6379",
        ),
    ]);
    assert_eq!(
        cfg.replica.backend,
        StateBackend::RedisCluster {
            seeds: vec![
                "redis://10.0.0.1:6379".into(),
                "redis://10.0.0.2:6379".into()
            ],
            prefix: "mictlanx".into(),
        }
    );
    let e = error(&[
        ("MICTLANX_ROUTER_STATE_BACKEND", "redis-cluster"),
        (
            "MICTLANX_ROUTER_REDIS_URL",
            "redis://10.0.0.1:6379,http://x",
        ),
    ]);
    assert!(e.contains("MICTLANX_ROUTER_REDIS_URL"), "{e}");
}
