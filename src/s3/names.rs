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
