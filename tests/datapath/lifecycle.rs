//! Black-box lifecycle of the data path (`docs/router-api.md` §6.2, §8): real router, three real peers. Every
//! endpoint #11–#24 with the spec's shapes, both upload forms, rf 1–3, merge, deletes and id handling.

use std::collections::BTreeSet;

use mictlanx_testkit::datapath::{detail, dto, object, sorted_ids, start, Cluster};
use serde_json::{json, Value};

async fn cluster() -> Cluster {
    start(3, |_| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_both_forms_and_rf_1_2_3_then_get_identical_bytes() {
    let c = cluster().await;
    for rf in 1..=3u32 {
        // raw body
        let key = format!("raw-rf{rf}");
        let bytes = object(rf as u8, 300_000 + rf as usize);
        let meta = c.put_metadata("b1", &key, &bytes, rf, json!({})).await;
        assert_eq!(meta["key"], key);
        assert_eq!(meta["bucket_id"], "b1");
        assert_eq!(meta["extra"], json!({}));
        assert!(meta["service_time"].is_f64());
        let tasks = meta["tasks_ids"].as_array().unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].as_str().unwrap().len(), 21);
        assert_eq!(meta["replicas"].as_array().unwrap().len(), rf as usize);
        let res = c
            .put_chunked_raw(tasks[0].as_str().unwrap(), bytes.clone())
            .await;
        assert_eq!(res.status(), 200);
        let out: Value = res.json().await.unwrap();
        assert_eq!(out["combined_key"], format!("b1@{key}"));
        assert_eq!(out["bucket_id"], "b1");
        assert_eq!(out["key"], key);
        assert_eq!(out["size"], bytes.len());
        assert_eq!(sorted_ids(&out["peer_ids"]), sorted_ids(&meta["replicas"]));
        assert_eq!(c.get_bytes("b1", &key).await, bytes);
        let sizes: Value = c
            .get(&format!("/api/v4/buckets/b1/{key}/size"))
            .await
            .json()
            .await
            .unwrap();
        let sizes = sizes.as_array().unwrap();
        assert_eq!(sizes.len(), rf as usize, "one size per replica");
        let mut last = String::new();
        for s in sizes {
            assert_eq!(s["size"], bytes.len());
            assert_eq!(s["key"], key);
            let p = s["peer_id"].as_str().unwrap().to_string();
            assert!(p > last, "sorted by peer id");
            last = p;
        }

        // multipart
        let key = format!("mp-rf{rf}");
        let bytes = object(10 + rf as u8, 200_000);
        let meta = c.put_metadata("b1", &key, &bytes, rf, json!({})).await;
        let res = c
            .put_multipart_raw(meta["tasks_ids"][0].as_str().unwrap(), &bytes)
            .await;
        assert_eq!(res.status(), 201);
        assert!(
            res.bytes().await.unwrap().is_empty(),
            "multipart answers an empty body"
        );
        assert_eq!(c.get_bytes("b1", &key).await, bytes);
    }
    let metrics = c.metrics().await;
    for line in [
        "mictlanx_router_bytes_in_total{handler=\"/api/v4/buckets/data/{task_id}/chunked\"}",
        "mictlanx_router_bytes_in_total{handler=\"/api/v4/buckets/data/{task_id}\"}",
        "mictlanx_router_bytes_out_total{handler=\"/api/v4/buckets/{bucket_id}/{key}\"}",
    ] {
        assert!(metrics.contains(line), "missing {line}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_listing_update_disable_and_delete() {
    let c = cluster().await;
    let a = object(1, 5000);
    c.put("docs", "a", &a, 2).await;
    c.put("docs", "b", &object(2, 10), 1).await;
    c.put("docs", "empty", &[], 1).await;

    // #13 metadata: exactly four keys, integer service_time
    let res = c.get("/api/v4/buckets/docs/metadata/a").await;
    assert_eq!(res.status(), 200);
    let md: Value = res.json().await.unwrap();
    let keys: BTreeSet<&str> = md.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["service_time", "peer_id", "local_peer_id", "metadata"])
    );
    assert!(md["service_time"].is_i64());
    assert_eq!(md["metadata"]["size"], 5000);
    assert_eq!(md["metadata"]["bucket_id"], "docs");
    assert_eq!(md["metadata"]["is_disabled"], false);

    // #12 listing: each key once (a is on two peers), zero-size listed, sorted
    let listing: Value = c
        .get("/api/v4/buckets/docs/metadata")
        .await
        .json()
        .await
        .unwrap();
    let keys: Vec<&str> = listing["balls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["a", "b", "empty"]);
    assert_eq!(listing["peer_ids"], listing["peers_ids"]);
    assert_eq!(listing["peer_ids"].as_array().unwrap().len(), 3);
    assert_eq!(listing["bucket_id"], "docs");

    // a plain GET fills the cache; the update below must invalidate it (P4)
    let res = c.get("/api/v4/buckets/docs/a").await;
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(res.bytes().await.unwrap().to_vec(), a);
    assert!(c.app().state.cache.keys().contains(&"docs@a".to_string()));

    // #14 update metadata on every holder
    let mut body = dto("docs", "a", "a", 5000, 1, json!({"color": "blue"}));
    body["content_type"] = json!("text/plain");
    let res = c
        .http
        .post(c.url("/api/v4/u/buckets/docs/a"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let md: Value = c
        .get("/api/v4/buckets/docs/metadata/a")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(md["metadata"]["tags"]["color"], "blue");
    assert_eq!(md["metadata"]["content_type"], "text/plain");
    let res = c.get("/api/v4/buckets/docs/a").await;
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert_eq!(res.headers()["content-length"], "5000");
    assert_eq!(res.bytes().await.unwrap().to_vec(), a);
    let res = c
        .http
        .post(c.url("/api/v4/u/buckets/docs/nothere"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "docs@nothere not found");

    // #19 disable: metadata flagged, bytes 404
    let res = c
        .http
        .post(c.url("/api/v4/buckets/docs/b/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let md: Value = c
        .get("/api/v4/buckets/docs/metadata/b")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(md["metadata"]["is_disabled"], true);
    let res = c.get("/api/v4/buckets/docs/b").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "docs@b not found");
    let res = c
        .http
        .post(c.url("/api/v4/buckets/docs/never/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "disable answers 2xx without holders");

    // #23 delete by key: two holders → two deletes, then gone
    let res = c.delete("/api/v4/buckets/docs/a").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"n_deletes": 2, "key": "a"})
    );
    let res = c.get("/api/v4/buckets/docs/metadata/a").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "No available peers");
    let res = c.delete("/api/v4/buckets/docs/a").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "docs@a not found");
    let res = c
        .http
        .delete(c.url("/api/v4/buckets/docs/b"))
        .header("Force", "maybe")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_ball_listing_merge_and_delete_by_ball() {
    let c = cluster().await;
    let whole = object(7, 40_000);
    let full_checksum = "f".repeat(64);
    for i in 0..4usize {
        let key = format!("movie_{i}");
        let part = &whole[i * 10_000..(i + 1) * 10_000];
        let tags = json!({"index": i.to_string(), "num_chunks": "4", "chunk_size": "10000",
                          "full_checksum": full_checksum, "fullname": "movie.mp4"});
        let meta = c
            .put_metadata_raw("vid", dto("vid", &key, "movie", part.len(), 2, tags))
            .await;
        assert_eq!(meta.status(), 200);
        let meta: Value = meta.json().await.unwrap();
        let res = c
            .put_chunked_raw(meta["tasks_ids"][0].as_str().unwrap(), part.to_vec())
            .await;
        assert_eq!(res.status(), 200);
    }
    // #22 chunks: deduplicated (rf 2) and sorted by index
    let res = c.get("/api/v4/buckets/vid/metadata/movie/chunks").await;
    assert_eq!(res.status(), 200);
    let ball: Value = res.json().await.unwrap();
    let keys: Vec<&str> = ball["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["movie_0", "movie_1", "movie_2", "movie_3"]);
    assert_eq!(ball["size_bytes"], 40_000);
    assert_eq!(ball["size"], "40 KB");
    assert_eq!(ball["checksum"], full_checksum);
    assert_eq!(ball["ball_id"], "movie");

    // #20 merge = concatenation, Content-Length = Σ sizes, attachment name from tags.fullname
    let res = c
        .get("/api/v4/buckets/vid/movie/merge?attachment=true")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], "40000");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"movie.mp4\""
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), whole);
    // again from the cache (Force-Get: 0) after the first merge filled it
    let res = c
        .http
        .get(c.url("/api/v4/buckets/vid/movie/merge"))
        .header("Force-Get", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().to_vec(), whole);
    let res = c.get("/api/v4/buckets/vid/nomovie/merge").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "Could not fetch metadata.");
    // a ball whose chunk 1 is missing, and one without a chunk count
    for (key, tags) in [
        ("gap_0", json!({"index": "0", "num_chunks": "3"})),
        ("gap_2", json!({"index": "2", "num_chunks": "3"})),
        ("nocount_0", json!({"index": "0"})),
    ] {
        let meta = c
            .put_metadata_raw("vid", dto("vid", key, key, 4, 1, tags))
            .await;
        let meta: Value = meta.json().await.unwrap();
        let res = c
            .put_chunked_raw(meta["tasks_ids"][0].as_str().unwrap(), vec![1, 2, 3, 4])
            .await;
        assert_eq!(res.status(), 200);
    }
    let res = c.get("/api/v4/buckets/vid/gap/merge").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "Chunk gap_1 not found");
    let res = c.get("/api/v4/buckets/vid/nocount/merge").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "Invalid number of chunks.");

    // #24 delete by ball id: 4 chunks × 2 replicas
    let res = c.delete("/api/v4/buckets/vid/bid/movie").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"n_deletes": 8, "ball_id": "movie"})
    );
    let res = c.get("/api/v4/buckets/vid/metadata/movie/chunks").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "vid@movie not found");
    let res = c.delete("/api/v4/buckets/vid/bid/movie").await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"n_deletes": 0, "ball_id": "movie"})
    );
    c.stop().await;
}

/// Phase 2, retried while the peers still refuse because they have not yet noticed that the previous
/// (aborted) upload of the same task ended (a peer answers 409 until then, and the router 502).
async fn upload_settled(c: &Cluster, task: &str, bytes: Vec<u8>) -> reqwest::Response {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let res = c.put_chunked_raw(task, bytes.clone()).await;
        if res.status() != 502 || std::time::Instant::now() > deadline {
            return res;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_cases_keep_the_spec_texts() {
    let c = cluster().await;
    let bytes = object(3, 1000);
    c.put("e", "full", &bytes, 3).await;

    // 666 when every live peer holds the key
    let res = c
        .put_metadata_raw("e", dto("e", "full", "full", 1000, 1, json!({})))
        .await;
    assert_eq!(res.status(), 404);
    let d = detail(res).await;
    assert_eq!(d["code"], 666);
    assert_eq!(d["msg"], "No available peers.");
    assert_eq!(d["suggestion"], "Add more peers or delete replicas.");
    assert_eq!(d["replicas"], json!(["peer-0", "peer-1", "peer-2"]));
    assert_eq!(
        (d["bucket_id"].clone(), d["key"].clone()),
        (json!("e"), json!("full"))
    );

    // bucket mismatch
    let res = c
        .put_metadata_raw("e", dto("other", "k", "k", 1, 1, json!({})))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(detail(res).await, "Bucket ID mismatch: e != other");

    // 422 with every problem, in field order
    let res = c
        .put_metadata_raw("e", json!({"bucket_id": "e", "key": "k", "size": "x"}))
        .await;
    assert_eq!(res.status(), 422);
    let d = detail(res).await;
    let locs: Vec<Value> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"].clone())
        .collect();
    assert_eq!(
        locs,
        vec![
            json!(["body", "ball_id"]),
            json!(["body", "checksum"]),
            json!(["body", "size"]),
            json!(["body", "producer_id"])
        ]
    );

    // unknown task
    let res = c.put_chunked_raw("nosuchtask", vec![1, 2, 3]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "Task(nosuchtask) not found");
    // The answer comes before the body is read; the router drops the rest of the body before it closes
    // the connection, so a large upload still receives the JSON error, not a reset connection.
    let big = object(5, 8 * 1024 * 1024);
    for _ in 0..10 {
        let res = c.put_chunked_raw("nosuchtask", big.clone()).await;
        assert_eq!(res.status(), 404);
        assert_eq!(detail(res).await, "Task(nosuchtask) not found");
    }

    // Content-Length ≠ declared size → 400 before reading; the group stays for a retry
    let data = object(4, 2000);
    let meta = c.put_metadata("e", "sized", &data, 2, json!({})).await;
    let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/data/{task}/chunked")))
        .body(vec![0u8; 5])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(detail(res).await, "Data size mistmatch 5 != 2000");
    // streamed body longer than declared → 400, nothing stored
    let mut long = data.clone();
    long.extend_from_slice(&[9; 100]);
    let res = c.put_chunked_raw(&task, long).await;
    assert_eq!(res.status(), 400);
    assert_eq!(detail(res).await, "Data size mistmatch 2100 != 2000");
    // streamed body shorter than declared → 400 (peers need a moment to drop the aborted upload)
    let res = upload_settled(&c, &task, data[..1500].to_vec()).await;
    assert_eq!(res.status(), 400);
    assert_eq!(detail(res).await, "Data size mistmatch 1500 != 2000");
    let res = c.get("/api/v4/buckets/e/sized").await;
    assert_eq!(res.status(), 404, "aborted uploads store nothing");
    // the retry with the right bytes succeeds on the same group
    let res = upload_settled(&c, &task, data.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(c.get_bytes("e", "sized").await, data);
    // the group is gone after success
    let res = c.put_chunked_raw(&task, data.clone()).await;
    assert_eq!(res.status(), 404);

    // multipart without multipart content type
    let meta = c.put_metadata("e", "mp", &data, 1, json!({})).await;
    let task = meta["tasks_ids"][0].as_str().unwrap();
    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/data/{task}")))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        detail(res).await,
        json!([{"type":"missing","loc":["body","data"],"msg":"Field required","input":null}])
    );

    // missing objects
    let res = c.get("/api/v4/buckets/e/metadata/ghost").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "No available peers");
    let res = c.get("/api/v4/buckets/e/ghost").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        detail(res).await,
        "No found available replica peer or data, try again later."
    );
    let res = c.get("/api/v4/buckets/e/ghost/size").await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));

    // bad Chunk-Size / attachment
    let res = c
        .http
        .get(c.url("/api/v4/buckets/e/full?attachment=maybe"))
        .header("Chunk-Size", "lots")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(detail(res).await.as_array().unwrap().len(), 2);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_canonical_at_every_endpoint() {
    let c = cluster().await;
    let bytes = object(5, 777);
    // key "a b" is stored as "ab"; "x@y" as "xy"
    let out = c.put("canon", "a b", &bytes, 1).await;
    assert_eq!(out["key"], "ab");
    assert_eq!(out["combined_key"], "canon@ab");
    assert_eq!(c.get_bytes("canon", "a%20b").await, bytes);
    assert_eq!(c.get_bytes("canon", "ab").await, bytes);
    c.put("canon", "x@y", &bytes[..10], 1).await;
    assert_eq!(c.get_bytes("canon", "xy").await, bytes[..10].to_vec());
    let md: Value = c
        .get("/api/v4/buckets/canon/metadata/x%40y")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(md["metadata"]["key"], "xy");

    // ids that sanitize to nothing
    let res = c.get("/api/v4/buckets/canon/%40%40").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        detail(res).await,
        "Invalid key: '@@' sanitizes to an empty string"
    );
    let res = c.get("/api/v4/buckets/%24/metadata").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        detail(res).await,
        "Invalid bucket_id: '$' sanitizes to an empty string"
    );
    let res = c.delete("/api/v4/buckets/canon/bid/%21").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        detail(res).await,
        "Invalid ball_id: '!' sanitizes to an empty string"
    );

    // the cache answers a non-forced GET after a forced one filled it
    let res = c
        .get("/api/v4/buckets/canon/ab?attachment=1&filename=r%C3%A9sum%C3%A9.txt")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
    assert!(
        c.app().state.cache.keys().contains(&"canon@ab".to_string()),
        "the read filled the cache"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadowing_follows_the_table_order() {
    let c = cluster().await;
    let bytes = object(8, 321);
    c.put("sh", "metadata", &bytes, 1).await;
    // #12, not the bytes of key `metadata`
    let listing: Value = c
        .get("/api/v4/buckets/sh/metadata")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listing["balls"][0]["key"], "metadata");
    // #11: the size of key `metadata` — an array; empty, because on the peer the same path is the
    // metadata of key `size` (docs/peer-api.md §6: the size of a key named `metadata` cannot be asked)
    let res = c.get("/api/v4/buckets/sh/metadata/size").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
    // #13: the metadata of key `merge` (absent), not a merge of ball `metadata`
    let res = c.get("/api/v4/buckets/sh/metadata/merge").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "No available peers");
    // #15: put metadata into bucket `data`
    let res = c
        .put_metadata_raw("data", dto("data", "k", "k", 3, 1, json!({})))
        .await;
    assert_eq!(res.status(), 200);
    // 405 lists every method of the path, in table order
    let res = c
        .http
        .put(c.url("/api/v4/buckets/sh/k"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, DELETE");
    // #23 reaches key `metadata`
    let res = c.delete("/api/v4/buckets/sh/metadata").await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"n_deletes": 1, "key": "metadata"})
    );
    // every data route is documented
    let doc: Value = c.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/api/v4/buckets/{bucket_id}/{key}/size",
        "/api/v4/buckets/{bucket_id}/metadata",
        "/api/v4/buckets/{bucket_id}/metadata/{key}",
        "/api/v4/u/buckets/{bucket_id}/{key}",
        "/api/v4/buckets/data/{task_id}",
        "/api/v4/buckets/data/{task_id}/chunked",
        "/api/v4/buckets/data/{task_id}/chunkedv1",
        "/api/v4/buckets/{bucket_id}/{key}/disable",
        "/api/v4/buckets/{bucket_id}/{ball_id}/merge",
        "/api/v4/buckets/{bucket_id}/{key}",
        "/api/v4/buckets/{bucket_id}/metadata/{ball_id}/chunks",
        "/api/v4/buckets/{bucket_id}/bid/{ball_id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    c.stop().await;
}
