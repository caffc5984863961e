//! S3 names ↔ MictlanX ids. MictlanX bucket ids and keys are canonical ids (`crate::ids`: `[A-Za-z0-9_-]`,
//! no separator runs); S3 keys are any UTF-8 up to 1024 bytes and bucket names may hold dots. The mapping:
//!
//! * a name that is already a canonical id (and does not start with [`ENCODED_PREFIX`]) is itself, so
//!   `data`/`file1` is the same object in both APIs;
//! * any other name is [`ENCODED_PREFIX`] followed by the lowercase hex of its UTF-8 bytes
//!   (`a/b.txt` → `s3x-612f622e747874`), which is canonical and decodes back exactly.
//!
//! A MictlanX id that starts with the prefix and is valid hex of UTF-8 is shown to S3 decoded; any other
//! MictlanX id is shown as is.

use s3s::{S3Error, S3ErrorCode, S3Result};

use crate::ids::is_canonical;

/// Starts every encoded name.
pub const ENCODED_PREFIX: &str = "s3x-";

/// The MictlanX id of an S3 bucket name or key.
pub fn to_mictlanx(name: &str) -> String {
    if is_canonical(name) && !name.starts_with(ENCODED_PREFIX) {
        name.to_string()
    } else {
        format!("{ENCODED_PREFIX}{}", hex::encode(name.as_bytes()))
    }
}

/// Why S3 refuses to create a bucket of this name, beyond the syntax s3s checks on every request (3–63
/// characters of `[a-z0-9.-]`, a letter or digit at both ends, no `..`, not an IP address, no `xn--`): a
/// period next to a hyphen, or a prefix or suffix S3 reserves. Buckets named otherwise before stay usable.
pub fn refused_bucket_name(name: &str) -> Option<&'static str> {
    if name.contains(".-") || name.contains("-.") {
        return Some("Bucket name must not have a period next to a hyphen");
    }
    if name.starts_with("sthree-") || name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        return Some("Bucket name uses a prefix or suffix reserved by S3");
    }
    None
}

/// A continuation token (ListObjectsV2, ListBuckets): the hex of the name to resume after, opaque to
/// clients.
pub fn name_to_token(name: &str) -> String {
    hex::encode(name)
}

/// The name a continuation token resumes after, or `InvalidArgument`.
pub fn token_to_name(token: &str) -> S3Result<String> {
    hex::decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
        })
}

/// The S3 name of a MictlanX id.
pub fn to_s3(id: &str) -> String {
    id.strip_prefix(ENCODED_PREFIX)
        .and_then(|h| hex::decode(h).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_names_are_themselves() {
        assert_eq!(to_mictlanx("data"), "data");
        assert_eq!(to_mictlanx("file1"), "file1");
        assert_eq!(to_mictlanx("a-b_c"), "a-b_c");
        assert_eq!(to_s3("file1"), "file1");
    }

    #[test]
    fn other_names_are_encoded() {
        assert_eq!(to_mictlanx("a/b.txt"), "s3x-612f622e747874");
        assert_eq!(to_s3("s3x-612f622e747874"), "a/b.txt");
        // a canonical name that looks encoded is encoded too, so it cannot collide
        let tricky = "s3x-61";
        assert_ne!(to_mictlanx(tricky), "s3x-61");
        assert_eq!(to_s3(&to_mictlanx(tricky)), tricky);
        // a MictlanX id with the prefix but not hex stays as is
        assert_eq!(to_s3("s3x-zz"), "s3x-zz");
    }

    #[test]
    fn bucket_names_s3_refuses_to_create() {
        assert!(refused_bucket_name("foo.-bar").is_some());
        assert!(refused_bucket_name("foo-.bar").is_some());
        assert!(refused_bucket_name("data-s3alias").is_some());
        assert!(refused_bucket_name("my.dotted.bucket").is_none());
        assert!(refused_bucket_name("a-b-c").is_none());
    }

    proptest! {
        #[test]
        fn every_key_round_trips(name in "\\PC{1,200}") {
            let id = to_mictlanx(&name);
            prop_assert!(is_canonical(&id));
            prop_assert_eq!(crate::ids::sanitize(&id), id.clone());
            prop_assert_eq!(to_s3(&id), name);
        }
    }
}
