//! A test that needs the whole process to itself (it reads the process's peak memory) runs again alone in
//! a child process: the same test binary, filtered to that one test. The parent asserts the child passed;
//! the child runs the body.

use std::process::Command;

const CHILD: &str = "MICTLANX_TEST_ISOLATED";

/// `true` in the child (run the test body); in the parent, runs the child for `test` (its full path,
/// `module_path!()` + `::name`, without the crate), asserts it passed and returns `false`.
///
/// ```text
/// if !mictlanx_testkit::isolate::alone(concat!(module_path!(), "::my_test")) { return; }
/// ```
pub fn alone(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    // module_path!() starts with the crate name; libtest names tests without it.
    let name = test.split_once("::").map_or(test, |(_, rest)| rest);
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let out = Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed in its own process:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in its own process (wrong name?):\n{stdout}"
    );
    if crate::log::filter().is_some() {
        println!("{stdout}{stderr}");
    }
    false
}
