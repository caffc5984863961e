//! The router binary rejects invalid configuration at start-up (`docs/config.md` §1): exit code 2 and exactly one
//! stderr line naming the variable and its value, no panic. Each case runs the real binary with a clean env.

use std::path::Path;
use std::process::{Command, Output};

fn run_router(env: &[(&str, &str)], env_file: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mictlanx-router"));
    cmd.env_clear().env("ENV_FILE_PATH", env_file);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("run mictlanx-router")
}

fn assert_one_line_error(out: &Output, line: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        vec![line],
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

#[test]
fn invalid_size_exits_2_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_router(
        &[("MICTLANX_CACHE_CAPACITY_STORAGE", "12xx")],
        &dir.path().join("absent.env"),
    );
    assert_one_line_error(
        &out,
        "invalid MICTLANX_CACHE_CAPACITY_STORAGE='12xx': expected a size such as 1GB or 512MiB",
    );
}

#[test]
fn invalid_peers_uri_exits_2_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_router(
        &[("MICTLANX_PEERS_URI", "mictlanx://a@h:abc")],
        &dir.path().join("absent.env"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().next().unwrap_or_default().to_string();
    assert!(
        line.starts_with(
            "invalid MICTLANX_PEERS_URI='mictlanx://a@h:abc': expected a mictlanx:// URI"
        ),
        "{line}"
    );
    assert!(line.ends_with("(Invalid port number: abc)"), "{line}");
    assert_one_line_error(&out, &line);
}

#[test]
fn dotenv_file_is_loaded_without_overriding_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env_file = dir.path().join("router.env");
    std::fs::write(
        &env_file,
        "MICTLANX_ROUTER_PORT=7000\nMICTLANX_PEERS_URI=http://a@h:1\n",
    )
    .expect("write dotenv");
    // The dotenv value of an unset variable is read (and rejected here)...
    let out = run_router(&[], &env_file);
    assert_one_line_error(&out, &dotenv_uri_error());
    // ...but a variable set in the environment wins over the file.
    let env = [
        ("MICTLANX_ROUTER_PORT", "port"),
        ("MICTLANX_PEERS_URI", "mictlanx://p@h:1"),
    ];
    let out = run_router(&env, &env_file);
    assert_one_line_error(
        &out,
        "invalid MICTLANX_ROUTER_PORT='port': expected an integer between 0 and 65535",
    );
}

fn dotenv_uri_error() -> String {
    "invalid MICTLANX_PEERS_URI='http://a@h:1': expected a mictlanx:// URI such as \
     mictlanx://peer-0@localhost:25000/?protocol=http&api_version=4 (the URI must start with mictlanx://)"
        .to_string()
}

// security
#[test]
fn token_and_token_file_together_exit_2_and_a_bad_token_is_never_printed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let absent = dir.path().join("absent.env");
    let file = dir.path().join("admin.token");
    std::fs::write(&file, "from-file\n").expect("write token");
    let path = file.to_str().expect("utf-8");
    let out = run_router(
        &[
            ("MICTLANX_ROUTER_ADMIN_TOKEN", "inline"),
            ("MICTLANX_ROUTER_ADMIN_TOKEN_FILE", path),
        ],
        &absent,
    );
    assert_one_line_error(
        &out,
        &format!(
            "invalid MICTLANX_ROUTER_ADMIN_TOKEN_FILE='{path}': MICTLANX_ROUTER_ADMIN_TOKEN is set too (set one or the other)"
        ),
    );
    let out = run_router(
        &[("MICTLANX_ROUTER_PEER_TOKEN", "secret with spaces")],
        &absent,
    );
    assert_one_line_error(
        &out,
        "invalid MICTLANX_ROUTER_PEER_TOKEN='<hidden>': expected a token of visible ASCII characters without spaces",
    );
    let out = run_router(
        &[("MICTLANX_ROUTER_PEER_ALLOWLIST", "10.0.0.0/40")],
        &absent,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("invalid MICTLANX_ROUTER_PEER_ALLOWLIST='10.0.0.0/40'"),
        "{stderr}"
    );
}
