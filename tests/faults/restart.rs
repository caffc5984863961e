//! A router process restarted (SIGKILL, then started again on Redis) while clients read and overwrite
//! existing objects through it, from the moment it accepts connections. Invariants: it never answers
//! "not found" for an object that exists (it serves only once it knows the peers' state), and it never
//! places a write on fewer live holders than it would a second later (four peers, every object on three:
//! an rf-3 overwrite goes to its three live holders).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mictlanx_testkit::client::dto;
use mictlanx_testkit::faults::serial;
use mictlanx_testkit::peer::http_client;
use mictlanx_testkit::Cluster;
use serde_json::{json, Value};

const KEYS: usize = 6;

/// What the hammer saw once the router answered.
#[derive(Default)]
struct Seen {
    answered: usize,
    /// The first statuses, in order (printed).
    first: Vec<u16>,
    not_found: Vec<String>,
    short_writes: Vec<String>,
}

/// GET, metadata and rf-3 phase 1 of existing keys, as fast as possible until `stop`.
async fn hammer(base: String, worker: usize, stop: Arc<AtomicBool>) -> Seen {
    let http = http_client();
    let mut seen = Seen::default();
    let mut i = worker;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("k{}", i % KEYS);
        let (what, res) = match i % 3 {
            0 => (
                "get",
                http.get(format!("{base}/api/v4/buckets/rs/{key}"))
                    .send()
                    .await,
            ),
            1 => (
                "metadata",
                http.get(format!("{base}/api/v4/buckets/rs/metadata/{key}"))
                    .send()
                    .await,
            ),
            _ => (
                "put metadata",
                http.post(format!("{base}/api/v4/buckets/rs/metadata"))
                    .json(&dto("rs", &key, &key, 1000, 3, json!({})))
                    .send()
                    .await,
            ),
        };
        let Ok(res) = res else {
            // Not listening yet (or the connection was refused): try again at once.
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        };
        seen.answered += 1;
        let status = res.status().as_u16();
        if seen.first.len() < 8 {
            seen.first.push(status);
        }
        let body = res.text().await.unwrap_or_default();
        if status == 404 && seen.not_found.len() < 5 {
            seen.not_found.push(format!("{what} {key}: {body}"));
        }
        if what == "put metadata" && status == 200 {
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            let n = v["replicas"].as_array().map_or(0, Vec::len);
            if n != 3 && seen.short_writes.len() < 5 {
                seen.short_writes.push(format!("{key}: {body}"));
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_router_never_answers_404_for_existing_objects_nor_places_short_writes() {
    let _serial = serial().await;
    let Some(mut c) = Cluster::builder()
        .peers(4)
        .peer_prefix("r")
        .peer_processes()
        .tmpfs()
        .redis()
        .router_process()
        .router_env("MICTLANX_ROUTER_HEALTH_TIMEOUT", "1s")
        .router_env("MICTLANX_ROUTER_FANOUT_CONCURRENCY", "4")
        .try_start()
        .await
    else {
        return;
    };
    for k in 0..KEYS {
        c.put("rs", &format!("k{k}"), &[k as u8; 1000], 3).await;
    }
    // Four registered peers that accept connections and never answer, named to be probed first (four
    // probes at once): the first liveness round of a restarted router takes a health timeout before it
    // reaches the real peers, a window in which a router that served before the round ended would know
    // no live peer.
    let stalled: Vec<std::net::TcpListener> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    for (i, l) in stalled.iter().enumerate() {
        let port = l.local_addr().unwrap().port();
        let res = c
            .http
            .post(c.url("/api/v4/peers"))
            .json(
                &json!({"protocol": "http", "peer_id": format!("a-stalled-{i}"),
                "hostname": "127.0.0.1", "port": port}),
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "register a stalled peer");
    }
    for round in 0..2 {
        c.router.process().kill();
        let stop = Arc::new(AtomicBool::new(false));
        let base = c.url("");
        let workers: Vec<_> = (0..4)
            .map(|w| tokio::spawn(hammer(base.clone(), w, stop.clone())))
            .collect();
        let started = Instant::now();
        c.router.process().restart().await;
        println!(
            "round {round}: router answered /health after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::Relaxed);
        let mut total = Seen::default();
        for w in workers {
            let s = w.await.unwrap();
            total.answered += s.answered;
            println!("round {round}: first answers {:?}", s.first);
            total.not_found.extend(s.not_found);
            total.short_writes.extend(s.short_writes);
        }
        assert!(total.answered > 20, "the hammer reached the router");
        // Every request waited in the listen backlog until the first round ended, never much longer.
        assert!(started.elapsed() < Duration::from_secs(20));
        assert!(
            total.not_found.is_empty(),
            "404 for existing objects after a restart: {:?}",
            total.not_found
        );
        assert!(
            total.short_writes.is_empty(),
            "an rf-3 overwrite of an object on three live peers placed on fewer: {:?}",
            total.short_writes
        );
    }
}
