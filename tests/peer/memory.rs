//! 64 MiB through both data forms in constant memory. The body is generated as a stream and the GET is
//! hashed as a stream, so neither the test nor the (in-process) peer may hold the object: the process's
//! peak RSS (VmHWM) must grow by less than 32 MiB. The test runs again alone in a child process of the test
//! binary (`isolate::alone`), so no other test of the binary inflates the peak.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use mictlanx_testkit::isolate;
use mictlanx_testkit::peer::*;
use sha2::Digest;

const SIZE: u64 = 64 * 1024 * 1024;
const MAX_GROWTH_KIB: u64 = 32 * 1024;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM line")
}

/// The object stream plus a handle on the SHA-256 of what it produced.
fn hashed_stream(
    seed: u64,
) -> (
    impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>>,
    Arc<Mutex<sha2::Sha256>>,
) {
    let hasher = Arc::new(Mutex::new(sha2::Sha256::new()));
    let h = hasher.clone();
    let stream = object_stream(seed, SIZE).inspect(move |c| {
        if let Ok(c) = c {
            h.lock().unwrap().update(c);
        }
    });
    (stream, hasher)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_both_forms_in_constant_memory() {
    if !isolate::alone(concat!(
        module_path!(),
        "::sixty_four_mib_both_forms_in_constant_memory"
    )) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-mem", dir.path()).await;
    let c = http_client();
    // warm up pools and buffers with a small object
    let task = put_metadata(&c, &peer, "b", "warm", 1 << 20).await;
    assert_eq!(
        upload_chunked(
            &c,
            &peer,
            &task,
            reqwest::Body::wrap_stream(object_stream(9, 1 << 20))
        )
        .await
        .status(),
        201
    );
    assert_eq!(get_object_sha(&c, &peer, "b", "warm").await.0, 200);
    let before = vm_hwm_kib();

    let (stream, hasher) = hashed_stream(1);
    let task = put_metadata(&c, &peer, "b", "raw", SIZE).await;
    let res = upload_chunked(&c, &peer, &task, reqwest::Body::wrap_stream(stream)).await;
    assert_eq!(res.status(), 201);
    let expected = hex::encode(hasher.lock().unwrap().clone().finalize());
    assert_eq!(
        get_object_sha(&c, &peer, "b", "raw").await,
        (200, expected, SIZE)
    );

    let (stream, hasher) = hashed_stream(2);
    let task = put_metadata(&c, &peer, "b", "multipart", SIZE).await;
    assert_eq!(
        upload_multipart(&c, &peer, &task, stream).await.status(),
        201
    );
    let expected = hex::encode(hasher.lock().unwrap().clone().finalize());
    assert_eq!(
        get_object_sha(&c, &peer, "b", "multipart").await,
        (200, expected, SIZE)
    );

    let after = vm_hwm_kib();
    eprintln!(
        "VmHWM before {before} KiB, after {after} KiB, growth {} KiB",
        after.saturating_sub(before)
    );
    assert!(
        after.saturating_sub(before) < MAX_GROWTH_KIB,
        "peak RSS grew by {} KiB",
        after - before
    );
    peer.shutdown().await;
}
