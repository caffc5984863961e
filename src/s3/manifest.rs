//! Reading S3 objects: a plain object is the MictlanX read (with its `Range`); a completed multipart object
//! is a manifest — the ordered list of its parts, each a MictlanX object — and is streamed part after part,
//! a range reading only the parts it covers (the first and last with a `Range` of their own). Bytes are
//! never copied when an upload completes.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use s3s::dto::Range;
use s3s::{S3Error, S3ErrorCode, S3Result};
use serde::{Deserialize, Serialize};

use super::attrs;
use super::backend::{Backend, BackendError};
use super::uploads::PARTS_BUCKET;
use mictlanx_proto::model::Metadata;

type StdError = Box<dyn std::error::Error + Send + Sync>;
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StdError>> + Send>>;

/// Largest manifest read (10 000 parts fit easily).
const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

/// One part of a completed upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRef {
    /// MictlanX key in [`PARTS_BUCKET`].
    pub key: String,
    pub size: u64,
}

/// The bytes of a completed multipart object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub upload: String,
    pub parts: Vec<PartRef>,
}

/// An opened read: the body and, for a range, `Content-Range`.
pub struct Opened {
    pub body: ByteStream,
    pub content_length: u64,
    pub content_range: Option<String>,
}

/// The inclusive byte span a range selects of `size` bytes; `InvalidRange` when it selects nothing.
pub fn span(range: Option<Range>, size: u64) -> S3Result<Option<(u64, u64)>> {
    let Some(r) = range else { return Ok(None) };
    let invalid = || S3Error::new(S3ErrorCode::InvalidRange);
    match r {
        Range::Int { first, last } => {
            if first >= size {
                return Err(invalid());
            }
            let last = last.map_or(size - 1, |l| l.min(size - 1));
            if last < first {
                return Err(invalid());
            }
            Ok(Some((first, last)))
        }
        Range::Suffix { length } => {
            if length == 0 || size == 0 {
                return Err(invalid());
            }
            Ok(Some((size - length.min(size), size - 1)))
        }
    }
}

/// The parts (and their own ranges) that cover `[first, last]`.
pub fn plan(parts: &[PartRef], first: u64, last: u64) -> Vec<(String, Option<(u64, u64)>)> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for p in parts {
        let (start, end) = (offset, offset + p.size);
        offset = end;
        if p.size == 0 || end <= first || start > last {
            continue;
        }
        let from = first.max(start) - start;
        let to = last.min(end - 1) - start;
        let whole = from == 0 && to == p.size - 1;
        out.push((p.key.clone(), (!whole).then_some((from, to))));
    }
    out
}

pub async fn read_manifest(backend: &Backend, b: &str, k: &str) -> S3Result<Manifest> {
    let res = backend.read(b, k, None).await?;
    manifest_of(res).await
}

/// The manifest an answer of the MictlanX GET streams.
pub async fn manifest_of(res: axum::response::Response) -> S3Result<Manifest> {
    let bytes = axum::body::to_bytes(res.into_body(), MANIFEST_LIMIT)
        .await
        .map_err(|e| S3Error::with_message(S3ErrorCode::ServiceUnavailable, e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        S3Error::with_message(
            S3ErrorCode::InternalError,
            format!("unreadable manifest: {e}"),
        )
    })
}

/// Open the S3 bytes of object `b`/`k` (whose metadata is `meta`), or the part `range` selects.
pub async fn open(
    backend: &Backend,
    b: &str,
    k: &str,
    meta: &Metadata,
    range: Option<Range>,
) -> S3Result<Opened> {
    let size = attrs::size(meta);
    let selected = span(range, size)?;
    if attrs::is_manifest(meta) {
        let manifest = read_manifest(backend, b, k).await?;
        return Ok(open_parts(backend, &manifest, size, selected));
    }
    let content_range = selected.map(|(f, l)| format!("bytes {f}-{l}/{size}"));
    let content_length = selected.map_or(size, |(f, l)| l - f + 1);
    let header = selected.map(|(f, l)| format!("bytes={f}-{l}"));
    let res = backend
        .read(b, k, header.as_deref())
        .await
        .map_err(|e| match e {
            BackendError::NotFound => S3Error::new(S3ErrorCode::NoSuchKey),
            e => e.into(),
        })?;
    Ok(Opened {
        body: body_of(res),
        content_length,
        content_range,
    })
}

/// The bytes an answer of the MictlanX GET streams.
pub fn body_of(res: axum::response::Response) -> ByteStream {
    Box::pin(
        res.into_body()
            .into_data_stream()
            .map_err(|e| Box::new(e) as StdError),
    )
}

/// The bytes `selected` (all when `None`) of a multipart object of `size` bytes, part after part.
pub fn open_parts(
    backend: &Backend,
    manifest: &Manifest,
    size: u64,
    selected: Option<(u64, u64)>,
) -> Opened {
    let content_range = selected.map(|(f, l)| format!("bytes {f}-{l}/{size}"));
    let content_length = selected.map_or(size, |(f, l)| l - f + 1);
    let (first, last) = selected.unwrap_or((0, size.saturating_sub(1)));
    let reads = if size == 0 {
        Vec::new()
    } else {
        plan(&manifest.parts, first, last)
    };
    let backend = backend.clone();
    let parts = futures::stream::iter(reads)
        .then(move |(key, r)| {
            let backend = backend.clone();
            async move {
                let header = r.map(|(f, l)| format!("bytes={f}-{l}"));
                backend.read(PARTS_BUCKET, &key, header.as_deref()).await
            }
        })
        .map(|res| match res {
            Ok(res) => body_of(res).left_stream(),
            Err(e) => {
                futures::stream::once(async move { Err(Box::new(e) as StdError) }).right_stream()
            }
        })
        .flatten();
    Opened {
        body: Box::pin(parts),
        content_length,
        content_range,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(sizes: &[u64]) -> Vec<PartRef> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, s)| PartRef {
                key: format!("p{i}"),
                size: *s,
            })
            .collect()
    }

    #[test]
    fn a_range_across_part_boundaries_reads_only_the_parts_it_covers() {
        let p = parts(&[10, 10, 10]);
        assert_eq!(
            plan(&p, 5, 24),
            vec![
                ("p0".to_string(), Some((5, 9))),
                ("p1".to_string(), None),
                ("p2".to_string(), Some((0, 4)))
            ]
        );
        assert_eq!(plan(&p, 0, 29).len(), 3);
        assert_eq!(plan(&p, 10, 19), vec![("p1".to_string(), None)]);
    }

    #[test]
    fn spans_follow_http_ranges() {
        assert_eq!(span(None, 10).unwrap(), None);
        let r = |first, last| Some(Range::Int { first, last });
        assert_eq!(span(r(2, Some(100)), 10).unwrap(), Some((2, 9)));
        assert_eq!(
            span(Some(Range::Suffix { length: 3 }), 10).unwrap(),
            Some((7, 9))
        );
        assert!(span(r(10, None), 10).is_err());
    }
}
