//! Access without the SDKs: with `MICTLANX_S3_ANONYMOUS` unsigned requests are served (and refused without
//! it); with `MICTLANX_S3_DOMAIN` a `{bucket}.{domain}` host addresses the bucket (virtual-host style)
//! while path style keeps working.

use mictlanx_testkit::cluster::Cluster;

use crate::support::endpoint;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anonymous_access_and_virtual_hosts() {
    let c = Cluster::builder()
        .config(|cfg| {
            cfg.s3.port = 0;
            cfg.s3.anonymous = true;
            cfg.s3.domain = Some("s3.mictlanx.test".into());
        })
        .start()
        .await;
    let s3 = endpoint(c.app().s3_addr.expect("anonymous access turns S3 on"));
    let http = reqwest::Client::new();

    // path style, unsigned
    let res = http
        .put(format!("{s3}/anon"))
        .send()
        .await
        .expect("create bucket");
    assert_eq!(res.status(), 200);
    let res = http
        .put(format!("{s3}/anon/dir/file.txt"))
        .body("unsigned bytes")
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(etag, format!("\"{:x}\"", md5_of(b"unsigned bytes")));

    // virtual-host style: the bucket is in the host name
    let res = http
        .get(format!("{s3}/dir/file.txt"))
        .header("host", "anon.s3.mictlanx.test")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "unsigned bytes");
    let res = http
        .get(format!("{s3}/?list-type=2"))
        .header("host", "anon.s3.mictlanx.test")
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .expect("xml")
        .contains("<Key>dir/file.txt</Key>"));

    // a missing key is an S3 XML 404
    let res = http
        .get(format!("{s3}/anon/nope"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert!(res
        .text()
        .await
        .expect("xml")
        .contains("<Code>NoSuchKey</Code>"));
    // an operation the facade does not offer is NotImplemented, never another 5xx
    let res = http
        .get(format!("{s3}/anon?acl"))
        .send()
        .await
        .expect("acl");
    assert_eq!(res.status(), 501);
    c.stop().await;
}

fn md5_of(bytes: &[u8]) -> u128 {
    use md5::{Digest, Md5};
    u128::from_be_bytes(Md5::digest(bytes).into())
}
