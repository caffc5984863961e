//! The peer API headers (`docs/peer-api.md` §1, §9, §11): their names, and the `Mictlanx-Metadata`
//! encoding (standard base64 with padding of the compact JSON of a `Metadata`). Pure helpers shared by the
//! storage peer, which produces them, and the router, which reads them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::BTreeMap;

use crate::model::Metadata;

/// `Task-Id`: request (put metadata); the new task's id.
pub const TASK_ID: &str = "task-id";
/// `Update`: request (put metadata); truthy (`1`, `true`) also updates a committed object in place.
pub const UPDATE: &str = "update";
/// `Force`: request (deletes); accepted, no effect.
pub const FORCE: &str = "force";
/// `n-deletes: <u64>`: response of both deletes, 404 and 409 included.
pub const N_DELETES: &str = "n-deletes";
/// `Object-Version: <u64>`: request (phase 1/2, disable) and response (data and metadata GET, phase-2 201).
pub const OBJECT_VERSION: &str = "object-version";
/// `Replication-Factor: <u32>`: request (phase 1) and response (data and metadata GET); `0` = unknown.
pub const REPLICATION_FACTOR: &str = "replication-factor";
/// `If-Version-At-Most: <u64>`: request (delete by key); a newer committed version is kept (409).
pub const IF_VERSION_AT_MOST: &str = "if-version-at-most";
/// `Mictlanx-Metadata`: response of the data GET (200 and 206), see [`encode_metadata`].
pub const MICTLANX_METADATA: &str = "mictlanx-metadata";
/// The encoded `Mictlanx-Metadata` value is omitted above this many bytes (header size limits of proxies).
pub const MAX_METADATA_HEADER: usize = 16 * 1024;

/// `Late-Tags`: a trailer of a chunked phase-2 upload that declared it (`Trailer: late-tags`): tags known
/// only once the body has ended (the S3 ETag, the MD5 of the bytes), merged into the object's metadata when
/// the upload commits. Its value is [`encode_tags`]. The peer's 201 then carries `Late-Tags: applied`; an
/// answer without it (a peer that does not know the trailer) means the tags were not recorded.
pub const LATE_TAGS: &str = "late-tags";
/// The `Late-Tags` value of an upload answer whose trailer was merged.
pub const LATE_TAGS_APPLIED: &str = "applied";

/// The `Late-Tags` trailer value of `tags`: standard base64 with padding of their compact JSON object.
pub fn encode_tags(tags: &BTreeMap<String, String>) -> String {
    STANDARD.encode(serde_json::to_vec(tags).expect("a string map always encodes"))
}

/// Decode a `Late-Tags` trailer value.
pub fn decode_tags(value: &str) -> Result<BTreeMap<String, String>, MetadataHeaderError> {
    let json = STANDARD.decode(value.trim())?;
    Ok(serde_json::from_slice(&json)?)
}

/// The `Mictlanx-Metadata` value of `meta`, or `None` when it would exceed [`MAX_METADATA_HEADER`].
pub fn encode_metadata(meta: &Metadata) -> Option<String> {
    let json = serde_json::to_vec(meta).ok()?;
    // base64 grows 3 bytes into 4: skip the encoding when the result cannot fit
    if json.len().div_ceil(3) * 4 > MAX_METADATA_HEADER {
        return None;
    }
    Some(STANDARD.encode(json))
}

/// Why a `Mictlanx-Metadata` (or `Late-Tags`) value could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetadataHeaderError {
    #[error("Mictlanx-Metadata is not standard base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("Mictlanx-Metadata is not a Metadata JSON object: {0}")]
    Json(#[from] serde_json::Error),
}

/// Decode a `Mictlanx-Metadata` value back into the object's `Metadata`.
pub fn decode_metadata(value: &str) -> Result<Metadata, MetadataHeaderError> {
    let json = STANDARD.decode(value.trim())?;
    Ok(serde_json::from_slice(&json)?)
}

/// Parse an unsigned integer header value (`Object-Version`, `Replication-Factor`, `If-Version-At-Most`):
/// decimal digits only, surrounding whitespace allowed.
pub fn parse_unsigned<T: std::str::FromStr>(value: &str) -> Option<T> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(tag_len: usize) -> Metadata {
        let mut m: Metadata = serde_json::from_value(serde_json::json!({
            "key": "k", "size": 3, "checksum": "c", "bucket_id": "b", "tags": {"a": "ü"}
        }))
        .unwrap();
        m.tags.insert("big".into(), "x".repeat(tag_len));
        m
    }

    #[test]
    fn late_tags_round_trip_and_garbage_is_refused() {
        let tags: BTreeMap<String, String> = [("s3.etag", "0123abcd"), ("a", "ü \"x\"")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let v = encode_tags(&tags);
        assert!(v.bytes().all(|b| b.is_ascii_graphic()), "{v}");
        assert_eq!(decode_tags(&v).unwrap(), tags);
        assert!(decode_tags("not base64!").is_err());
        assert!(decode_tags(&STANDARD.encode(b"[1]")).is_err());
    }

    #[test]
    fn metadata_round_trips_through_standard_padded_base64() {
        let m = meta(1);
        let v = encode_metadata(&m).unwrap();
        assert!(
            v.len().is_multiple_of(4) && !v.contains('-') && !v.contains('_'),
            "{v}"
        );
        let json = STANDARD.decode(&v).unwrap();
        let obj: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(obj.as_object().unwrap().len(), 9, "the nine fields");
        assert!(!String::from_utf8(json).unwrap().contains(": "), "compact");
        assert_eq!(decode_metadata(&v).unwrap(), m);
        assert!(decode_metadata("not base64!").is_err());
        assert!(decode_metadata(&STANDARD.encode("[1]")).is_err());
    }

    #[test]
    fn oversized_metadata_is_omitted_at_the_limit() {
        let base = encode_metadata(&meta(0)).unwrap().len();
        // grow the JSON until the encoding is exactly the limit, then one more byte
        let mut n = (MAX_METADATA_HEADER - base) / 4 * 3;
        while encode_metadata(&meta(n + 1)).is_some_and(|v| v.len() <= MAX_METADATA_HEADER) {
            n += 1;
        }
        assert!(encode_metadata(&meta(n)).unwrap().len() <= MAX_METADATA_HEADER);
        assert!(encode_metadata(&meta(n + 1)).is_none());
        assert!(encode_metadata(&meta(n + 3)).is_none());
    }

    #[test]
    fn unsigned_values_are_plain_decimal() {
        assert_eq!(parse_unsigned::<u64>(" 42 "), Some(42));
        assert_eq!(
            parse_unsigned::<u64>("18446744073709551615"),
            Some(u64::MAX)
        );
        for bad in ["", "-1", "+1", "1.0", "0x10", "18446744073709551616", "1 2"] {
            assert_eq!(parse_unsigned::<u64>(bad), None, "{bad}");
        }
        assert_eq!(parse_unsigned::<u32>("4294967296"), None);
    }
}
