//! A phase 1 with `Update: 1` rewrites an existing object's metadata on its holders at once (peer API §3.1
//! step 6). The router gives that change a version of its own, so the upload that follows commits above it
//! (the peers refuse a commit older than what they hold), and every holder serves the new state.

use mictlanx_testkit::datapath::{dto, object, start};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_update_at_phase_1_is_versioned_and_the_upload_commits_above_it() {
    let c = start(3, |_| {}).await;
    let v1 = object(1, 20_000);
    c.put("upd", "k", &v1, 2).await;
    let before = c.app().state.rm.object_version("upd", "k").await.unwrap();

    let v2 = object(2, 21_000);
    let res = c
        .http
        .post(c.url("/api/v4/buckets/upd/metadata"))
        .header("Update", "1")
        .json(&dto(
            "upd",
            "k",
            "k",
            v2.len(),
            2,
            json!({"note": "second"}),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let meta: Value = res.json().await.unwrap();
    let after = c.app().state.rm.object_version("upd", "k").await.unwrap();
    assert!(after > before, "the in-place update moved the version");
    // every holder already serves the new tags
    let md: Value = c
        .get("/api/v4/buckets/upd/metadata/k")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(md["metadata"]["tags"]["note"], "second");

    let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
    let res = c.put_chunked_raw(&task, v2.clone()).await;
    assert_eq!(
        res.status(),
        200,
        "the upload commits above the update's version"
    );
    assert_eq!(c.get_bytes("upd", "k").await, v2);
    let last = c.app().state.rm.object_version("upd", "k").await.unwrap();
    assert!(last > after);
    c.stop().await;
}
