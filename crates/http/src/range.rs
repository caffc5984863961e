//! Single byte ranges (RFC 9110 §14): parse a `Range` request header against an object size, format
//! `Content-Range`, and read a `Content-Range` answer back. Pure helpers shared by the storage peer, which
//! serves ranges, and the router, which asks for them to continue a read on another replica.

/// An inclusive byte range `start..=end` inside an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range (parsing never yields an empty one: that is `Unsatisfiable`).
    pub fn len(&self) -> u64 {
        if self.is_empty() {
            0
        } else {
            (self.end - self.start).saturating_add(1)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }
}

/// What a `Range` header asks of an object of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No header, or one the server ignores (multi-range, malformed, another unit): send it all (200).
    Full,
    /// One satisfiable range (206).
    Partial(ByteRange),
    /// A well-formed range that selects nothing of this object (416).
    Unsatisfiable,
}

/// Decide a `Range` header value for an object of `size` bytes.
pub fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(value) = value else {
        return RangeRequest::Full;
    };
    let Some((unit, set)) = value.trim().split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Full;
    }
    // a list may carry empty elements, which do not count; more than one range is ignored
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeRequest::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // suffix range: the last n bytes
        let Some(n) = digits(last) else {
            return RangeRequest::Full;
        };
        if n == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial(ByteRange {
            start: size.saturating_sub(n),
            end: size - 1,
        });
    }
    let Some(start) = digits(first) else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match digits(last) {
            Some(end) if end >= start => end,
            _ => return RangeRequest::Full,
        }
    };
    if start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(ByteRange {
        start,
        end: end.min(size - 1),
    })
}

/// Decimal digits only; values beyond u64 saturate (they are beyond every object size anyway).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

/// `Content-Range` of a 206: `bytes {start}-{end}/{size}`.
pub fn content_range(range: ByteRange, size: u64) -> String {
    format!("bytes {}-{}/{size}", range.start, range.end)
}

/// `Content-Range` of a 416: `bytes */{size}`.
pub fn unsatisfied_range(size: u64) -> String {
    format!("bytes */{size}")
}

/// `Range` request value for "everything from `offset` on" (`bytes={offset}-`).
pub fn range_from(offset: u64) -> String {
    format!("bytes={offset}-")
}

/// Read a 206's `Content-Range: bytes a-b/size` back: the range and the size (`None` for `*`).
pub fn parse_content_range(value: &str) -> Option<(ByteRange, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, size) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    let size = match size.trim() {
        "*" => None,
        s => Some(s.parse::<u64>().ok()?),
    };
    if end < start || size.is_some_and(|s| end >= s) {
        return None;
    }
    Some((ByteRange { start, end }, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(v: &str, size: u64) -> RangeRequest {
        parse_range(Some(v), size)
    }

    fn part(start: u64, end: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { start, end })
    }

    #[test]
    fn the_three_single_range_forms() {
        assert_eq!(p("bytes=0-9", 100), part(0, 9));
        assert_eq!(p("bytes=10-", 100), part(10, 99));
        assert_eq!(p("bytes=-10", 100), part(90, 99));
        assert_eq!(p("bytes=90-200", 100), part(90, 99), "last clamps");
        assert_eq!(p("bytes=-500", 100), part(0, 99), "suffix longer than size");
        assert_eq!(p(" Bytes = 5-5 ", 100), part(5, 5));
        assert_eq!(p("bytes=0-99999999999999999999999", 10), part(0, 9));
        assert_eq!(p("bytes=0-0,", 10), part(0, 0), "empty list elements");
    }

    #[test]
    fn unsatisfiable_ranges() {
        for (v, size) in [
            ("bytes=100-", 100),
            ("bytes=100-200", 100),
            ("bytes=-0", 100),
            ("bytes=0-", 0),
            ("bytes=-5", 0),
            ("bytes=99999999999999999999999-", 10),
        ] {
            assert_eq!(p(v, size), RangeRequest::Unsatisfiable, "{v} of {size}");
        }
    }

    #[test]
    fn ignored_headers_mean_the_whole_object() {
        assert_eq!(parse_range(None, 10), RangeRequest::Full);
        for v in [
            "bytes=0-1,3-4",
            "bytes=5-1",
            "items=0-1",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes 0-1",
            "bytes=0x1-2",
            "bytes=+1-2",
            "bytes=1-2-3",
        ] {
            assert_eq!(p(v, 10), RangeRequest::Full, "{v}");
        }
    }

    #[test]
    fn content_range_round_trips() {
        let r = ByteRange { start: 3, end: 7 };
        assert_eq!(content_range(r, 10), "bytes 3-7/10");
        assert_eq!(parse_content_range("bytes 3-7/10"), Some((r, Some(10))));
        assert_eq!(parse_content_range("bytes 3-7/*"), Some((r, None)));
        assert_eq!(unsatisfied_range(10), "bytes */10");
        assert_eq!(range_from(42), "bytes=42-");
        for bad in [
            "bytes 7-3/10",
            "bytes 3-10/10",
            "bytes */10",
            "items 1-2/3",
            "bytes 1-2",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn partial_ranges_stay_inside_the_object(a in 0u64..2000, b in 0u64..2000, size in 0u64..1000) {
            for v in [format!("bytes={a}-{b}"), format!("bytes={a}-"), format!("bytes=-{b}")] {
                if let RangeRequest::Partial(r) = p(&v, size) {
                    prop_assert!(r.start <= r.end && r.end < size, "{v} of {size}: {r:?}");
                    prop_assert_eq!(parse_content_range(&content_range(r, size)), Some((r, Some(size))));
                }
            }
        }
    }
}
