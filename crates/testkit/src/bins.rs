//! Paths of the workspace's binaries. A test binary lives in `target/<profile>/deps/`; the workspace's
//! binaries are two levels up, in `target/<profile>/` (`cargo test` at the root builds every member's
//! binaries; a filtered run builds the missing one here, once, with the same profile).

use std::path::PathBuf;
use std::sync::OnceLock;

/// The `mictlanx-router` binary of the same build.
pub fn router_bin() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| workspace_bin("mictlanx-router", "mictlanx-router"))
        .clone()
}

/// The `mictlanx-peer` binary of the same build.
pub fn peer_bin() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| workspace_bin("mictlanx-peer", "mictlanx-peer"))
        .clone()
}

/// `target/<profile>/`: the directory of the running test binary's `deps/` directory.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let deps = exe.parent().expect("the test binary has a directory");
    let dir = if deps.file_name().is_some_and(|d| d == "deps") {
        deps.parent().expect("deps/ has a parent")
    } else {
        deps
    };
    dir.to_path_buf()
}

/// A binary of a workspace package in [`profile_dir`], built with the same profile if missing.
fn workspace_bin(package: &str, name: &str) -> PathBuf {
    let dir = profile_dir();
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "-p", package, "--bin", name]);
        if dir.file_name().is_some_and(|d| d == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p {package} failed");
    }
    path
}
