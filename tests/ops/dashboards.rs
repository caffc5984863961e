//! The operator's view works: every metric a Grafana dashboard queries is exported by a live router or a
//! live peer, and a real Prometheus on a copy of `config/prometheus.yml` scrapes a live router and three
//! live peers (all four targets `up`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Every `expr` string anywhere in a dashboard (panels, rows' panels, targets).
fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// PromQL words that are not metric names.
const PROMQL_WORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
];

/// The metric names a PromQL expression selects: identifiers outside strings, label matchers `{…}`,
/// ranges `[…]` and `by (…)` lists, that are not functions (followed by `(`) or keywords.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut cleaned = String::new();
    let (mut in_str, mut depth_brace, mut depth_bracket) = (false, 0, 0);
    for c in expr.chars() {
        match c {
            '"' => in_str = !in_str,
            _ if in_str => {}
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            _ if depth_brace > 0 || depth_bracket > 0 => {}
            c => cleaned.push(c),
        }
    }
    // Drop label lists of aggregations: `by (a, b)` / `without (a)`.
    let mut words = cleaned.clone();
    for kw in ["by", "without", "on", "ignoring"] {
        while let Some(i) = find_word(&words, kw) {
            let Some(open) = words[i..].find('(').map(|o| i + o) else {
                break;
            };
            let close = words[open..]
                .find(')')
                .map(|c| open + c)
                .unwrap_or(words.len() - 1);
            words.replace_range(i..=close, " ");
        }
    }
    let bytes: Vec<char> = words.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_' || bytes[i] == ':')
            {
                i += 1;
            }
            let word: String = bytes[start..i].iter().collect();
            let next = bytes[i..].iter().find(|c| !c.is_whitespace());
            if next != Some(&'(') && !PROMQL_WORDS.contains(&word.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        edge(before) && edge(after)
    })
}

/// The series names of a Prometheus text exposition.
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

fn dashboard_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("config/grafana/dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboard");
    files
}

#[test]
fn promql_metric_names_are_extracted_without_functions_labels_or_keywords() {
    let names = metric_names(
        "histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket{handler=~\"/a|b\"}[5m]))) / on (x) foo_total",
    );
    assert_eq!(
        names,
        BTreeSet::from([
            "http_request_duration_seconds_bucket".to_string(),
            "foo_total".to_string()
        ])
    );
    assert_eq!(
        metric_names("mictlanx_router_peer_available"),
        BTreeSet::from(["mictlanx_router_peer_available".to_string()])
    );
}

#[tokio::test]
async fn every_metric_a_dashboard_queries_is_exported_by_the_router_or_a_peer() {
    let c = mictlanx_testkit::datapath::start(1, |_| {}).await;
    // A PUT and two GETs (a miss, then a hit), so labelled series exist.
    let bytes = mictlanx_testkit::datapath::object(7, 3000);
    c.put("dash", "k", &bytes, 1).await;
    assert_eq!(c.get_bytes("dash", "k").await, bytes);
    assert_eq!(c.get_bytes("dash", "k").await, bytes);
    let router = exported(&c.metrics().await);
    let peer_url = format!("http://127.0.0.1:{}/metrics", c.ports[0]);
    let res = c.http.get(&peer_url).send().await.unwrap();
    let peer_status = res.status();
    let peer = exported(&res.text().await.unwrap());

    let mut missing = Vec::new();
    let mut queried = 0;
    for file in dashboard_files() {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{} is JSON: {e}", file.display()));
        let mut all = Vec::new();
        exprs(&doc, &mut all);
        for expr in all {
            for name in metric_names(&expr) {
                queried += 1;
                let source = if name.starts_with("mictlanx_peer_") {
                    &peer
                } else {
                    &router
                };
                if !source.contains(&name) {
                    missing.push(format!("{}: {name} (in {expr})", file.display()));
                }
            }
        }
    }
    assert!(queried >= 20, "the dashboards query {queried} names");
    assert_eq!(
        peer_status, 200,
        "the peer serves /metrics; missing: {missing:#?}"
    );
    assert!(missing.is_empty(), "queried but not exported: {missing:#?}");
    c.stop().await;
}

/// `config/prometheus.yml` with its targets pointed at this test's processes.
fn rewritten_config(router: u16, peers: &[u16], prometheus: u16) -> String {
    let mut text = std::fs::read_to_string(repo("config/prometheus.yml")).unwrap();
    text = text.replace("\"localhost:60666\"", &format!("\"127.0.0.1:{router}\""));
    for (i, port) in peers.iter().enumerate() {
        text = text.replace(
            &format!("\"localhost:{}\"", 25000 + i),
            &format!("\"127.0.0.1:{port}\""),
        );
    }
    text = text.replace("\"localhost:9090\"", &format!("\"127.0.0.1:{prometheus}\""));
    assert!(
        !text.contains("\"localhost:"),
        "every target rewritten:\n{text}"
    );
    text.replace("scrape_interval: 5s", "scrape_interval: 1s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_on_the_shipped_config_scrapes_the_router_and_three_peers() {
    let Some(prometheus) = mictlanx_testkit::tools::require_tool("prometheus") else {
        return;
    };
    let c = mictlanx_testkit::datapath::start(3, |_| {}).await;
    let port = mictlanx_testkit::process::free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        rewritten_config(c.app().addr.port(), &c.ports, port),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");

    let url = format!("http://127.0.0.1:{port}/api/v1/targets?state=active");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    let up = loop {
        if let Ok(res) = c.http.get(&url).send().await {
            if let Ok(v) = res.json::<Value>().await {
                let targets = v["data"]["activeTargets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let ours: Vec<(String, String)> = targets
                    .iter()
                    .filter(|t| t["labels"]["job"] != "prometheus")
                    .map(|t| {
                        (
                            t["labels"]["job"].as_str().unwrap_or_default().to_string(),
                            t["health"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                last = v;
                if ours.len() == 4 && ours.iter().all(|(_, h)| h == "up") {
                    break ours;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "targets not all up within 60 s: {last}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let jobs: Vec<&str> = up.iter().map(|(j, _)| j.as_str()).collect();
    assert_eq!(
        jobs.iter().filter(|j| **j == "mictlanx-router").count(),
        1,
        "{jobs:?}"
    );
    assert_eq!(
        jobs.iter().filter(|j| **j == "mictlanx-peer").count(),
        3,
        "{jobs:?}"
    );
    let peer_ids: BTreeSet<&str> = last["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["labels"]["peer_id"].as_str())
        .collect();
    assert_eq!(
        peer_ids.len(),
        3,
        "each peer target carries its peer_id label"
    );
    let _ = child.kill().await;
    c.stop().await;
}
