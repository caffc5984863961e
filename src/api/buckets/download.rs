//! The response-header rules shared by GET data and merge (`docs/router-api.md` #20, #21): query parameters and
//! headers of a download, content type and `Content-Disposition`, and the streamed 200 fed by a channel.

use std::io;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::sync::mpsc;

use crate::datapath::BodySender;
use crate::validate;
use mictlanx_http::error::ApiResult;

/// RFC 5987 `attr-char`: everything else is percent-encoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="{ascii}"` (+ `filename*` for non-ASCII names), `docs/router-api.md` #21.
pub fn content_disposition(name: &str) -> String {
    let mut ascii = String::with_capacity(name.len());
    let mut non_ascii = false;
    for c in name.chars() {
        match c {
            '"' => ascii.push_str("\\\""),
            '\\' => ascii.push_str("\\\\"),
            c if c.is_ascii_control() => ascii.push('_'),
            c if c.is_ascii() => ascii.push(c),
            _ => {
                non_ascii = true;
                ascii.push('_');
            }
        }
    }
    let mut value = format!("attachment; filename=\"{ascii}\"");
    if non_ascii {
        value.push_str("; filename*=UTF-8''");
        value.push_str(&utf8_percent_encode(name, ATTR_CHAR).to_string());
    }
    value
}

/// Query parameters of GET data and merge.
#[derive(Debug, Clone, Default)]
pub struct DownloadQuery {
    pub content_type: String,
    pub filename: String,
    pub attachment: bool,
}

/// The inputs of GET data and merge, validated together so one 422 lists every problem.
#[derive(Debug, Clone)]
pub struct DownloadInputs {
    pub query: DownloadQuery,
    /// `Chunk-Size` in bytes (0 = no cap).
    pub piece_size: usize,
    /// `Force-Get`.
    pub forced: bool,
}

impl DownloadInputs {
    pub fn parse(
        raw_query: Option<&str>,
        headers: &HeaderMap,
        force_default: bool,
    ) -> ApiResult<Self> {
        let mut errors = validate::Errors::new();
        let attachment = errors.take(validate::query_bool(raw_query, "attachment", false), false);
        let piece_size = errors.take(validate::header_size(headers, "chunk-size", 10_000_000), 0);
        let forced = errors.take(
            validate::header_flag(headers, "force-get", force_default),
            force_default,
        );
        errors.finish()?;
        Ok(DownloadInputs {
            query: DownloadQuery {
                content_type: validate::query_str(raw_query, "content_type", ""),
                filename: validate::query_str(raw_query, "filename", ""),
                attachment,
            },
            piece_size: usize::try_from(piece_size).unwrap_or(usize::MAX),
            forced,
        })
    }
}

/// The first non-empty name of `names`.
pub fn first_non_empty<'a>(names: impl IntoIterator<Item = Option<&'a str>>) -> Option<&'a str> {
    names.into_iter().flatten().find(|n| !n.is_empty())
}

/// A 200 whose body is fed by a channel; dropping the sender ends it, an `Err` item aborts it.
pub fn streamed_response(
    len: u64,
    content_type: &str,
    disposition: Option<String>,
) -> (Response, BodySender) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut res = Body::from_stream(stream).into_response();
    *res.status_mut() = StatusCode::OK;
    set_headers(res.headers_mut(), len, content_type, disposition);
    (res, tx)
}

/// `type/subtype` of RFC 9110 tokens, parameters after `;` allowed: anything else (a stored or requested
/// `content_type` such as `t`) would be a malformed `Content-Type`, so the answer says octet-stream.
fn is_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let essence = s.split(';').next().unwrap_or_default().trim();
    essence
        .split_once('/')
        .is_some_and(|(t, sub)| token(t) && token(sub))
}

pub fn set_headers(h: &mut HeaderMap, len: u64, content_type: &str, disposition: Option<String>) {
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let ct = Some(content_type)
        .filter(|ct| is_media_type(ct))
        .and_then(|ct| HeaderValue::from_str(ct).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Some(v) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_media_types_become_content_type() {
        for (given, sent) in [
            ("text/plain", "text/plain"),
            ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
            ("application/vnd.a+json", "application/vnd.a+json"),
            ("t", "application/octet-stream"),
            ("a/", "application/octet-stream"),
            ("/b", "application/octet-stream"),
            ("a b/c", "application/octet-stream"),
            ("", "application/octet-stream"),
        ] {
            let mut h = HeaderMap::new();
            set_headers(&mut h, 1, given, None);
            assert_eq!(h[header::CONTENT_TYPE], sent, "{given:?}");
        }
    }

    #[test]
    fn disposition_quotes_and_escapes() {
        assert_eq!(
            content_disposition("a.txt"),
            "attachment; filename=\"a.txt\""
        );
        assert_eq!(
            content_disposition("a\"b\\c"),
            "attachment; filename=\"a\\\"b\\\\c\""
        );
    }

    #[test]
    fn disposition_adds_filename_star_for_non_ascii() {
        assert_eq!(
            content_disposition("año 1.txt"),
            "attachment; filename=\"a_o 1.txt\"; filename*=UTF-8''a%C3%B1o%201.txt"
        );
    }

    #[test]
    fn first_non_empty_skips_empty_and_missing() {
        assert_eq!(
            first_non_empty([Some(""), None, Some("x"), Some("y")]),
            Some("x")
        );
        assert_eq!(first_non_empty([Some(""), None]), None);
    }
}
