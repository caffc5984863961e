//! The `mictlanx-peer` binary: configuration errors (one line, exit 2), flag over variable, `--healthcheck`,
//! serving until SIGTERM with a clean exit, the daily log file under LOG_PATH.

use std::process::{Command, Stdio};

use mictlanx_testkit::process::free_port;
use std::time::Duration;

fn peer() -> Command {
    let mut cmd = Command::new(mictlanx_testkit::bins::peer_bin());
    cmd.env_clear();
    cmd
}

fn healthcheck(port: u16) -> bool {
    let out = peer()
        .args([
            "--healthcheck",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .output();
    out.unwrap().status.success()
}

#[test]
fn invalid_values_stop_startup_with_one_line_and_code_2() {
    let out = peer().env("NODE_DISK_CAPACITY", "12xx").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "invalid NODE_DISK_CAPACITY='12xx': expected a size such as 1GB or 512MiB\n"
    );
    let out = peer()
        .env("MICTLANX_PEER_TASK_TTL", "2 hrs")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("invalid MICTLANX_PEER_TASK_TTL='2 hrs'")
    );
}

#[test]
fn a_flag_wins_over_its_variable_and_healthcheck_fails_without_a_server() {
    let port = free_port();
    let out = peer()
        .env("NODE_DISK_CAPACITY", "12xx")
        .args([
            "--capacity",
            "1GB",
            "--healthcheck",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "valid config (the flag won), nothing listening"
    );
}

#[test]
fn serves_until_sigterm_and_logs_to_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = peer()
        .env("NODE_ID", "bin-peer")
        .env("NODE_PORT", port.to_string())
        .env("SERVER_IP_ADDR", "127.0.0.1")
        .env("BASE_PATH", dir.path())
        .env("MICTLANX_PEER_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut healthy = false;
    for _ in 0..400 {
        if healthcheck(port) {
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(healthy, "the peer answered /health");
    assert!(dir.path().join("data/tmp").is_dir() && dir.path().join("local/meta").is_dir());
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut status = None;
    for _ in 0..400 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the peer did not exit after SIGTERM");
    };
    assert!(status.success(), "{status:?}");
    let logs: Vec<String> = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        logs.iter().any(|n| n.starts_with("bin-peer.log")),
        "{logs:?}"
    );
    let log = std::fs::read_to_string(dir.path().join("log").join(&logs[0])).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert!(
        first["fields"]["message"].is_string(),
        "json log lines: {first}"
    );
}
