//! The deployment-file tests' helpers: the peer's variable names (docs/config.md §3, from the peer's own
//! flags), the `[[bin]]` names of the shipped packages, reading repository files, and (in `compose`) reading
//! docker compose files.

pub mod compose;

use std::collections::BTreeSet;
use std::path::PathBuf;

/// The repository's root (the workspace root, two levels above this crate).
pub fn repo_root() -> PathBuf {
    let kit = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.ancestors()
        .nth(2)
        .expect("crates/testkit sits two levels below the root")
        .to_path_buf()
}

/// Absolute path of a file of this repository.
pub fn repo_file(relative: &str) -> PathBuf {
    repo_root().join(relative)
}

/// Text of a repository file; panics with the path when it is missing.
pub fn read_repo_file(relative: &str) -> String {
    let path = repo_file(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The manifests of the packages whose binaries a deployment ships: the router (root) and the peer.
pub const SHIPPED_MANIFESTS: &[&str] = &["Cargo.toml", "crates/peer/Cargo.toml"];

/// The `name` of every `[[bin]]` table of [`SHIPPED_MANIFESTS`] (there is no TOML parser among the
/// dependencies; the `[[bin]]` tables are plain `key = "value"` lines).
pub fn cargo_bins() -> BTreeSet<String> {
    let mut bins = BTreeSet::new();
    for manifest in SHIPPED_MANIFESTS {
        let manifest = read_repo_file(manifest);
        let mut in_bin = false;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bin = line == "[[bin]]";
                continue;
            }
            if !in_bin {
                continue;
            }
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "name" {
                    bins.insert(value.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    bins
}

/// The router's variables as a set (`mictlanx_router::config::KNOWN_VARIABLES`).
pub fn router_variables() -> BTreeSet<String> {
    mictlanx_router::config::KNOWN_VARIABLES
        .iter()
        .map(|name| name.to_string())
        .collect()
}

/// The peer's variables as a set (docs/config.md §3): what the peer itself knows, plus `RUST_BACKTRACE`,
/// which the peer's table documents because container images set it (the Rust runtime reads it).
pub fn peer_variables() -> BTreeSet<String> {
    mictlanx_peer::cli::known_variables()
        .into_iter()
        .chain(["RUST_BACKTRACE".to_string()])
        .collect()
}
