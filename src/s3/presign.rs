//! The lifetime of presigned URLs. s3s checks a presigned URL's signature and whether it expired, but takes
//! any `X-Amz-Expires` of up to 2^32 seconds; S3 allows 1 second to 7 days. A URL asking for more, or for
//! an unreadable or negative lifetime, is refused (403 `AccessDenied`) before s3s sees it.

use percent_encoding::percent_decode_str;

/// Longest lifetime of a presigned URL, as S3: 7 days.
pub const MAX_EXPIRES_SECS: u64 = 7 * 24 * 3600;

/// Why a request's presigned lifetime is refused; `None` when it has none or a valid one.
pub fn refused_expiry(query: Option<&str>) -> Option<String> {
    let raw = query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "X-Amz-Expires")
        .map(|(_, v)| percent_decode_str(v).decode_utf8_lossy().into_owned())?;
    match raw.parse::<u64>() {
        Ok(secs) if (1..=MAX_EXPIRES_SECS).contains(&secs) => None,
        Ok(_) => Some(format!(
            "X-Amz-Expires must be between 1 and {MAX_EXPIRES_SECS} seconds"
        )),
        Err(_) => Some("X-Amz-Expires must be a number of seconds".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_lifetimes_are_one_second_to_seven_days() {
        assert_eq!(refused_expiry(None), None);
        assert_eq!(refused_expiry(Some("list-type=2")), None);
        assert_eq!(refused_expiry(Some("X-Amz-Expires=3600&x=1")), None);
        assert_eq!(refused_expiry(Some("X-Amz-Expires=604800")), None);
        assert!(refused_expiry(Some("X-Amz-Expires=604801")).is_some());
        assert!(refused_expiry(Some("X-Amz-Expires=0")).is_some());
        assert!(refused_expiry(Some("X-Amz-Expires=-7")).is_some());
        assert!(refused_expiry(Some("a=b&X-Amz-Expires=soon")).is_some());
    }
}
