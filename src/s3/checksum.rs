//! The SDKs' checksums (`x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`), sent as a header or as an
//! `aws-chunked` trailer named by `x-amz-trailer`: computed while the body streams (s3s' hashers) and
//! compared when it ends, before the last frame reaches the peers ([`super::body`]). The checked values are
//! kept with the object as tags `s3.checksum-{algorithm}` (sent with the ETag after the bytes), echoed by the
//! PutObject or UploadPart answer, and answered by a GetObject or HeadObject with `x-amz-checksum-mode:
//! ENABLED` on the whole object.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::Checksum;
use s3s::TrailingHeaders;

use mictlanx_proto::model::Metadata;

/// Tag of one checked checksum: this prefix and the algorithm (`crc32`, `crc32c`, …).
const TAG_PREFIX: &str = "s3.checksum-";

const NAMES: [&str; 5] = [
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
];

/// The SDK checksums an input declares: PutObject and UploadPart carry the same five fields.
macro_rules! declared_checksums {
    ($input:expr) => {
        s3s::dto::Checksum {
            checksum_crc32: $input.checksum_crc32.clone(),
            checksum_crc32c: $input.checksum_crc32c.clone(),
            checksum_crc64nvme: $input.checksum_crc64nvme.clone(),
            checksum_sha1: $input.checksum_sha1.clone(),
            checksum_sha256: $input.checksum_sha256.clone(),
            ..Default::default()
        }
    };
}
pub(super) use declared_checksums;

/// An answer (`$ty`: PutObject, UploadPart, GetObject and HeadObject outputs carry the same five fields)
/// with the checksums of `$sums` and the other fields given.
macro_rules! with_checksums {
    ($sums:expr, $ty:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let sums: s3s::dto::Checksum = $sums;
        s3s::dto::$ty {
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_crc64nvme: sums.checksum_crc64nvme,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            $($field $(: $value)?,)*
            ..Default::default()
        }
    }};
}
pub(super) use with_checksums;

/// The tags that keep `c`'s values with the object.
pub fn tags(c: &Checksum) -> BTreeMap<String, String> {
    fields(c)
        .iter()
        .zip(NAMES)
        .filter_map(|(value, name)| {
            let algorithm = name.strip_prefix("x-amz-checksum-")?;
            Some((format!("{TAG_PREFIX}{algorithm}"), (*value)?.clone()))
        })
        .collect()
}

/// The checksums kept with an object ([`tags`]).
pub fn of_metadata(meta: &Metadata) -> Checksum {
    let get = |algorithm: &str| meta.tags.get(&format!("{TAG_PREFIX}{algorithm}")).cloned();
    Checksum {
        checksum_crc32: get("crc32"),
        checksum_crc32c: get("crc32c"),
        checksum_crc64nvme: get("crc64nvme"),
        checksum_sha1: get("sha1"),
        checksum_sha256: get("sha256"),
        ..Default::default()
    }
}

/// The checksums a body must match.
pub struct Expected {
    hasher: ChecksumHasher,
    /// Values sent as headers.
    declared: Checksum,
    /// Values that arrive as trailers, readable once the body ended.
    trailers: Option<TrailingHeaders>,
}

fn fields(c: &Checksum) -> [Option<&String>; 5] {
    [
        c.checksum_crc32.as_ref(),
        c.checksum_crc32c.as_ref(),
        c.checksum_crc64nvme.as_ref(),
        c.checksum_sha1.as_ref(),
        c.checksum_sha256.as_ref(),
    ]
}

impl Expected {
    /// What the request announces (`declared` from its headers, `x-amz-trailer` for trailers); `None`
    /// when it announces no checksum.
    pub fn of(
        headers: &HeaderMap,
        declared: Checksum,
        trailers: Option<TrailingHeaders>,
    ) -> Option<Expected> {
        let trailer = headers
            .get("x-amz-trailer")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let given = fields(&declared);
        let on = |i: usize| given[i].is_some() || trailer == NAMES[i];
        if !(0..NAMES.len()).any(on) {
            return None;
        }
        let hasher = ChecksumHasher {
            crc32: on(0).then(Crc32::new),
            crc32c: on(1).then(Crc32c::new),
            crc64nvme: on(2).then(Crc64Nvme::new),
            sha1: on(3).then(Sha1::new),
            sha256: on(4).then(Sha256::new),
        };
        Some(Expected {
            hasher,
            declared,
            trailers: trailers.filter(|_| !trailer.is_empty()),
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// The announced checksums, computed, when every one matches the bytes; `None` when one does not.
    pub fn verified(self) -> Option<Checksum> {
        let computed = self.hasher.finalize();
        let trailers = self.trailers.and_then(|t| t.take()).unwrap_or_default();
        let declared = fields(&self.declared);
        let all = fields(&computed)
            .iter()
            .zip(declared)
            .zip(NAMES)
            .all(|((got, given), name)| {
                let Some(got) = got else { return true };
                let want = given.cloned().or_else(|| {
                    trailers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| v.trim().to_string())
                });
                want.as_deref() == Some(got.as_str())
            });
        all.then_some(computed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_crc32_is_checked() {
        // CRC32 of "hello", base64
        let right = Checksum {
            checksum_crc32: Some("NhCmhg==".into()),
            ..Default::default()
        };
        let mut e = Expected::of(&HeaderMap::new(), right.clone(), None).expect("announced");
        e.update(b"hello");
        let verified = e.verified().expect("matches");
        assert_eq!(verified.checksum_crc32, right.checksum_crc32);
        assert_eq!(verified.checksum_sha256, None, "only what was announced");
        let mut e = Expected::of(&HeaderMap::new(), right, None).expect("announced");
        e.update(b"hellO");
        assert!(e.verified().is_none());
        assert!(Expected::of(&HeaderMap::new(), Checksum::default(), None).is_none());
    }

    #[test]
    fn checked_values_round_trip_through_tags() {
        let c = Checksum {
            checksum_crc32: Some("NhCmhg==".into()),
            checksum_sha256: Some("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=".into()),
            ..Default::default()
        };
        let t = tags(&c);
        assert_eq!(t.len(), 2);
        assert_eq!(t["s3.checksum-crc32"], "NhCmhg==");
        let meta = Metadata {
            key: "k".into(),
            size: 5,
            checksum: String::new(),
            tags: t,
            content_type: "x".into(),
            producer_id: "p".into(),
            ball_id: "k".into(),
            bucket_id: "b".into(),
            is_disabled: false,
        };
        assert_eq!(of_metadata(&meta), c);
    }
}
