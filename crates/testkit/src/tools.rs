//! External tools a test needs (prometheus, chromium …): found on `PATH` (or at an absolute path), else
//! the test is skipped with `SKIPPED: <tool> not installed` — unless `MICTLANX_TEST_REQUIRE_TOOLS=1`
//! (set by `.ci/run`, which installs them), where a missing tool fails the test.

use std::path::{Path, PathBuf};

/// The tool's path, or `None` (after printing `SKIPPED: …`) when it is missing and not required.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if let Some(path) = find(name) {
        return Some(path);
    }
    if std::env::var("MICTLANX_TEST_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{name} not installed, and MICTLANX_TEST_REQUIRE_TOOLS=1 requires it");
    }
    println!("SKIPPED: {name} not installed");
    None
}

fn find(name: &str) -> Option<PathBuf> {
    let candidate = Path::new(name);
    if candidate.is_absolute() {
        return is_executable(candidate).then(|| candidate.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
