//! What S3 knows of an object beyond its bytes, kept in the MictlanX metadata's `tags` (so it is replicated,
//! healed and cached with the object):
//!
//! * `s3.etag`: the ETag without quotes — the MD5 hex of the bytes, or `md5(concat(part md5s))-N` for a
//!   multipart object;
//! * `s3.mtime`: the time of the write since the epoch, as `seconds.millis` (S3 `Last-Modified`; older
//!   objects carry whole seconds). Listings show the milliseconds, so a file written and uploaded within
//!   the same second is not older than its copy and `aws s3 sync` does not upload it again; HTTP dates
//!   drop them;
//! * `x-amz-meta-{name}`: user metadata, names lowercased as S3 does;
//! * `s3.manifest` and `s3.size` on a completed multipart object: its MictlanX bytes are the manifest
//!   ([`super::manifest`]) and `s3.size` is the size of the S3 object.
//!
//! An object MictlanX clients wrote has none of them: its ETag is its `checksum` (a SHA-256, 64 hex
//! digits, which no S3 client mistakes for an MD5) and its Last-Modified the epoch.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3s::dto::{ETag, Timestamp};

use mictlanx_proto::model::Metadata;

pub const ETAG: &str = "s3.etag";
pub const MTIME: &str = "s3.mtime";
pub const USER_PREFIX: &str = "x-amz-meta-";
pub const MANIFEST: &str = "s3.manifest";
pub const SIZE: &str = "s3.size";

/// The ETag of an object (without quotes).
pub fn etag_value(meta: &Metadata) -> String {
    if let Some(e) = meta.tags.get(ETAG).filter(|e| !e.is_empty()) {
        return e.clone();
    }
    if !meta.checksum.is_empty() {
        return meta.checksum.clone();
    }
    format!("mictlanx-{}", meta.size)
}

pub fn etag(meta: &Metadata) -> ETag {
    ETag::Strong(etag_value(meta))
}

/// `Last-Modified`, to the millisecond.
pub fn last_modified(meta: &Metadata) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(mtime_millis(meta)))
}

/// `Last-Modified` to the second, as the conditional headers' HTTP dates compare it.
pub fn last_modified_second(meta: &Metadata) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_secs(mtime_millis(meta) / 1000))
}

/// The write time in milliseconds since the epoch: `seconds.millis`, or whole seconds; 0 when absent.
fn mtime_millis(meta: &Metadata) -> u64 {
    let Some(t) = meta.tags.get(MTIME) else {
        return 0;
    };
    let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
    let Ok(secs) = secs.parse::<u64>() else {
        return 0;
    };
    let millis = format!("{frac:0<3}")
        .get(..3)
        .and_then(|m| m.parse::<u64>().ok())
        .unwrap_or(0);
    secs.saturating_mul(1000).saturating_add(millis)
}

/// The user metadata (`x-amz-meta-*` without the prefix).
pub fn user_metadata(meta: &Metadata) -> Option<s3s::dto::Metadata> {
    let map: s3s::dto::Metadata = meta
        .tags
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(USER_PREFIX)?.to_string(), v.clone())))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// The tags of a new object: its user metadata and the write time (and the ETag when known before the
/// body).
pub fn new_tags(
    user: Option<&s3s::dto::Metadata>,
    etag: Option<String>,
) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = user
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                format!("{USER_PREFIX}{}", k.to_ascii_lowercase()),
                v.clone(),
            )
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    tags.insert(
        MTIME.into(),
        format!("{}.{:03}", now.as_secs(), now.subsec_millis()),
    );
    if let Some(e) = etag {
        tags.insert(ETAG.into(), e);
    }
    tags
}

/// The tag that records an ETag learnt after the body: sent with the bytes as a late tag.
pub fn etag_tag(etag: String) -> BTreeMap<String, String> {
    BTreeMap::from([(ETAG.to_string(), etag)])
}

/// Whether the object is a completed multipart upload (its bytes are a manifest).
pub fn is_manifest(meta: &Metadata) -> bool {
    meta.tags.contains_key(MANIFEST)
}

/// The size of the S3 object.
pub fn size(meta: &Metadata) -> u64 {
    meta.tags
        .get(SIZE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(meta.size)
}

/// The ETag of a multipart object: the MD5 of the concatenated binary part MD5s, `-` the part count.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in part_md5s {
        h.update(p);
    }
    let digest: [u8; 16] = h.finalize().into();
    format!("{}-{}", hex::encode(digest), part_md5s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(tags: &[(&str, &str)], checksum: &str) -> Metadata {
        Metadata {
            key: "k".into(),
            size: 3,
            checksum: checksum.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            content_type: "text/plain".into(),
            producer_id: "p".into(),
            ball_id: "k".into(),
            bucket_id: "b".into(),
            is_disabled: false,
        }
    }

    #[test]
    fn etag_prefers_the_s3_tag_then_the_checksum() {
        assert_eq!(etag_value(&meta(&[(ETAG, "abc")], "sha")), "abc");
        assert_eq!(etag_value(&meta(&[], "sha")), "sha");
        assert_eq!(etag_value(&meta(&[], "")), "mictlanx-3");
    }

    #[test]
    fn user_metadata_round_trips() {
        let mut user = s3s::dto::Metadata::new();
        user.insert("Color".into(), "blue".into());
        let tags = new_tags(Some(&user), None);
        let m = meta(
            &tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            "",
        );
        assert_eq!(
            user_metadata(&m).unwrap().get("color").map(String::as_str),
            Some("blue")
        );
        assert!(last_modified(&m) != Timestamp::from(UNIX_EPOCH));
    }

    #[test]
    fn the_write_time_keeps_milliseconds_and_reads_whole_seconds() {
        let at = |t: &str| {
            let m = meta(&[(MTIME, t)], "");
            (last_modified(&m), last_modified_second(&m))
        };
        let ms = |n: u64| Timestamp::from(UNIX_EPOCH + Duration::from_millis(n));
        assert_eq!(
            at("1765115473.512"),
            (ms(1_765_115_473_512), ms(1_765_115_473_000))
        );
        assert_eq!(
            at("1765115473.5"),
            (ms(1_765_115_473_500), ms(1_765_115_473_000))
        );
        assert_eq!(
            at("1765115473"),
            (ms(1_765_115_473_000), ms(1_765_115_473_000))
        );
        assert_eq!(at("garbage"), (ms(0), ms(0)));
        let fresh = meta(
            &new_tags(None, None)
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            "",
        );
        assert!(fresh.tags[MTIME].contains('.'), "{:?}", fresh.tags);
    }

    #[test]
    fn multipart_etag_is_md5_of_part_md5s() {
        use md5::{Digest, Md5};
        let a: [u8; 16] = Md5::digest(b"a").into();
        let b: [u8; 16] = Md5::digest(b"b").into();
        let mut both = a.to_vec();
        both.extend_from_slice(&b);
        let want = format!("{}-2", hex::encode(Md5::digest(&both)));
        assert_eq!(multipart_etag(&[a, b]), want);
    }
}
