//! Starting a space with S3 on, and running the client tools of the venv under a timeout.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use mictlanx_router::config::{Config, S3Credential};
use mictlanx_router::security::Secret;
use mictlanx_testkit::cluster::Cluster;
use mictlanx_testkit::tools::require_tool;

pub const ACCESS: &str = "mictlanx-test";
pub const SECRET: &str = "mictlanx-test-secret";

/// The clients of the venv; `None` (the test is skipped) when the venv is missing, unless
/// `MICTLANX_TEST_REQUIRE_TOOLS=1`.
pub struct Clients {
    pub python: PathBuf,
    pub aws: PathBuf,
    pub rclone: PathBuf,
}

pub fn clients() -> Option<Clients> {
    let venv = std::env::var_os("MICTLANX_S3_CLIENTS_VENV").map(PathBuf::from);
    let tool = |name: &str| match &venv {
        Some(v) => require_tool(v.join("bin").join(name).to_str().expect("utf-8 path")),
        None => require_tool(&format!("MICTLANX_S3_CLIENTS_VENV/bin/{name}")),
    };
    Some(Clients {
        python: tool("python")?,
        aws: tool("aws")?,
        rclone: tool("rclone")?,
    })
}

/// S3 on (port 0, the test keys, rf 2) in `cfg`.
pub fn enable_s3(cfg: &mut Config) {
    cfg.s3.port = 0;
    cfg.s3.credentials = vec![S3Credential {
        access_key: ACCESS.into(),
        secret_key: Secret::parse(SECRET).expect("a secret"),
    }];
    cfg.s3.replication_factor = 2;
}

/// A router with S3 on in front of three peers.
pub async fn s3_cluster() -> (Cluster, String) {
    let c = Cluster::builder().config(enable_s3).start().await;
    let endpoint = endpoint(c.app().s3_addr.expect("S3 is on"));
    (c, endpoint)
}

pub fn endpoint(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A script of `tests/s3/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/s3")
        .join(name)
}

/// Run `program args` with `env`, killed after `within`; the output, printed, and whether it succeeded.
pub async fn run(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    within: Duration,
) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = tokio::time::timeout(within, cmd.output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} {args:?} did not finish within {within:?}",
                program.display()
            )
        })
        .expect("the tool starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("$ {} {}\n{text}", program.display(), args.join(" "));
    (out.status.success(), text)
}

/// Run the boto3 suite `name` (a script of `tests/s3/`) against `endpoint` with the test keys, within
/// `within`; asserts that it passed and that no check failed, and answers its output.
pub async fn run_suite(python: &Path, name: &str, endpoint: &str, within: Duration) -> String {
    let suite = script(name);
    let (ok, out) = run(
        python,
        &[suite.to_str().expect("utf-8"), endpoint, ACCESS, SECRET],
        &[],
        within,
    )
    .await;
    assert!(ok, "{name} failed:\n{out}");
    assert!(!out.contains("FAIL "), "{out}");
    out
}

/// `s3cli.py ACTION ARGS…` against `endpoint` with the test keys.
pub async fn s3cli(py: &Path, endpoint: &str, args: &[&str]) -> (bool, String) {
    let script = script("s3cli.py");
    let mut all = vec![script.to_str().expect("utf-8"), endpoint, ACCESS, SECRET];
    all.extend_from_slice(args);
    run(py, &all, &[], Duration::from_secs(120)).await
}

/// A tree of `n` small files in nested directories under `root` (names with spaces and dots).
pub fn make_tree(root: &Path, n: usize) {
    for i in 0..n {
        let dir = root
            .join(format!("d{}", i % 7))
            .join(format!("sub {}", i % 3));
        std::fs::create_dir_all(&dir).expect("tree dir");
        let body = format!("file {i} ").repeat(1 + i % 50);
        std::fs::write(dir.join(format!("f.{i}.txt")), body).expect("tree file");
    }
}

/// Every file under `root`, by relative path, with its bytes.
pub fn read_tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    std::fs::read(&path).expect("read"),
                );
            }
        }
    }
    out
}
