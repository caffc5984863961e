//! `/docs` (Swagger UI) and `/redoc` (ReDoc) render every operation of `/openapi.json` in a real headless
//! Chromium, with no request leaving 127.0.0.1.
//!
//! How "no request left" is observed: Chromium gets `--proxy-server` pointing at a small recording proxy
//! in this test and `--proxy-bypass-list=<-loopback>`, which removes Chromium's built-in loopback bypass,
//! so every request the browser makes — to the router and to anywhere else — reaches the proxy first. The
//! proxy forwards requests for the router's address and refuses (and records) every other target,
//! including `CONNECT` tunnels for https. A proxy is simpler to read than a parsed `--log-net-log`, and it
//! also keeps a buggy page from reaching the network at all.
//!
//! Chromium's own services (update checks, account sign-in with the API keys Debian's wrapper exports)
//! call Google on startup whatever the page, and no flag turns all of them off. So the browser first
//! loads a blank page from the router through the same proxy; the hosts it calls there are the
//! browser's, and are printed. The docs pages fail the test with any request to any other host.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mictlanx_router::app::{App, TestApp};
use mictlanx_router::config::Config;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Targets (`host:port` or the absolute URL) of requests that were not for the router.
type Outside = Arc<Mutex<Vec<String>>>;

/// A forward proxy that relays requests for `router` only. One request per connection (the forwarded
/// head says `Connection: close`), so every request's target is seen.
async fn recording_proxy(router: SocketAddr) -> (SocketAddr, Outside, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let outside: Outside = Arc::default();
    let relayed = Arc::new(Mutex::new(0usize));
    let (o, r) = (outside.clone(), relayed.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve_one(client, router, o.clone(), r.clone()));
        }
    });
    (addr, outside, relayed)
}

async fn serve_one(
    mut client: TcpStream,
    router: SocketAddr,
    outside: Outside,
    relayed: Arc<Mutex<usize>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (
        request_line.next().unwrap_or_default().to_string(),
        request_line.next().unwrap_or_default().to_string(),
    );
    let for_router = format!("http://{router}/");
    if method == "CONNECT" || !target.starts_with(&for_router) {
        outside.lock().unwrap().push(format!("{method} {target}"));
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    }
    *relayed.lock().unwrap() += 1;
    let Ok(mut upstream) = TcpStream::connect(router).await else {
        return;
    };
    // Same head, minus the hop-by-hop connection headers, plus `Connection: close`.
    let mut forwarded = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name != "connection" && name != "proxy-connection" && name != "keep-alive" {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    if upstream.write_all(forwarded.as_bytes()).await.is_err()
        || upstream.write_all(&buf[head_end..]).await.is_err()
    {
        return;
    }
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = upstream.split();
    let _ = tokio::join!(
        tokio::io::copy(&mut cr, &mut uw),
        tokio::io::copy(&mut ur, &mut cw)
    );
}

/// Chromium's DOM of `url` after the page's scripts ran.
async fn dump_dom(chromium: &Path, url: &str, proxy: SocketAddr, profile: &Path) -> String {
    let out = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            // Chromium's own services would call Google even on a blank page; they are not the docs'
            // requests, so they are turned off rather than filtered out of the record.
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--no-default-browser-check",
            "--no-pings",
            "--metrics-recording-only",
            "--disable-features=NetworkTimeServiceQuerying,AutofillServerCommunication,OptimizationHints,MediaRouter,Translate,SafeBrowsing,InterestFeedContentSuggestions,CertificateTransparencyComponentUpdater",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--proxy-server=http://{proxy}"))
        .arg("--proxy-bypass-list=<-loopback>")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("chromium finishes within 120 s")
        .expect("chromium runs");
    assert!(out.status.success(), "chromium exit {:?}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The host of a recorded `METHOD target` (`CONNECT host:443` or `GET http://host/...`).
fn host_of(recorded: &str) -> String {
    let target = recorded.split(' ').nth(1).unwrap_or_default();
    let rest = target.split("://").nth(1).unwrap_or(target);
    rest.split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The DOM's text with the few entities a renderer writes decoded, for plain `contains` checks.
fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `(METHOD, path, summary)` of every operation.
fn operations(doc: &Value) -> Vec<(String, String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let summary = op["summary"].as_str().unwrap_or_default().to_string();
            ops.push((method.to_uppercase(), path.clone(), summary));
        }
    }
    ops
}

async fn spawn() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(dir.path().join("state"));
    (App::spawn(config).await.unwrap(), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_and_redoc_render_every_operation_offline() {
    let Some(chromium) = mictlanx_testkit::tools::require_tool("chromium") else {
        return;
    };
    let (app, dir) = spawn().await;
    let doc: Value = reqwest::get(app.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops = operations(&doc);
    assert!(ops.len() >= 25, "{} operations", ops.len());
    let (proxy, outside, relayed) = recording_proxy(app.addr).await;

    let baseline = dump_dom(
        &chromium,
        &app.url("/health"),
        proxy,
        &dir.path().join("chromium-blank"),
    )
    .await;
    assert!(baseline.contains("\"status\""), "{baseline}");
    let browser_own: BTreeSet<String> = outside
        .lock()
        .unwrap()
        .drain(..)
        .map(|t| host_of(&t))
        .collect();
    println!("chromium's own background hosts (not the page's): {browser_own:?}");

    // Swagger UI: one block per operation, carrying its method class and its path in `data-path`.
    let dom = unescape(
        &dump_dom(
            &chromium,
            &app.url("/docs"),
            proxy,
            &dir.path().join("chromium-docs"),
        )
        .await,
    );
    assert!(
        dom.contains("swagger-ui"),
        "Swagger UI rendered: {}",
        &dom[..dom.len().min(2000)]
    );
    let mut missing = Vec::new();
    for (method, path, summary) in &ops {
        let block = format!("opblock-{}", method.to_lowercase());
        if !dom.contains(&format!("data-path=\"{path}\""))
            || !dom.contains(&block)
            || !dom.contains(summary.as_str())
        {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not rendered by Swagger UI: {missing:?}"
    );

    // ReDoc, under the prefix this time: every operation's summary (menu and section) and path.
    let dom = unescape(
        &dump_dom(
            &chromium,
            &app.url("/mictlanx/redoc"),
            proxy,
            &dir.path().join("chromium-redoc"),
        )
        .await,
    );
    let mut missing = Vec::new();
    for (method, path, summary) in &ops {
        if !dom.contains(summary.as_str()) || !dom.contains(path.as_str()) {
            missing.push(format!("{method} {path} ({summary})"));
        }
    }
    assert!(
        missing.is_empty(),
        "not rendered by ReDoc: {missing:?}\n{}",
        &dom[..dom.len().min(3000)]
    );

    assert!(
        *relayed.lock().unwrap() >= 4,
        "the pages, their scripts and the spec went through the proxy"
    );
    let outside: Vec<String> = outside
        .lock()
        .unwrap()
        .iter()
        .filter(|t| !browser_own.contains(&host_of(t)))
        .cloned()
        .collect();
    assert!(
        outside.is_empty(),
        "requests that would have left 127.0.0.1: {outside:?}"
    );
    app.stop().await;
}
