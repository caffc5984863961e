//! Unit tests of the `mictlanx-bench` command line (flags, defaults, size and duration strings).

use std::time::Duration;

use clap::Parser;

use super::*;

fn parse(extra: &[&str]) -> Result<BenchArgs, clap::Error> {
    let mut argv = vec!["mictlanx-bench", "--url", "http://127.0.0.1:60666/"];
    argv.extend_from_slice(extra);
    BenchArgs::try_parse_from(argv)
}

#[test]
fn defaults_are_a_ten_second_router_get() {
    let a = parse(&[]).unwrap();
    assert_eq!(a.target, Target::Router);
    assert_eq!(a.op, Op::Get);
    assert_eq!(a.url, "http://127.0.0.1:60666", "trailing slash dropped");
    assert_eq!(a.size, 1024);
    assert_eq!(a.concurrency, 8);
    assert_eq!(a.rf, 1);
    assert_eq!(a.keys, 100);
    assert_eq!(a.bucket, "mictlanx-bench");
    assert!(!a.force_get && !a.json && !a.cleanup);
    assert_eq!(a.stop_rule(), StopRule::After(Duration::from_secs(10)));
}

#[test]
fn every_flag_is_read() {
    let a = parse(&[
        "--target",
        "peer",
        "--op",
        "get-metadata",
        "--size",
        "64MiB",
        "--concurrency",
        "32",
        "--rf",
        "3",
        "--duration",
        "500ms",
        "--keys",
        "7",
        "--bucket",
        "b_1-x",
        "--force-get",
        "--json",
        "--label",
        "row 1",
        "--cleanup",
        "--timeout",
        "1m",
        "--key-len",
        "64",
    ])
    .unwrap();
    assert_eq!(a.target, Target::Peer);
    assert_eq!(a.op, Op::GetMetadata);
    assert_eq!(a.size, 64 << 20);
    assert_eq!((a.concurrency, a.rf, a.keys), (32, 3, 7));
    assert_eq!(a.stop_rule(), StopRule::After(Duration::from_millis(500)));
    assert_eq!(a.bucket, "b_1-x");
    assert!(a.force_get && a.json && a.cleanup);
    assert_eq!(a.label, "row 1");
    assert_eq!(a.timeout, Duration::from_secs(60));
    assert_eq!(a.key_len, Some(64));
}

#[test]
fn key_length_is_bounded() {
    assert_eq!(parse(&[]).unwrap().key_len, None);
    assert!(parse(&["--key-len", "0"]).is_err());
    assert!(parse(&["--key-len", "1025"]).is_err());
}

#[test]
fn ops_count_replaces_the_duration_and_excludes_it() {
    let a = parse(&["--op", "put", "--ops", "40"]).unwrap();
    assert_eq!(a.stop_rule(), StopRule::Ops(40));
    assert!(parse(&["--ops", "40", "--duration", "5s"]).is_err());
    assert!(parse(&["--ops", "0"]).is_err());
}

#[test]
fn size_strings_follow_the_router_units() {
    let size = |s: &str| parse(&["--size", s]).map(|a| a.size).ok();
    assert_eq!(size("1KiB"), Some(1024));
    assert_eq!(size("10MiB"), Some(10 * 1024 * 1024));
    assert_eq!(size("1 gib"), Some(1 << 30));
    assert_eq!(size("10mb"), Some(10_000_000));
    assert_eq!(size("1k"), Some(1000));
    assert_eq!(size("1.5 kb"), Some(1500));
    assert_eq!(size("42"), Some(42));
    assert_eq!(size("5B"), Some(5));
    assert_eq!(size("0"), Some(0));
    for bad in ["", "abc", "kb", "1e3", "-5", ".5kb", "1 x", "1 2", "1,000"] {
        assert_eq!(size(bad), None, "{bad:?} must be refused");
    }
}

#[test]
fn durations_accept_units_and_refuse_zero() {
    let dur = |s: &str| parse(&["--duration", s]).map(|a| a.stop_rule()).ok();
    assert_eq!(dur("10s"), Some(StopRule::After(Duration::from_secs(10))));
    assert_eq!(dur("2"), Some(StopRule::After(Duration::from_secs(2))));
    assert_eq!(dur("1m"), Some(StopRule::After(Duration::from_secs(60))));
    assert_eq!(
        dur("250ms"),
        Some(StopRule::After(Duration::from_millis(250)))
    );
    for bad in ["0", "0s", "abc", "10 parsecs", ""] {
        assert_eq!(dur(bad), None, "{bad:?} must be refused");
    }
}

#[test]
fn urls_and_buckets_are_checked() {
    let url = |u: &str| BenchArgs::try_parse_from(["mictlanx-bench", "--url", u]).map(|a| a.url);
    assert_eq!(
        url("https://router.example:443").unwrap(),
        "https://router.example:443"
    );
    assert_eq!(url("http://h:1/prefix//").unwrap(), "http://h:1/prefix");
    for bad in [
        "127.0.0.1:60666",
        "ftp://h:1",
        "http://h:1/?x=1",
        "not a url",
    ] {
        assert!(url(bad).is_err(), "{bad:?} must be refused");
    }
    assert!(
        BenchArgs::try_parse_from(["mictlanx-bench"]).is_err(),
        "--url is required"
    );
    for bad in ["", "a--b", "-a", "a_", "a@b", "a b", "ñ"] {
        assert!(
            parse(&["--bucket", bad]).is_err(),
            "{bad:?} must be refused"
        );
    }
}

#[test]
fn bounds_are_enforced() {
    assert!(parse(&["--concurrency", "0"]).is_err());
    assert!(parse(&["--rf", "0"]).is_err());
    assert!(parse(&["--keys", "0"]).is_err());
    assert!(parse(&["--target", "cache"]).is_err());
    assert!(parse(&["--op", "delete"]).is_err());
}

#[test]
fn rate_is_optional_and_must_be_positive() {
    assert_eq!(parse(&[]).unwrap().rate, None);
    assert_eq!(parse(&["--rate", "2500"]).unwrap().rate, Some(2500.0));
    assert_eq!(parse(&["--rate", "0.5"]).unwrap().rate, Some(0.5));
    for bad in ["0", "-3", "fast", "inf", "NaN"] {
        assert!(parse(&["--rate", bad]).is_err(), "--rate {bad} is refused");
    }
}
