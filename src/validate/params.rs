//! Header and query parameters (`docs/router-api.md` §3.4–3.5): `Force`/`Force-Get` flags, `Chunk-Size`, strings,
//! and lax query integers/booleans, each failing with a one-item 422 at `["header", name]` / `["query", name]`.

use axum::http::HeaderMap;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::{coerce_bool, coerce_int, int_from_str, single, INT_PARSING};
use mictlanx_http::error::ApiError;
use mictlanx_proto::units::parse_size;

fn header_loc(name: &str) -> Vec<Value> {
    vec![json!("header"), json!(name.to_ascii_lowercase())]
}

/// The first value of a header (names match case-insensitively; `force_get` is not `force-get`).
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// `Force` / `Force-Get`: an integer (non-zero = true) or `true`/`false`; absent = `default`.
pub fn header_flag(headers: &HeaderMap, name: &str, default: bool) -> Result<bool, ApiError> {
    let Some(text) = header_text(headers, name) else {
        return Ok(default);
    };
    if let Some(n) = int_from_str(&text) {
        return Ok(n != 0);
    }
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(single(
            INT_PARSING.0,
            header_loc(name),
            INT_PARSING.1,
            json!(text),
        )),
    }
}

/// `Chunk-Size`: a size string (A.2); absent = `default`; invalid → 422 `value_error`.
pub fn header_size(headers: &HeaderMap, name: &str, default: u64) -> Result<u64, ApiError> {
    let Some(text) = header_text(headers, name) else {
        return Ok(default);
    };
    parse_size(&text).map_err(|e| {
        single(
            "value_error",
            header_loc(name),
            &format!("Value error, {e}"),
            json!(text),
        )
    })
}

/// A string header; absent = `default`.
pub fn header_str(headers: &HeaderMap, name: &str, default: &str) -> String {
    header_text(headers, name).unwrap_or_else(|| default.to_string())
}

/// Every value of query parameter `name`, decoded (`+` = space), in order.
pub fn query_all(query: Option<&str>, name: &str) -> Vec<String> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k) == name).then(|| decode(v))
        })
        .collect()
}

/// The value of a scalar query parameter: the last occurrence counts (as in FastAPI).
pub fn query_str(query: Option<&str>, name: &str, default: &str) -> String {
    query_all(query, name)
        .pop()
        .unwrap_or_else(|| default.to_string())
}

fn query_loc(name: &str) -> Vec<Value> {
    vec![json!("query"), json!(name)]
}

/// A lax boolean query parameter; absent = `default`.
pub fn query_bool(query: Option<&str>, name: &str, default: bool) -> Result<bool, ApiError> {
    let Some(text) = query_all(query, name).pop() else {
        return Ok(default);
    };
    coerce_bool(&Value::String(text.clone()))
        .map_err(|(kind, msg)| single(kind, query_loc(name), msg, json!(text)))
}

/// A lax integer query parameter; absent = `default`.
pub fn query_int(query: Option<&str>, name: &str, default: i64) -> Result<i64, ApiError> {
    let Some(text) = query_all(query, name).pop() else {
        return Ok(default);
    };
    coerce_int(&Value::String(text.clone()))
        .map_err(|(kind, msg)| single(kind, query_loc(name), msg, json!(text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

    fn detail(err: ApiError) -> Value {
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        err.detail().clone()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn header_flags() {
        assert_eq!(header_flag(&headers(&[]), "force-get", false), Ok(false));
        assert_eq!(
            header_flag(&headers(&[("Force-Get", "1")]), "force-get", false),
            Ok(true)
        );
        assert_eq!(
            header_flag(&headers(&[("force-get", "0")]), "force-get", true),
            Ok(false)
        );
        assert_eq!(
            header_flag(&headers(&[("force-get", " 2 ")]), "force-get", false),
            Ok(true)
        );
        assert_eq!(
            header_flag(&headers(&[("force", "TRUE")]), "force", false),
            Ok(true)
        );
        assert_eq!(
            header_flag(&headers(&[("force", "false")]), "force", true),
            Ok(false)
        );
        assert_eq!(
            header_flag(&headers(&[("force_get", "1")]), "force-get", false),
            Ok(false),
            "underscore is another header"
        );
        let err = header_flag(&headers(&[("force-get", "yes")]), "Force-Get", false).unwrap_err();
        assert_eq!(
            detail(err),
            json!([{"type": "int_parsing", "loc": ["header", "force-get"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "yes"}])
        );
    }

    #[test]
    fn header_sizes() {
        assert_eq!(
            header_size(&headers(&[]), "chunk-size", 10_000_000),
            Ok(10_000_000)
        );
        assert_eq!(
            header_size(&headers(&[("Chunk-Size", "256kb")]), "chunk-size", 0),
            Ok(256_000)
        );
        assert_eq!(
            header_size(&headers(&[("chunk-size", "0")]), "chunk-size", 1),
            Ok(0)
        );
        let err = header_size(&headers(&[("chunk-size", "12xx")]), "chunk-size", 0).unwrap_err();
        assert_eq!(
            detail(err),
            json!([{"type": "value_error", "loc": ["header", "chunk-size"],
                    "msg": "Value error, Invalid size: '12xx'", "input": "12xx"}])
        );
        assert_eq!(header_str(&headers(&[("update", "1")]), "update", "0"), "1");
        assert_eq!(header_str(&headers(&[]), "update", "0"), "0");
    }

    #[test]
    fn query_parameters() {
        let q = Some("start=5&end=%2B10&attachment=YES&peers=a&peers=b+c&filename=x%20y&start=6");
        assert_eq!(query_int(q, "start", 0), Ok(6), "the last value counts");
        assert_eq!(query_int(q, "end", 100), Ok(10));
        assert_eq!(query_int(None, "end", 100), Ok(100));
        assert_eq!(query_bool(q, "attachment", false), Ok(true));
        assert_eq!(query_bool(q, "missing", true), Ok(true));
        assert_eq!(query_all(q, "peers"), vec!["a", "b c"]);
        assert_eq!(query_str(q, "filename", ""), "x y");
        assert_eq!(query_str(q, "content_type", ""), "");
        assert_eq!(
            detail(query_int(Some("start=x"), "start", 0).unwrap_err()),
            json!([{"type": "int_parsing", "loc": ["query", "start"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "x"}])
        );
        assert_eq!(
            detail(query_bool(Some("attachment=2"), "attachment", false).unwrap_err()),
            json!([{"type": "bool_parsing", "loc": ["query", "attachment"],
                    "msg": "Input should be a valid boolean, unable to interpret input", "input": "2"}])
        );
    }
}
