//! GetObjectAttributes: the attributes asked for (`ETag`, `ObjectSize`, `StorageClass` — always
//! `STANDARD` — and, for a multipart object, `ObjectParts`), with `Last-Modified` as a header; `NoSuchKey`
//! for a missing key. The metadata answers all but the parts; a multipart object's parts and their sizes
//! come from its manifest (a small document, not the object's bytes), paged by `MaxParts` and
//! `PartNumberMarker`. `Checksum` is not kept, so never answered.
//!
//! S3 answers this operation's ETag without quotes, unlike every other one; s3s quotes each ETag it
//! writes, so the listener takes them off ([`unquote_etag`]).

use super::storage_class::Class;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use s3s::dto::*;
use s3s::{S3Request, S3Result};

use super::attrs;
use super::manifest::{self, Manifest};
use super::service::Facade;
use super::uploads::part_number;

/// Most parts of one answer, as S3.
const MAX_PARTS_PAGE: i32 = 1000;
/// Largest answer rewritten by [`unquote_etag`] (1000 parts take about 70 kB).
const ANSWER_LIMIT: usize = 1024 * 1024;

/// The page of `manifest`'s parts after part number `marker`, at most `max` of them.
pub fn parts_page(
    manifest: &Manifest,
    marker: Option<i32>,
    max: Option<i32>,
) -> GetObjectAttributesParts {
    let max = max.unwrap_or(MAX_PARTS_PAGE).clamp(0, MAX_PARTS_PAGE);
    let after = marker.unwrap_or(0);
    let mut numbered = manifest
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| (part_number(&p.key).unwrap_or(i as i32 + 1), p.size))
        .filter(|(n, _)| *n > after);
    let parts: Vec<ObjectPart> = numbered
        .by_ref()
        .take(max as usize)
        .map(|(n, size)| ObjectPart {
            part_number: Some(n),
            size: i64::try_from(size).ok(),
            ..Default::default()
        })
        .collect();
    let truncated = numbered.next().is_some();
    GetObjectAttributesParts {
        is_truncated: Some(truncated),
        max_parts: Some(max),
        next_part_number_marker: parts.last().and_then(|p| p.part_number),
        part_number_marker: marker,
        total_parts_count: i32::try_from(manifest.parts.len()).ok(),
        parts: Some(parts),
    }
}

impl Facade {
    pub(super) async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<GetObjectAttributesOutput> {
        let input = req.input;
        let (b, k, meta) = self.live_metadata(&input.bucket, &input.key).await?;
        // s3s gives each header line as one entry; clients send one line of comma-separated names
        let wants = |name: &str| {
            input
                .object_attributes
                .iter()
                .flat_map(|a| a.as_str().split(','))
                .any(|a| a.trim() == name)
        };
        let object_parts = if wants(ObjectAttributes::OBJECT_PARTS) && attrs::is_manifest(&meta) {
            let manifest = manifest::read_manifest(&self.backend, &b, &k).await?;
            Some(parts_page(
                &manifest,
                input.part_number_marker,
                input.max_parts,
            ))
        } else {
            None
        };
        Ok(GetObjectAttributesOutput {
            e_tag: wants(ObjectAttributes::ETAG).then(|| attrs::etag(&meta)),
            object_size: wants(ObjectAttributes::OBJECT_SIZE)
                .then(|| i64::try_from(attrs::size(&meta)).ok())
                .flatten(),
            storage_class: wants(ObjectAttributes::STORAGE_CLASS)
                .then(|| StorageClass::from(Class::of(&meta).name().to_string())),
            last_modified: Some(attrs::last_modified(&meta)),
            object_parts,
            ..Default::default()
        })
    }
}

/// Whether a request is a GetObjectAttributes: a GET with the `attributes` query parameter.
pub fn is_get_object_attributes(method: &Method, query: Option<&str>) -> bool {
    method == Method::GET
        && query.is_some_and(|q| {
            q.split('&')
                .any(|pair| pair.split('=').next() == Some("attributes"))
        })
}

/// A successful GetObjectAttributes answer with its `<ETag>` unquoted, as S3 writes it; an error when its
/// body (s3s' XML, in memory) cannot be read whole.
pub async fn unquote_etag(res: Response) -> Result<Response, axum::Error> {
    if res.status() != StatusCode::OK {
        return Ok(res);
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, ANSWER_LIMIT).await?;
    let text = String::from_utf8_lossy(&bytes)
        .replacen("<ETag>\"", "<ETag>", 1)
        .replacen("\"</ETag>", "</ETag>", 1);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, axum::body::Body::from(text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::manifest::PartRef;
    use crate::s3::uploads::part_key;

    fn manifest(numbers: &[i32]) -> Manifest {
        Manifest {
            upload: "u".into(),
            parts: numbers
                .iter()
                .map(|n| PartRef {
                    key: part_key("0123abcd", *n),
                    size: 100 + *n as u64,
                })
                .collect(),
        }
    }

    #[test]
    fn parts_are_paged_by_number_after_the_marker() {
        let m = manifest(&[1, 2, 3, 4, 5, 6]);
        let page = parts_page(&m, Some(3), Some(1));
        let numbers = |p: &GetObjectAttributesParts| {
            p.parts
                .iter()
                .flatten()
                .map(|p| (p.part_number.unwrap(), p.size.unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(numbers(&page), vec![(4, 104)]);
        assert_eq!(page.is_truncated, Some(true));
        assert_eq!(page.next_part_number_marker, Some(4));
        assert_eq!(page.total_parts_count, Some(6));
        let rest = parts_page(&m, Some(4), Some(10));
        assert_eq!(numbers(&rest), vec![(5, 105), (6, 106)]);
        assert_eq!(rest.is_truncated, Some(false));
        let gaps = parts_page(&manifest(&[2, 7, 9]), None, None);
        assert_eq!(numbers(&gaps), vec![(2, 102), (7, 107), (9, 109)]);
        assert_eq!(gaps.max_parts, Some(1000));
    }

    #[test]
    fn only_a_get_with_attributes_is_get_object_attributes() {
        assert!(is_get_object_attributes(&Method::GET, Some("attributes")));
        assert!(is_get_object_attributes(
            &Method::GET,
            Some("x=1&attributes=")
        ));
        assert!(!is_get_object_attributes(&Method::GET, Some("attributesx")));
        assert!(!is_get_object_attributes(&Method::PUT, Some("attributes")));
        assert!(!is_get_object_attributes(&Method::GET, None));
    }
}
