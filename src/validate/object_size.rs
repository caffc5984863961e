//! `MICTLANX_ROUTER_MAX_OBJECT_SIZE`: the largest object a write may declare (phase 1 `size`) or send
//! (phase 2 `Content-Length`); above it the answer is `413 {"detail": ...}`. A limit of `0` means none.

use axum::http::{header::CONTENT_LENGTH, HeaderMap};

use mictlanx_http::error::ApiError;

/// `size` against `limit` (0 = no limit).
pub fn object_size(size: u64, limit: u64) -> Result<(), ApiError> {
    if limit == 0 || size <= limit {
        return Ok(());
    }
    Err(ApiError::payload_too_large(format!(
        "Object too large: {size} bytes, the limit is {limit} bytes (MICTLANX_ROUTER_MAX_OBJECT_SIZE)"
    )))
}

/// A raw upload body whose declared `Content-Length` is above `limit`; checked before any byte is read.
pub fn declared_body(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(len) => object_size(len, limit),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn sizes_against_the_limit() {
        assert!(object_size(u64::MAX, 0).is_ok(), "0 = no limit");
        assert!(object_size(10, 10).is_ok());
        let err = object_size(11, 10).unwrap_err();
        assert_eq!(err.status().as_u16(), 413);
        assert_eq!(
            err.detail(),
            "Object too large: 11 bytes, the limit is 10 bytes (MICTLANX_ROUTER_MAX_OBJECT_SIZE)"
        );
        let mut h = HeaderMap::new();
        assert!(declared_body(&h, 10).is_ok());
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("11"));
        assert_eq!(declared_body(&h, 10).unwrap_err().status().as_u16(), 413);
        assert!(declared_body(&h, 0).is_ok());
    }
}
