//! GetObject and HeadObject of one part (`partNumber`): the span of the object that part `n` of its
//! manifest covers (parts in the order of the completed upload), and the object's part count. An object
//! written in one piece is one part.

use s3s::dto::{PartNumber, Range};
use s3s::{S3Error, S3ErrorCode, S3Result};

use super::attrs;
use super::manifest::{read_manifest, PartRef};
use super::service::Facade;
use mictlanx_proto::model::Metadata;

/// What a read of one part selects.
#[derive(Debug, Default)]
pub struct PartRead {
    /// The range to read instead of the request's.
    pub range: Option<Range>,
    /// The part's size, for HEAD.
    pub length: Option<u64>,
    /// The object's number of parts (multipart objects only, as S3).
    pub parts_count: Option<i32>,
}

fn invalid_part(n: i32) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidPart,
        format!("The requested partnumber {n} is not satisfiable"),
    )
}

/// The byte span of part `n` (1-based) of `parts`.
pub fn part_span(parts: &[PartRef], n: i32) -> Option<(u64, u64)> {
    let i = usize::try_from(n).ok()?.checked_sub(1)?;
    let offset: u64 = parts.iter().take(i).map(|p| p.size).sum();
    let size = parts.get(i)?.size;
    Some((offset, size))
}

fn span_read((offset, size): (u64, u64), parts_count: Option<i32>) -> PartRead {
    PartRead {
        // an empty part reads as an empty body: no range
        range: (size > 0).then_some(Range::Int {
            first: offset,
            last: Some(offset + size - 1),
        }),
        length: Some(size),
        parts_count,
    }
}

impl Facade {
    /// The read of part `part_number` of object `b`/`k` (`meta` its metadata), or the request's `range`
    /// as is when no part is asked. A part and a range together are `InvalidRequest`, a part the object
    /// does not have `InvalidPart`.
    pub(super) async fn part_read(
        &self,
        (b, k, meta): (&str, &str, &Metadata),
        part_number: Option<PartNumber>,
        range: Option<Range>,
    ) -> S3Result<PartRead> {
        let Some(n) = part_number else {
            return Ok(PartRead {
                range,
                ..PartRead::default()
            });
        };
        if range.is_some() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter",
            ));
        }
        if !attrs::is_manifest(meta) {
            return match n {
                1 => Ok(span_read((0, attrs::size(meta)), None)),
                _ => Err(invalid_part(n)),
            };
        }
        let manifest = read_manifest(&self.backend, b, k).await?;
        let count = i32::try_from(manifest.parts.len()).unwrap_or(i32::MAX);
        let span = part_span(&manifest.parts, n).ok_or_else(|| invalid_part(n))?;
        Ok(span_read(span, Some(count)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(sizes: &[u64]) -> Vec<PartRef> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| PartRef {
                key: format!("u-{i:05}"),
                size,
            })
            .collect()
    }

    #[test]
    fn part_n_spans_the_bytes_after_the_parts_before_it() {
        let p = parts(&[5, 5, 3]);
        assert_eq!(part_span(&p, 1), Some((0, 5)));
        assert_eq!(part_span(&p, 3), Some((10, 3)));
        assert_eq!(part_span(&p, 0), None);
        assert_eq!(part_span(&p, 4), None);
        assert_eq!(part_span(&p, -1), None);
    }
}
