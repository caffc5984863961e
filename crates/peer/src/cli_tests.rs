//! Unit tests of the `mictlanx-peer` command line: flags into config, defaults, and the variable named by
//! every rejected value.

use super::*;

fn args(list: &[&str]) -> PeerArgs {
    PeerArgs::try_parse_from(std::iter::once("mictlanx-peer").chain(list.iter().copied())).unwrap()
}

#[test]
fn flags_parse_into_config() {
    let c = args(&[
        "--node-id",
        "p7",
        "--port",
        "0",
        "--capacity",
        "10GB",
        "--base-path",
        "/x",
        "--task-ttl",
        "5m",
    ])
    .into_config()
    .unwrap();
    assert_eq!(
        (c.node_id.as_str(), c.port, c.disk_capacity),
        ("p7", 0, 10_000_000_000)
    );
    assert_eq!(c.data_path, PathBuf::from("/x/data"));
    assert_eq!(c.task_ttl.as_secs(), 300);
    let c = args(&[
        "--disk-capacity",
        "1KiB",
        "--peers",
        "http://a:1  http://b:2",
        "--traverse-and-clean",
        "FALSE",
    ])
    .into_config()
    .unwrap();
    assert_eq!(c.disk_capacity, 1024);
    assert_eq!(c.peers, ["http://a:1", "http://b:2"]);
    assert!(!c.traverse_and_clean);
}

#[test]
fn token_from_the_variable_or_a_file_but_not_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "  from-file\n").unwrap();
    let f = file.to_str().unwrap();
    let c = args(&["--token-file", f, "--token-reads", "1"])
        .into_config()
        .unwrap();
    assert_eq!(c.token.unwrap().secret(), "from-file");
    assert!(c.token_reads);
    let c = args(&["--token", "abc"]).into_config().unwrap();
    assert_eq!((c.token.unwrap().secret(), c.token_reads), ("abc", false));
    assert!(args(&["--token", " "])
        .into_config()
        .unwrap()
        .token
        .is_none());
    let e = args(&["--token", "abc", "--token-file", f])
        .into_config()
        .unwrap_err();
    assert_eq!(e.var, "MICTLANX_PEER_TOKEN_FILE");
    let e = args(&["--token", "sec ret"]).into_config().unwrap_err();
    assert!(
        !e.to_string().contains("sec ret"),
        "the token is never echoed: {e}"
    );
    let missing = dir.path().join("missing");
    let e = args(&["--token-file", missing.to_str().unwrap()])
        .into_config()
        .unwrap_err();
    assert_eq!(e.var, "MICTLANX_PEER_TOKEN_FILE");
    std::fs::write(&file, "\n").unwrap();
    assert!(
        args(&["--token-file", f]).into_config().is_err(),
        "empty file"
    );
}

#[test]
fn header_timeout_defaults_to_ten_seconds_and_must_be_positive() {
    assert_eq!(
        args(&[]).into_config().unwrap().header_timeout.as_secs(),
        10
    );
    let c = args(&["--header-timeout", "250ms"]).into_config().unwrap();
    assert_eq!(c.header_timeout.as_millis(), 250);
    let e = args(&["--header-timeout", "0"]).into_config().unwrap_err();
    assert_eq!(e.var, "MICTLANX_PEER_HEADER_TIMEOUT");
    assert_eq!(
        args(&["--token-reads", "maybe"])
            .into_config()
            .unwrap_err()
            .var,
        "MICTLANX_PEER_TOKEN_READS"
    );
}

#[test]
fn scrubbing_is_off_by_default_and_its_bandwidth_positive() {
    let c = args(&[]).into_config().unwrap();
    assert_eq!(
        (c.scrub_interval, c.scrub_bandwidth),
        (std::time::Duration::ZERO, 50_000_000)
    );
    let c = args(&["--scrub-interval", "1h", "--scrub-bandwidth", "10MiB"])
        .into_config()
        .unwrap();
    assert_eq!(
        (c.scrub_interval.as_secs(), c.scrub_bandwidth),
        (3600, 10 * 1024 * 1024)
    );
    for (flag, value, var) in [
        ("--scrub-bandwidth", "0", "MICTLANX_PEER_SCRUB_BANDWIDTH"),
        ("--scrub-bandwidth", "fast", "MICTLANX_PEER_SCRUB_BANDWIDTH"),
        ("--scrub-interval", "daily", "MICTLANX_PEER_SCRUB_INTERVAL"),
    ] {
        assert_eq!(args(&[flag, value]).into_config().unwrap_err().var, var);
    }
}

#[test]
fn no_effect_settings_are_never_rejected() {
    let c = args(&["--memory-capacity", "lots"]).into_config().unwrap();
    assert_eq!(c.memory_capacity, 1_000_000_000);
}

#[test]
fn bad_values_name_the_variable() {
    let e = args(&["--disk-capacity", "12xx"])
        .into_config()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid NODE_DISK_CAPACITY='12xx': expected a size such as 1GB or 512MiB"
    );
    assert_eq!(
        args(&["--port", "70000"]).into_config().unwrap_err().var,
        "NODE_PORT"
    );
    assert_eq!(
        args(&["--log-format", "xml"])
            .into_config()
            .unwrap_err()
            .var,
        "MICTLANX_PEER_LOG_FORMAT"
    );
}
