//! Paths of the workspace's binaries. The router's own binary comes from Cargo; the peer and the bench are
//! other workspace members, built next to it (`cargo test` at the root builds every member's binaries;
//! a filtered run builds the missing one here, once).

use std::path::PathBuf;
use std::sync::OnceLock;

/// The `mictlanx-router` binary under test.
pub fn router_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mictlanx-router"))
}

/// The `mictlanx-peer` binary of the same build.
pub fn peer_bin() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| sibling_bin("mictlanx-peer", "mictlanx-peer"))
        .clone()
}

/// A binary of another workspace package beside the router's, built with the same profile if missing.
fn sibling_bin(package: &str, name: &str) -> PathBuf {
    let router = router_bin();
    let dir = router.parent().expect("the router binary has a directory");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args(["build", "-p", package, "--bin", name]);
        if dir.file_name().is_some_and(|d| d == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p {package} failed");
    }
    path
}
