//! The S3 target: path-style PutObject, GetObject, HeadObject, DeleteObject and ListObjectsV2 against any
//! S3 endpoint (the router's S3 port, Garage, MinIO), every request signed with SigV4 in headers.
//!
//! Signing uses `aws-sigv4`, the AWS SDK's own signer: the benchmark then costs the server exactly what an
//! SDK client costs it (canonical request, `x-amz-content-sha256` of the whole body checked on PUT).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use quick_xml::events::Event;
use reqwest::{Client, Method, RequestBuilder, StatusCode};

use super::ops::{checked, status_error, transport, OpError, Payload};

/// SHA-256 of the empty body, the `x-amz-content-sha256` of every request without one.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Largest page ListObjectsV2 returns.
pub const LIST_PAGE: u64 = 1000;

/// The access key pair and region every request is signed with.
#[derive(Clone, Debug)]
pub struct S3Auth {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

/// One S3 bucket on one endpoint; cheap to clone.
#[derive(Clone)]
pub struct S3Endpoint {
    client: Client,
    base: String,
    bucket: String,
    credentials: Credentials,
    region: String,
}

/// One ListObjectsV2 page as the benchmark needs it: the key count and where the next page starts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub keys: u64,
    pub next_token: Option<String>,
}

impl S3Endpoint {
    pub fn new(client: Client, base: &str, bucket: &str, auth: &S3Auth) -> Self {
        S3Endpoint {
            client,
            base: base.trim_end_matches('/').to_string(),
            bucket: bucket.to_string(),
            credentials: Credentials::new(
                &auth.access_key,
                &auth.secret_key,
                None,
                None,
                "mictlanx-bench",
            ),
            region: auth.region.clone(),
        }
    }

    /// CreateBucket; a bucket that already exists (ours or anyone's) is fine.
    pub async fn create_bucket(&self) -> Result<(), OpError> {
        let step = "create bucket";
        let url = format!("{}/{}", self.base, self.bucket);
        let resp = self
            .signed(Method::PUT, &url, EMPTY_SHA256)?
            .send()
            .await
            .map_err(|e| transport(step, e))?;
        if resp.status().is_success() || resp.status() == StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(status_error(step, resp).await)
        }
    }

    /// PutObject of the whole payload with its SHA-256 as `x-amz-content-sha256` (checked by the server).
    pub async fn put(&self, key: &str, payload: &Payload) -> Result<u64, OpError> {
        let step = "put object";
        let req = self
            .signed(Method::PUT, &self.object_url(key), payload.checksum())?
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(payload.bytes());
        checked(step, req.send().await).await?;
        Ok(payload.len())
    }

    /// GetObject, streamed and counted (nothing kept); fails unless exactly `expected` bytes arrive.
    pub async fn get(&self, key: &str, expected: u64) -> Result<u64, OpError> {
        let step = "get object";
        let req = self.signed(Method::GET, &self.object_url(key), EMPTY_SHA256)?;
        let mut resp = checked(step, req.send().await).await?;
        let mut got = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport(step, e))? {
            got += chunk.len() as u64;
        }
        if got != expected {
            return Err(OpError::Length {
                step,
                expected,
                got,
            });
        }
        Ok(got)
    }

    /// GetObject keeping the body: only for checks (tests), never in the timed phase.
    pub async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, OpError> {
        let step = "get object";
        let req = self.signed(Method::GET, &self.object_url(key), EMPTY_SHA256)?;
        let resp = checked(step, req.send().await).await?;
        let body = resp.bytes().await.map_err(|e| transport(step, e))?;
        Ok(body.to_vec())
    }

    /// HeadObject; checks `Content-Length` and returns 0 (no body moved).
    pub async fn head(&self, key: &str, expected: u64) -> Result<u64, OpError> {
        let step = "head object";
        let req = self.signed(Method::HEAD, &self.object_url(key), EMPTY_SHA256)?;
        let resp = checked(step, req.send().await).await?;
        let got = resp
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        match got {
            Some(n) if n == expected => Ok(0),
            Some(n) => Err(OpError::Length {
                step,
                expected,
                got: n,
            }),
            None => Err(OpError::Decode {
                step,
                detail: "no Content-Length".into(),
            }),
        }
    }

    /// DeleteObject; an absent object counts as deleted.
    pub async fn delete(&self, key: &str) -> Result<(), OpError> {
        let step = "delete object";
        let resp = self
            .signed(Method::DELETE, &self.object_url(key), EMPTY_SHA256)?
            .send()
            .await
            .map_err(|e| transport(step, e))?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(status_error(step, resp).await)
        }
    }

    /// One ListObjectsV2 page of at most 1000 keys under `prefix`, after `token` when given; returns the
    /// page and the response size in bytes.
    pub async fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
    ) -> Result<(ListPage, u64), OpError> {
        let step = "list objects";
        // Parameters in canonical (sorted) order, values percent-encoded as SigV4 requires.
        let mut query = String::new();
        if let Some(t) = token {
            query.push_str(&format!("continuation-token={}&", encode(t)));
        }
        query.push_str(&format!(
            "list-type=2&max-keys={LIST_PAGE}&prefix={}",
            encode(prefix)
        ));
        let url = format!("{}/{}?{query}", self.base, self.bucket);
        let resp = checked(
            step,
            self.signed(Method::GET, &url, EMPTY_SHA256)?.send().await,
        )
        .await?;
        let raw = resp.bytes().await.map_err(|e| transport(step, e))?;
        let page = parse_list_page(&raw).map_err(|detail| OpError::Decode { step, detail })?;
        Ok((page, raw.len() as u64))
    }

    fn object_url(&self, key: &str) -> String {
        format!("{}/{}/{}", self.base, self.bucket, encode(key))
    }

    /// A request for `url` carrying the SigV4 `Authorization`, `x-amz-date` and `x-amz-content-sha256`.
    fn signed(
        &self,
        method: Method,
        url: &str,
        body_sha256: &str,
    ) -> Result<RequestBuilder, OpError> {
        let sign_error = |detail: String| OpError::Decode {
            step: "sign",
            detail,
        };
        let mut settings = SigningSettings::default();
        // S3 signs the path as sent: no double encoding, no `.`/`..` normalisation.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| sign_error(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url,
            std::iter::empty(),
            SignableBody::Precomputed(body_sha256.to_string()),
        )
        .map_err(|e| sign_error(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| sign_error(e.to_string()))?
            .into_parts();
        let mut req = self.client.request(method, url);
        for (name, value) in instructions.headers() {
            req = req.header(name, value);
        }
        Ok(req)
    }
}

/// Percent-encodes everything but the SigV4 unreserved characters and `/` (keys keep their slashes).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Counts `<Contents>` entries and reads `<NextContinuationToken>` of a ListObjectsV2 answer.
pub fn parse_list_page(xml: &[u8]) -> Result<ListPage, String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut page = ListPage::default();
    let mut in_token = false;
    let mut buf = Vec::new();
    let mut saw_root = false;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                b"ListBucketResult" => saw_root = true,
                b"Contents" => page.keys += 1,
                b"NextContinuationToken" => in_token = true,
                _ => {}
            },
            Ok(Event::Text(t)) if in_token => {
                let text = t.decode().map_err(|e| e.to_string())?;
                page.next_token = Some(text.into_owned());
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == b"NextContinuationToken" => {
                in_token = false;
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("bad ListObjectsV2 XML: {e}")),
        }
        buf.clear();
    }
    if !saw_root {
        return Err("no ListBucketResult in the answer".into());
    }
    Ok(page)
}

#[cfg(test)]
#[path = "s3_tests.rs"]
mod tests;
