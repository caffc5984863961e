//! Routers as real processes on one real `redis-server`, with real SIGKILL and SIGSTOP. Invariants: a
//! router killed or paused in the middle of a phase-2 upload cannot hold the task group past its claim
//! lease (another router completes the upload, and the object is complete and readable through both),
//! a paused router cannot commit late over the newer upload, and a router whose Redis is absent at
//! start-up exits 2 naming `MICTLANX_ROUTER_REDIS_URL` (it never falls back to the embedded state).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mictlanx_peer::PeerServer;
use mictlanx_testkit::datapath::object;
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};
use mictlanx_testkit::process::{free_port, router_process, router_put_metadata, wait_ok, Proc};
use mictlanx_testkit::redis::RedisServer;
use tokio::sync::mpsc;

struct Setup {
    redis: RedisServer,
    dir: tempfile::TempDir,
    peers: Vec<PeerServer>,
    uri: String,
}

async fn setup() -> Option<Setup> {
    let redis = RedisServer::start()?;
    let dir = tempfile::tempdir().unwrap();
    let mut peers = Vec::new();
    for i in 0..3 {
        let id = format!("pp-{i}");
        peers.push(spawn_peer_with(peer_config(&id, &dir.path().join(&id))).await);
    }
    let specs: Vec<String> = peers
        .iter()
        .map(|p| format!("{}@127.0.0.1:{}", p.node_id(), p.addr().port()))
        .collect();
    let uri = format!(
        "mictlanx://{}/?protocol=http&api_version=4",
        specs.join(",")
    );
    Some(Setup {
        redis,
        dir,
        peers,
        uri,
    })
}

impl Setup {
    fn router(&self, name: &str, port: u16) -> Proc {
        router_process(
            port,
            &self.dir.path().join(name),
            &[
                ("MICTLANX_PEERS_URI", self.uri.clone()),
                ("MICTLANX_ROUTER_STATE_BACKEND", "redis".into()),
                ("MICTLANX_ROUTER_REDIS_URL", self.redis.url()),
                ("MICTLANX_ROUTER_CLAIM_LEASE", "2s".into()),
                ("MICTLANX_ROUTER_STATE_TIMEOUT", "1s".into()),
            ],
        )
    }
}

type Feed = mpsc::Sender<Result<Bytes, std::io::Error>>;
type Answer = tokio::task::JoinHandle<Result<reqwest::Response, reqwest::Error>>;

/// A phase-2 request whose body the test feeds piece by piece.
fn streaming_upload(http: &reqwest::Client, url: String) -> (Feed, Answer) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let req = http.post(url).body(reqwest::Body::wrap_stream(body));
    (tx, tokio::spawn(req.send()))
}

async fn get_forced(http: &reqwest::Client, port: u16, key: &str) -> (u16, Vec<u8>) {
    let res = http
        .get(format!("http://127.0.0.1:{port}/api/v4/buckets/mp/{key}"))
        .header("Force-Get", "1")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.bytes().await.unwrap_or_default().to_vec())
}

async fn upload_full(http: &reqwest::Client, port: u16, task: &str, bytes: &[u8]) -> u16 {
    http.post(format!(
        "http://127.0.0.1:{port}/api/v4/buckets/data/{task}/chunked"
    ))
    .body(bytes.to_vec())
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_killed_mid_upload_releases_the_group_after_its_lease() {
    let Some(s) = setup().await else {
        return;
    };
    let http = mictlanx_testkit::peer::http_client();
    let (pa, pb) = (free_port(), free_port());
    let mut a = s.router("a", pa);
    let _b = s.router("b", pb);
    for p in [pa, pb] {
        wait_ok(&http, &format!("http://127.0.0.1:{p}/ready")).await;
    }
    let bytes = object(7, 3 * 1024 * 1024);
    let base_a = format!("http://127.0.0.1:{pa}");
    let task = router_put_metadata(&http, &base_a, "mp", "killed", bytes.len() as u64, 3).await;
    let (tx, upload) = streaming_upload(
        &http,
        format!("{base_a}/api/v4/buckets/data/{task}/chunked"),
    );
    tx.send(Ok(Bytes::copy_from_slice(&bytes[..1024 * 1024])))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.signal("KILL");
    let _ = a.wait_exit(Duration::from_secs(10)).await;
    drop(tx);
    let answered = upload.await.unwrap();
    assert!(
        answered.is_err() || answered.unwrap().status() != 200,
        "the killed router acknowledged nothing"
    );
    // The claim is a lease: until it runs out the group stays A's.
    assert_eq!(upload_full(&http, pb, &task, &bytes).await, 409);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = upload_full(&http, pb, &task, &bytes).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 409, "only the live claim may refuse");
        assert!(Instant::now() < deadline, "B never took the group over");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(get_forced(&http, pb, "killed").await, (200, bytes.clone()));
    let _a = s.router("a", pa);
    wait_ok(&http, &format!("http://127.0.0.1:{pa}/ready")).await;
    assert_eq!(get_forced(&http, pa, "killed").await, (200, bytes));
    drop(s.peers);
    drop(s.redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_router_cannot_commit_late_over_the_takeover() {
    let Some(s) = setup().await else {
        return;
    };
    let http = mictlanx_testkit::peer::http_client();
    let (pa, pb) = (free_port(), free_port());
    let a = s.router("a", pa);
    let _b = s.router("b", pb);
    for p in [pa, pb] {
        wait_ok(&http, &format!("http://127.0.0.1:{p}/ready")).await;
    }
    let late = object(8, 2 * 1024 * 1024);
    let winner = object(9, late.len());
    let base_a = format!("http://127.0.0.1:{pa}");
    let task = router_put_metadata(&http, &base_a, "mp", "paused", late.len() as u64, 3).await;
    let (tx, upload) = streaming_upload(
        &http,
        format!("{base_a}/api/v4/buckets/data/{task}/chunked"),
    );
    let half = late.len() / 2;
    tx.send(Ok(Bytes::copy_from_slice(&late[..half])))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.signal("STOP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    // After A's lease, B takes the group over (with fresh tasks on the peers) and commits.
    assert_eq!(upload_full(&http, pb, &task, &winner).await, 200);
    assert_eq!(get_forced(&http, pb, "paused").await, (200, winner.clone()));
    a.signal("CONT");
    let _ = tx.send(Ok(Bytes::copy_from_slice(&late[half..]))).await;
    drop(tx);
    let answer = tokio::time::timeout(Duration::from_secs(30), upload)
        .await
        .expect("A answers or drops its client");
    if let Ok(Ok(res)) = answer {
        assert_ne!(
            res.status().as_u16(),
            200,
            "a fenced upload is not acknowledged"
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for port in [pa, pb] {
        assert_eq!(
            get_forced(&http, port, "paused").await,
            (200, winner.clone()),
            "the late writer did not overwrite the takeover"
        );
    }
    drop(s.peers);
    drop(s.redis);
}

#[tokio::test]
async fn a_router_whose_redis_is_absent_exits_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("unix://{}/none.sock", dir.path().display());
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mictlanx-router"))
        .env_clear()
        .env("ENV_FILE_PATH", dir.path().join("no.env"))
        .env("MICTLANX_ROUTER_PORT", free_port().to_string())
        .env("MICTLANX_ROUTER_HOST", "127.0.0.1")
        .env("MICTLANX_ROUTER_STATE_DIR", dir.path().join("state"))
        .env("MICTLANX_ROUTER_LOG_TO_FILE", "0")
        .env("MICTLANX_ROUTER_LOG_SHOW", "0")
        .env("MICTLANX_ROUTER_OPENTELEMETRY", "0")
        .env("MICTLANX_ROUTER_STATE_BACKEND", "redis")
        .env("MICTLANX_ROUTER_REDIS_URL", &url)
        .stdin(Stdio::null())
        .output()
        .expect("router runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("MICTLANX_ROUTER_REDIS_URL"), "{err}");
    assert!(err.contains(&url), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
}
