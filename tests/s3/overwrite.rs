//! An S3 PUT of an existing key replaces the object where it is, also when every peer holds it: the old
//! bytes stay readable until the new ones commit, so a replacing PUT that breaks off mid-body leaves the
//! old object as it was.

use md5::{Digest, Md5};
use mictlanx_testkit::cluster::Cluster;

use crate::support::{clients, enable_s3, endpoint, s3cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broken_overwrite_keeps_the_old_object_when_every_peer_holds_it() {
    let Some(tools) = clients() else { return };
    // two peers and rf 2: every peer holds every object
    let c = Cluster::builder().peers(2).config(enable_s3).start().await;
    let s3 = endpoint(c.app().s3_addr.expect("S3 is on"));
    let py = &tools.python;
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(s3cli(py, &s3, &["mb", "over"]).await.0);

    let put = |name: &str, data: &[u8]| {
        let file = dir.path().join(name);
        std::fs::write(&file, data).expect("write");
        file.to_str().expect("utf-8").to_string()
    };
    let get = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let old = vec![b'o'; 300_000];
    let (ok, out) = s3cli(py, &s3, &["put", "over", "k", &put("old", &old)]).await;
    assert!(ok, "{out}");
    for peer in &c.peers {
        assert_eq!(peer.get_direct("over", "k").await.0, 200, "on every peer");
    }

    let (ok, out) = s3cli(py, &s3, &["put-cut", "over", "k"]).await;
    assert!(ok, "{out}");
    let back = get("back1");
    let (ok, out) = s3cli(py, &s3, &["get", "over", "k", &back]).await;
    assert!(ok, "the old object after a broken overwrite: {out}");
    assert_eq!(std::fs::read(&back).expect("read"), old);

    let new = vec![b'n'; 200_000];
    let (ok, out) = s3cli(py, &s3, &["put", "over", "k", &put("new", &new)]).await;
    assert!(ok, "{out}");
    assert!(out.contains(&hex::encode(Md5::digest(&new))), "{out}");
    let back = get("back2");
    assert!(s3cli(py, &s3, &["get", "over", "k", &back]).await.0);
    assert_eq!(std::fs::read(&back).expect("read"), new);
    for peer in &c.peers {
        let (status, bytes) = peer.get_direct("over", "k").await;
        assert_eq!(
            (status, bytes == new),
            (200, true),
            "the new bytes on every peer"
        );
    }
    c.stop().await;
}
