//! Listener hardening against slow and greedy clients, on the router binary (its own descriptor table) with
//! a short `MICTLANX_ROUTER_HEADER_TIMEOUT`. Invariants: a connection that never completes a request head is
//! closed within the header timeout plus a margin, whatever it sent (half a header, nothing, half an HTTP/2
//! preface) and however many there are, while normal requests keep answering in under a second; a body that
//! is merely slow is not cut; an oversized head is 431; past `MICTLANX_ROUTER_MAX_CONNECTIONS` new
//! connections wait for a free slot instead of being served or refused.

use std::time::{Duration, Instant};

use futures::future::join_all;
use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::{http_client, peers_uri, spawn_peer};
use mictlanx_testkit::process::{free_port, router_process, wait_ok, Proc};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Allowed lateness of a close: scheduling on a busy two-core machine, not the router's timer.
const MARGIN: Duration = Duration::from_secs(3);

struct Router {
    _proc: Proc,
    port: u16,
    _peer: PeerServer,
    _dir: tempfile::TempDir,
}

async fn start(extra: &[(&str, String)]) -> Router {
    // 1000 client sockets here plus as many in the router, which inherits this limit.
    rlimit::increase_nofile_limit(8192).expect("raise the descriptor limit");
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("peer-0", &dir.path().join("p0")).await;
    let port = free_port();
    let mut env = vec![
        ("MICTLANX_PEERS_URI", peers_uri(&[&peer])),
        ("MICTLANX_ROUTER_HEADER_TIMEOUT", "2s".to_string()),
    ];
    env.extend(extra.iter().cloned());
    let proc = router_process(port, &dir.path().join("router"), &env);
    wait_ok(&http_client(), &format!("http://127.0.0.1:{port}/ready")).await;
    Router {
        _proc: proc,
        port,
        _peer: peer,
        _dir: dir,
    }
}

impl Router {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect")
    }
}

/// Reads until the router closes the connection (EOF or reset); panics after `limit`.
async fn closed_within(mut stream: TcpStream, limit: Duration) -> Instant {
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(limit, read_all)
        .await
        .expect("the router did not close the connection in time")
}

/// A fresh client (new connection each time: no pooled connection can dodge the attack).
async fn timed_get(url: &str) -> (u16, Duration) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let res = client.get(url).send().await.expect("normal request");
    let status = res.status().as_u16();
    res.bytes().await.expect("body");
    (status, started.elapsed())
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_half_headers_are_closed_in_time_and_normal_requests_still_answer() {
    let r = start(&[]).await;
    let opened = Instant::now();
    let port = r.port;
    let attackers = join_all((0..1000).map(|i| async move {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let half = format!("GET /api/v4/peers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-{i}: ");
        s.write_all(half.as_bytes()).await.expect("half a header");
        (s, Instant::now())
    }))
    .await;
    let all_sent = opened.elapsed();

    // During the attack: normal requests on new connections answer quickly.
    let mut latencies = Vec::new();
    for _ in 0..5 {
        let (status, took) = timed_get(&r.url("/api/v4/peers")).await;
        assert_eq!(status, 200);
        assert!(
            took < Duration::from_secs(1),
            "a normal request took {took:?} during the attack"
        );
        latencies.push(took);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let closes = join_all(attackers.into_iter().map(|(s, sent)| async move {
        (closed_within(s, HEADER_TIMEOUT + MARGIN * 2).await, sent)
    }))
    .await;
    let mut lifetimes: Vec<Duration> = closes
        .iter()
        .map(|(closed, sent)| *closed - *sent)
        .collect();
    lifetimes.sort();
    let (shortest, longest) = (lifetimes[0], lifetimes[lifetimes.len() - 1]);
    println!(
        "1000 half-header connections opened in {all_sent:?}; closed after {shortest:?}..{longest:?}; \
         normal GETs during the attack: {latencies:?}"
    );
    assert!(
        longest <= HEADER_TIMEOUT + MARGIN,
        "a half header stayed open for {longest:?}"
    );
    assert!(
        shortest >= HEADER_TIMEOUT - Duration::from_millis(500),
        "closed after {shortest:?}: before the header timeout"
    );
    let (status, took) = timed_get(&r.url("/health")).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1));
    let text = reqwest::get(r.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metric(&text, "mictlanx_router_slow_connections_closed_total") >= 1000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_half_prefaces_and_idle_keep_alives_are_closed_too() {
    let r = start(&[]).await;
    let mut conns = Vec::new();
    for _ in 0..20 {
        conns.push(r.connect().await); // sends nothing
    }
    for _ in 0..20 {
        let mut s = r.connect().await;
        s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap(); // a third of the h2 preface
        conns.push(s);
    }
    // A complete request, then silence: the idle keep-alive connection is closed as well.
    let mut kept = r.connect().await;
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    conns.push(kept);
    let started = Instant::now();
    join_all(
        conns
            .into_iter()
            .map(|s| closed_within(s, HEADER_TIMEOUT + MARGIN)),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took >= HEADER_TIMEOUT - Duration::from_millis(500),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_not_cut_by_the_header_timeout() {
    let r = start(&[]).await;
    let client = http_client();
    let meta = json!({"bucket_id": "b", "key": "slow", "ball_id": "slow", "checksum": "-", "size": 30,
        "tags": {}, "producer_id": "t", "content_type": "application/octet-stream",
        "replication_factor": 1});
    let res = client
        .post(r.url("/api/v4/buckets/b/metadata"))
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let group = res.json::<Value>().await.unwrap()["tasks_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    // 3 pieces, one every 1.5 s: the body takes twice the header timeout, each gap is under the idle one.
    let body = futures::stream::unfold(0u8, |i| async move {
        if i == 3 {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        Some((Ok::<_, std::io::Error>(vec![i; 10]), i + 1))
    });
    let started = Instant::now();
    let res = client
        .post(r.url(&format!("/api/v4/buckets/data/{group}/chunked")))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    assert!(started.elapsed() > HEADER_TIMEOUT);
    let got = client
        .get(r.url("/api/v4/buckets/b/slow"))
        .header("Force-Get", "1")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        got.to_vec(),
        [vec![0u8; 10], vec![1; 10], vec![2; 10]].concat()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_is_431() {
    let r = start(&[]).await;
    let client = http_client();
    let res = client
        .get(r.url("/health"))
        .header("X-Big", "a".repeat(60 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "60 KiB of headers fit");
    let res = client
        .get(r.url("/health"))
        .header("X-Big", "a".repeat(70 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 431);
    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..120 {
        many.insert(
            reqwest::header::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
            "1".parse().unwrap(),
        );
    }
    let res = client
        .get(r.url("/health"))
        .headers(many)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 431, "more than 100 header fields");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_new_connections_wait_for_a_slot() {
    let r = start(&[("MICTLANX_ROUTER_MAX_CONNECTIONS", "3".to_string())]).await;
    // wait_ok's pooled connection may still hold a slot until the header timeout closes it
    tokio::time::sleep(HEADER_TIMEOUT + Duration::from_millis(500)).await;
    let silent: Vec<TcpStream> = join_all((0..3).map(|_| r.connect())).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let (status, took) = timed_get(&r.url("/health")).await;
    assert_eq!(status, 200);
    // Served once the silent connections were closed by the header timeout, not before.
    assert!(
        took >= HEADER_TIMEOUT - Duration::from_millis(700),
        "answered after {took:?}: the cap did not hold"
    );
    assert!(took <= HEADER_TIMEOUT + MARGIN, "{took:?}");
    println!(
        "with 3 of 3 slots held, a request waited {:?}",
        started.elapsed()
    );
    drop(silent);
}
