//! The SDKs' checksums (`x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`), sent as a header or as an
//! `aws-chunked` trailer named by `x-amz-trailer`: computed while the body streams (s3s' hashers) and
//! compared when it ends, before the last frame reaches the peers ([`super::body`]).

use axum::http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::Checksum;
use s3s::TrailingHeaders;

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

    /// Whether every announced checksum matches the bytes.
    pub fn matches(self) -> bool {
        let computed = self.hasher.finalize();
        let trailers = self.trailers.and_then(|t| t.take()).unwrap_or_default();
        let declared = fields(&self.declared);
        fields(&computed)
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
            })
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
        assert!(e.matches());
        let mut e = Expected::of(&HeaderMap::new(), right, None).expect("announced");
        e.update(b"hellO");
        assert!(!e.matches());
        assert!(Expected::of(&HeaderMap::new(), Checksum::default(), None).is_none());
    }
}
