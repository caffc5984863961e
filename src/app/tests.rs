//! Two routers in one process keep separate `/metrics`: each `App` owns its recorder.

use super::App;
use crate::config::Config;

/// `http_requests_total{handler="/health",method="GET",status="2xx"}` in `text`, 0 when absent.
fn health_requests(text: &str) -> f64 {
    let series = r#"http_requests_total{handler="/health",method="GET",status="2xx"} "#;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn two_apps_in_one_process_count_into_their_own_recorders() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = App::spawn(Config::for_tests(da.path().to_path_buf()))
        .await
        .expect("app a");
    let b = App::spawn(Config::for_tests(db.path().to_path_buf()))
        .await
        .expect("app b");
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let res = http.get(a.url("/health")).send().await.unwrap();
        assert!(res.status().is_success());
    }
    let res = http.get(b.url("/health")).send().await.unwrap();
    assert!(res.status().is_success());

    let scrape = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let (text_a, text_b) = (
        scrape(a.url("/metrics")).await,
        scrape(b.url("/metrics")).await,
    );
    assert_eq!(health_requests(&text_a), 3.0, "{text_a}");
    assert_eq!(health_requests(&text_b), 1.0, "{text_b}");
    // Start-up registrations land in both recorders, not in one shared one.
    for text in [&text_a, &text_b] {
        assert!(
            text.contains("mictlanx_router_cache_hits_total 0"),
            "{text}"
        );
        assert!(text.contains("mictlanx_router_leader"), "{text}");
    }
    a.stop().await;
    b.stop().await;
}
