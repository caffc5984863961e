//! A real `redis-server` for one test: its own temp dir and Unix socket, no persistence, killed on drop;
//! SIGSTOP/SIGCONT/SIGKILL and a restart (empty, on the same socket) for fault tests. Skipped (`None`)
//! when `redis-server` is not installed, unless `MICTLANX_TEST_REQUIRE_TOOLS=1`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::Proc;
use crate::tools::require_tool;

pub struct RedisServer {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    bin: PathBuf,
    proc: Proc,
}

impl RedisServer {
    /// A fresh empty server, or `None` (printed `SKIPPED`) without `redis-server`.
    pub fn start() -> Option<RedisServer> {
        let bin = require_tool("redis-server")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("redis.sock");
        let proc = spawn(&bin, &dir, &socket);
        Some(RedisServer {
            dir,
            socket,
            bin,
            proc,
        })
    }

    /// `unix:///…/redis.sock`
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn stop(&self) {
        self.proc.signal("STOP");
    }

    pub fn cont(&self) {
        self.proc.signal("CONT");
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        self.proc.signal("KILL");
        if let Some(child) = self.proc.0.as_mut() {
            let _ = child.wait();
        }
        self.proc.0 = None;
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Start again on the same socket, empty (no persistence).
    pub fn restart(&mut self) {
        self.proc = spawn(&self.bin, &self.dir, &self.socket);
    }

    /// Run one command with `redis-cli` if it is installed (for inspection in tests).
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .arg("-s")
            .arg(&self.socket)
            .args(args)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

fn spawn(bin: &PathBuf, dir: &tempfile::TempDir, socket: &PathBuf) -> Proc {
    let child = Command::new(bin)
        .args(["--port", "0", "--unixsocket"])
        .arg(socket)
        .args([
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--maxmemory-policy", "noeviction", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(crate::log::child_stderr())
        .spawn()
        .expect("redis-server starts");
    let proc = Proc(Some(child));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not create its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    proc
}
