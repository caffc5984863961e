//! The built binaries as real processes (router and peers on 127.0.0.1), killed when dropped so no process
//! outlives a failing test; plus the two-phase router upload used by process-level tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) on drop.
pub struct Proc(pub Option<Child>);

impl Proc {
    pub fn pid(&self) -> u32 {
        self.0.as_ref().expect("process running").id()
    }

    /// Send SIGTERM (or SIGINT with `sig = "INT"`).
    ///
    /// `STOP` returns once the process shows as stopped: the signal is delivered asynchronously, so a
    /// request sent right after `kill` could otherwise still be answered.
    pub fn signal(&self, sig: &str) {
        let pid = self.pid();
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status();
        assert!(ok.expect("kill runs").success());
        if sig == "STOP" {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let state = process_state(pid);
                if matches!(state, Some('T' | 't')) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "process {pid} is not stopped 5 s after SIGSTOP (state {state:?})"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Panics when the process has exited: after its health check answered, that means another process
    /// answered on its port.
    pub fn assert_running(&mut self, what: &str) {
        if let Some(child) = self.0.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{what} exited ({status}) although its port answered: the port is taken");
            }
        }
    }

    /// Wait for the exit code, at most `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            let child = self.0.as_mut().expect("process running");
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.0 = None;
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident set size (`VmHWM`) in KiB, from /proc.
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM line")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port nothing listens on right now, for a process that binds it itself.
///
/// The port is drawn from 10000–19999, below the kernel's ephemeral range (32768–60999 by default): a port
/// from `bind(0)` is itself ephemeral, so between this check and the process's own bind an outgoing
/// connection of any test could take it as its local port ("Address already in use"). The benches use
/// 27000 and up.
///
/// A port is handed out once per test binary: the tests of one binary run concurrently, and a process
/// killed and restarted on its port leaves it free for a moment, so a port that was merely free could be
/// given to two processes (the second one's health check then reaches the first one).
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        h.write_u128(now.unwrap_or_default().as_nanos());
        let port = 10_000 + (h.finish() % 10_000) as u16;
        if !handed_out.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return port;
        }
    }
    panic!("no free port in 10000-19999");
}

/// A `mictlanx-peer` process on `port` with its data under `dir`.
pub fn peer_process(node_id: &str, port: u16, dir: &Path) -> Proc {
    let child = Command::new(crate::bins::peer_bin())
        .args([
            "--node-id",
            node_id,
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .args([
            "--base-path",
            dir.to_str().unwrap(),
            "--disk-capacity",
            "20GB",
        ])
        .env("MICTLANX_PEER_LOG_LEVEL", crate::log::child_level("warn"))
        .stdout(Stdio::null())
        .stderr(crate::log::child_stderr())
        .spawn()
        .expect("peer binary starts");
    Proc(Some(child))
}

/// A `mictlanx-router` process configured only by `env` (plus test defaults: loopback, no files, no OTLP).
pub fn router_process(port: u16, state: &Path, env: &[(&str, String)]) -> Proc {
    let mut cmd = router_command(port, state, env);
    Proc(Some(cmd.spawn().expect("router binary starts")))
}

/// The command of [`router_process`] (stdout discarded, stderr only with `TEST_LOG`), to adjust before
/// spawning.
pub fn router_command(port: u16, state: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(crate::bins::router_bin());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENV_FILE_PATH", state.join("no-such.env"))
        .env("MICTLANX_ROUTER_HOST", "127.0.0.1")
        .env("MICTLANX_ROUTER_PORT", port.to_string())
        .env("MICTLANX_ROUTER_STATE_DIR", state)
        .env("MICTLANX_ROUTER_LOG_TO_FILE", "0")
        .env("MICTLANX_ROUTER_LOG_LEVEL", crate::log::child_level("warn"))
        .env("MICTLANX_ROUTER_OPENTELEMETRY", "0")
        .env("MICTLANX_ROUTER_HEALTH_INTERVAL", "200ms")
        .stdout(Stdio::null())
        .stderr(crate::log::child_stderr());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Poll `url` until it answers 200 (at most 60 s).
pub async fn wait_ok(client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(url).send().await {
            if r.status().as_u16() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered 200");
}

/// Phase 1 through the router: returns the task group id.
pub async fn router_put_metadata(
    client: &reqwest::Client,
    base: &str,
    bucket: &str,
    key: &str,
    size: u64,
    rf: u32,
) -> String {
    let body = serde_json::json!({
        "bucket_id": bucket, "key": key, "ball_id": key, "checksum": "-", "size": size,
        "producer_id": "test", "content_type": "application/octet-stream", "tags": {},
        "replication_factor": rf,
    });
    let res = client
        .post(format!("{base}/api/v4/buckets/{bucket}/metadata"))
        .json(&body)
        .send()
        .await
        .expect("put metadata");
    assert_eq!(
        res.status().as_u16(),
        200,
        "phase 1: {:?}",
        res.text().await
    );
    let v: serde_json::Value = res.json().await.expect("phase 1 JSON");
    v["tasks_ids"][0]
        .as_str()
        .expect("tasks_ids[0]")
        .to_string()
}

/// The state letter of `/proc/{pid}/stat` (`R`, `S`, `T`…), `None` when the process is gone.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name is in parentheses and may hold spaces: the state follows the last `)`
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}
