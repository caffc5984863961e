//! GetObject in one in-process call: the router's GET is asked for the object's bytes (with the S3 `Range`,
//! which it serves) and, in the answer's extensions, the metadata of the version it streams
//! ([`Backend::read_object`]), so the ETag, Last-Modified, user metadata and size come with the bytes. A
//! completed multipart object's answer is its manifest: read whole, it is used as it is (still one call
//! before the parts); with a range, the manifest path reads it again. When the router could not tell the
//! metadata of the bytes (an overwrite landed between a holder's two answers), the read falls back to
//! metadata first, then bytes.

use axum::http::header;
use s3s::dto::Range;
use s3s::{S3Error, S3ErrorCode, S3Result};

use super::attrs;
use super::backend::{Backend, BackendError, ObjectRead};
use super::manifest::{self, Opened};
use mictlanx_proto::model::Metadata;

/// The `Range` header of the router's GET; `InvalidRange` for a range that selects nothing whatever the
/// object's size (the router would ignore it and answer everything).
fn range_header(range: &Range) -> S3Result<String> {
    let invalid = || Err(S3Error::new(S3ErrorCode::InvalidRange));
    match *range {
        Range::Int {
            first,
            last: Some(last),
        } if last < first => invalid(),
        Range::Int {
            first,
            last: Some(last),
        } => Ok(format!("bytes={first}-{last}")),
        Range::Int { first, last: None } => Ok(format!("bytes={first}-")),
        Range::Suffix { length: 0 } => invalid(),
        Range::Suffix { length } => Ok(format!("bytes=-{length}")),
    }
}

/// A header of the answer as text.
fn header_text(res: &axum::response::Response, name: header::HeaderName) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The live object `b`/`k` (MictlanX ids) and its bytes, or the part `range` selects; `None` when there is
/// no such object (absent, only a prefix of other keys, or disabled).
pub async fn read_object(
    backend: &Backend,
    b: &str,
    k: &str,
    range: Option<Range>,
) -> S3Result<Option<(Metadata, Opened)>> {
    let header = range.as_ref().map(range_header).transpose()?;
    let answer = match backend.read_object(b, k, header.as_deref()).await {
        Err(BackendError::NotFound) => return Ok(None),
        other => other?,
    };
    let (res, meta) = match answer {
        ObjectRead::Bytes {
            res,
            meta: Some(meta),
        } => (Some(res), meta),
        ObjectRead::Unsatisfiable { meta: Some(meta) } => (None, meta),
        _ => return metadata_first(backend, b, k, range).await,
    };
    if meta.is_disabled {
        return Ok(None);
    }
    if attrs::is_manifest(&meta) {
        let opened = match (res, range) {
            (Some(res), None) => {
                let parts = manifest::manifest_of(res).await?;
                manifest::open_parts(backend, &parts, attrs::size(&meta), None)
            }
            // The range was the S3 object's, not the manifest's: read the manifest again.
            (_, range) => manifest::open(backend, b, k, &meta, range).await?,
        };
        return Ok(Some((meta, opened)));
    }
    let Some(res) = res else {
        return Err(S3Error::new(S3ErrorCode::InvalidRange));
    };
    let content_length = header_text(&res, header::CONTENT_LENGTH)
        .and_then(|v| v.parse().ok())
        .unwrap_or(meta.size);
    let content_range = header_text(&res, header::CONTENT_RANGE);
    let opened = Opened {
        body: manifest::body_of(res),
        content_length,
        content_range,
    };
    Ok(Some((meta, opened)))
}

/// The two-call read: the metadata, then the bytes of the version it names.
async fn metadata_first(
    backend: &Backend,
    b: &str,
    k: &str,
    range: Option<Range>,
) -> S3Result<Option<(Metadata, Opened)>> {
    let Some(meta) = backend.metadata(b, k).await?.filter(|m| !m.is_disabled) else {
        return Ok(None);
    };
    let opened = manifest::open(backend, b, k, &meta, range).await?;
    Ok(Some((meta, opened)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_router_range_headers() {
        let int = |first, last| Range::Int { first, last };
        assert_eq!(range_header(&int(0, Some(9))).unwrap(), "bytes=0-9");
        assert_eq!(range_header(&int(5, None)).unwrap(), "bytes=5-");
        assert_eq!(
            range_header(&Range::Suffix { length: 3 }).unwrap(),
            "bytes=-3"
        );
        assert!(range_header(&int(9, Some(2))).is_err());
        assert!(range_header(&Range::Suffix { length: 0 }).is_err());
    }
}
