//! The HTTP content headers S3 keeps with an object — `Cache-Control`, `Content-Disposition`,
//! `Content-Encoding`, `Content-Language` and `Expires` — given on PutObject, CopyObject (`REPLACE`) and
//! CreateMultipartUpload, returned by GetObject and HeadObject. They are MictlanX tags next to the other S3
//! attributes ([`super::attrs`]), so they are replicated, healed and cached with the object; `Expires` is
//! kept as its HTTP date. A read's `response-*` query parameters override them in the answer only.

use std::collections::BTreeMap;

use s3s::dto::{Timestamp, TimestampFormat};

use mictlanx_proto::model::Metadata;

pub const CACHE_CONTROL: &str = "s3.cache-control";
pub const CONTENT_DISPOSITION: &str = "s3.content-disposition";
pub const CONTENT_ENCODING: &str = "s3.content-encoding";
pub const CONTENT_LANGUAGE: &str = "s3.content-language";
pub const EXPIRES: &str = "s3.expires";

/// The content headers of an object (each optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentHeaders {
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<Timestamp>,
}

fn http_date(t: &Timestamp) -> Option<String> {
    let mut out = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut out).ok()?;
    String::from_utf8(out).ok()
}

impl ContentHeaders {
    /// The headers recorded in an object's (or an upload's) tags.
    pub fn of_tags(tags: &BTreeMap<String, String>) -> Self {
        let text = |name: &str| tags.get(name).filter(|v| !v.is_empty()).cloned();
        ContentHeaders {
            cache_control: text(CACHE_CONTROL),
            content_disposition: text(CONTENT_DISPOSITION),
            content_encoding: text(CONTENT_ENCODING),
            content_language: text(CONTENT_LANGUAGE),
            expires: text(EXPIRES)
                .and_then(|v| Timestamp::parse(TimestampFormat::HttpDate, &v).ok()),
        }
    }

    /// The headers recorded with an object.
    pub fn of(meta: &Metadata) -> Self {
        Self::of_tags(&meta.tags)
    }

    /// The tags that record these headers.
    pub fn tags(&self) -> BTreeMap<String, String> {
        [
            (CACHE_CONTROL, self.cache_control.clone()),
            (CONTENT_DISPOSITION, self.content_disposition.clone()),
            (CONTENT_ENCODING, self.content_encoding.clone()),
            (CONTENT_LANGUAGE, self.content_language.clone()),
            (EXPIRES, self.expires.as_ref().and_then(http_date)),
        ]
        .into_iter()
        .filter_map(|(name, v)| Some((name.to_string(), v.filter(|v| !v.is_empty())?)))
        .collect()
    }

    /// These headers with a read's `response-*` overrides applied (each given one wins).
    pub fn overridden(self, by: ContentHeaders) -> Self {
        ContentHeaders {
            cache_control: by.cache_control.or(self.cache_control),
            content_disposition: by.content_disposition.or(self.content_disposition),
            content_encoding: by.content_encoding.or(self.content_encoding),
            content_language: by.content_language.or(self.content_language),
            expires: by.expires.or(self.expires),
        }
    }
}

/// The `Content-Encoding` to keep: the one given without `aws-chunked`, which names the transfer of the
/// request's body (SigV4 chunks), not the object; nothing when only that was given.
pub fn stored_encoding(given: Option<&str>) -> Option<String> {
    let kept: Vec<&str> = given?
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// `ContentHeaders { .. }` from the five same-named fields of an s3s input (`cache_control`, …), or, with
/// `response`, from its `response_*` overrides.
macro_rules! content_headers {
    ($input:expr) => {
        $crate::s3::content_headers::ContentHeaders {
            cache_control: $input.cache_control.clone(),
            content_disposition: $input.content_disposition.clone(),
            content_encoding: $crate::s3::content_headers::stored_encoding(
                $input.content_encoding.as_deref(),
            ),
            content_language: $input.content_language.clone(),
            expires: $input.expires.clone(),
        }
    };
    (response $input:expr) => {
        $crate::s3::content_headers::ContentHeaders {
            cache_control: $input.response_cache_control.clone(),
            content_disposition: $input.response_content_disposition.clone(),
            content_encoding: $input.response_content_encoding.clone(),
            content_language: $input.response_content_language.clone(),
            expires: $input.response_expires.clone(),
        }
    };
}
pub(super) use content_headers;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_is_not_an_encoding_of_the_object() {
        assert_eq!(stored_encoding(Some("gzip")).as_deref(), Some("gzip"));
        assert_eq!(
            stored_encoding(Some("deflate, gzip")).as_deref(),
            Some("deflate, gzip")
        );
        assert_eq!(
            stored_encoding(Some("aws-chunked, gzip")).as_deref(),
            Some("gzip")
        );
        assert_eq!(
            stored_encoding(Some("gzip,aws-chunked")).as_deref(),
            Some("gzip")
        );
        assert_eq!(stored_encoding(Some("aws-chunked, aws-chunked")), None);
        assert_eq!(stored_encoding(None), None);
    }

    #[test]
    fn headers_round_trip_through_tags_and_overrides_win() {
        let expires = Timestamp::parse(TimestampFormat::HttpDate, "Wed, 21 Oct 2026 07:28:00 GMT")
            .expect("an HTTP date");
        let kept = ContentHeaders {
            cache_control: Some("max-age=60".into()),
            content_disposition: Some("attachment; filename=\"a.txt\"".into()),
            content_encoding: Some("gzip".into()),
            content_language: None,
            expires: Some(expires),
        };
        let tags = kept.tags();
        assert_eq!(tags.len(), 4, "{tags:?}");
        assert_eq!(tags[EXPIRES], "Wed, 21 Oct 2026 07:28:00 GMT");
        assert_eq!(ContentHeaders::of_tags(&tags), kept);
        let answered = kept.clone().overridden(ContentHeaders {
            cache_control: Some("no-cache".into()),
            content_language: Some("es".into()),
            ..Default::default()
        });
        assert_eq!(answered.cache_control.as_deref(), Some("no-cache"));
        assert_eq!(answered.content_language.as_deref(), Some("es"));
        assert_eq!(answered.content_encoding.as_deref(), Some("gzip"));
        assert!(ContentHeaders::of_tags(&BTreeMap::new()).tags().is_empty());
    }
}
