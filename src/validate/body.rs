//! JSON request bodies (`docs/router-api.md` §3.5): parsed whatever the `Content-Type`, capped at 16 MiB (413),
//! empty → 422 `missing`, malformed → 422 `json_invalid` with the byte offset.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use http_body_util::LengthLimitError;
use serde_json::{json, Value};

use super::error_item;
use mictlanx_http::error::ApiError;

/// Largest JSON body accepted (16 MiB).
pub const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

/// Parses a required JSON body: empty → 422 `missing` at `["body"]`; invalid → 422 `json_invalid`.
pub fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::unprocessable(vec![error_item(
            "missing",
            vec![json!("body")],
            "Field required",
            Value::Null,
        )]));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let mut item = error_item(
            "json_invalid",
            vec![json!("body"), json!(error_offset(bytes, &e))],
            "JSON decode error",
            json!({}),
        );
        item["ctx"] = json!({ "error": parser_message(&e) });
        ApiError::unprocessable(vec![item])
    })
}

/// Parses an optional JSON body: empty = `None`.
pub fn json_body_opt(bytes: &[u8]) -> Result<Option<Value>, ApiError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    json_body(bytes).map(Some)
}

/// Byte offset of a parse error (serde_json reports a 1-based line and column; at EOF, the body length).
fn error_offset(bytes: &[u8], e: &serde_json::Error) -> usize {
    if e.is_eof() || e.line() == 0 {
        return bytes.len();
    }
    let line_start = match e.line() {
        1 => 0,
        line => bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(0, |(i, _)| i + 1),
    };
    let mut offset = (line_start + e.column().saturating_sub(1)).min(bytes.len());
    // serde_json stops inside a bad literal (`nope`); Python's `json` reports where the value starts.
    if e.to_string().starts_with("expected ident") {
        while offset > line_start && bytes[offset - 1].is_ascii_alphabetic() {
            offset -= 1;
        }
    }
    offset
}

/// The parser's message without serde_json's ` at line L column C` suffix.
fn parser_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Reads the whole body, up to `MAX_JSON_BODY` bytes (413 `Request body too large` beyond).
async fn read_body(req: Request) -> Result<bytes::Bytes, ApiError> {
    let too_large = || ApiError::payload_too_large("Request body too large");
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_JSON_BODY as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
        .await
        .map_err(|e| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                if err.is::<LengthLimitError>() {
                    return too_large();
                }
                source = err.source();
            }
            ApiError::bad_request("There was an error parsing the body")
        })
}

/// A required JSON body of any `Content-Type`, as a `serde_json::Value` (then typed with `Fields`).
#[derive(Debug, Clone, PartialEq)]
pub struct LaxJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for LaxJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req).await?;
        json_body(&bytes).map(LaxJson)
    }
}

/// An optional JSON body (empty = `None`), e.g. `DELETE /api/v4/xpeers`.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionalLaxJson(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for OptionalLaxJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req).await?;
        json_body_opt(&bytes).map(OptionalLaxJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;

    fn request(body: Body, content_type: &str) -> Request {
        Request::builder()
            .method("POST")
            .uri("/x")
            .header("content-type", content_type)
            .body(body)
            .unwrap()
    }

    #[test]
    fn empty_body_is_missing() {
        let err = json_body(b"").unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            err.detail(),
            &json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}])
        );
        assert_eq!(json_body_opt(b""), Ok(None));
        assert_eq!(json_body_opt(b"[1]"), Ok(Some(json!([1]))));
    }

    #[test]
    fn invalid_json_reports_the_byte_offset() {
        let cases: &[(&[u8], usize)] = &[
            (b"{\"a\":}", 5),
            (b"{} x", 3),
            (b"{\"a\":", 5),
            (b"nope", 0),
            (b"{\n \"a\": ?}", 8),
        ];
        for (body, offset) in cases {
            let err = json_body(body).unwrap_err();
            let item = &err.detail()[0];
            assert_eq!(item["type"], "json_invalid");
            assert_eq!(
                item["loc"],
                json!(["body", offset]),
                "{}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(item["msg"], "JSON decode error");
            assert_eq!(item["input"], json!({}));
            let message = item["ctx"]["error"].as_str().unwrap();
            assert!(
                !message.is_empty() && !message.contains(" at line "),
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn any_content_type_is_parsed_as_json() {
        let req = request(Body::from(r#"{"a":1}"#), "text/plain");
        assert_eq!(
            LaxJson::from_request(req, &()).await,
            Ok(LaxJson(json!({"a": 1})))
        );
        let req = request(Body::empty(), "application/json");
        assert_eq!(
            OptionalLaxJson::from_request(req, &()).await,
            Ok(OptionalLaxJson(None))
        );
        let req = request(Body::empty(), "application/json");
        assert_eq!(
            LaxJson::from_request(req, &()).await.unwrap_err().status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[tokio::test]
    async fn bodies_over_16_mib_are_413() {
        let big = vec![b' '; MAX_JSON_BODY + 1];
        // Streamed without Content-Length, so the limit is enforced while reading.
        let stream = futures::stream::iter(
            big.chunks(1 << 20)
                .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        );
        let req = request(Body::from_stream(stream), "application/json");
        let err = LaxJson::from_request(req, &()).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(err.detail(), &json!("Request body too large"));

        let mut req = request(Body::from("[]"), "application/json");
        req.headers_mut()
            .insert(CONTENT_LENGTH, (MAX_JSON_BODY + 1).into());
        assert_eq!(
            OptionalLaxJson::from_request(req, &())
                .await
                .unwrap_err()
                .status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );

        let mut exactly = vec![b' '; MAX_JSON_BODY - 2];
        exactly.extend_from_slice(b"[]");
        let req = request(Body::from(exactly), "application/json");
        assert_eq!(
            LaxJson::from_request(req, &()).await,
            Ok(LaxJson(json!([])))
        );
    }
}
