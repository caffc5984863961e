//! Keyset paging parameters of the listings (`docs/peer-api.md` §6 #5, #10): a page starts strictly after
//! a key and holds at most `limit` items, so its cost does not depend on its position (an offset window
//! skips every earlier item).

use axum::http::Uri;

use mictlanx_http::error::ApiError;
use mictlanx_proto::shard::SHARDS;

/// Largest `limit` a page may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// The decoded `name=value` pairs of a query string (`+` is a space).
pub fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            (name.to_string(), value)
        })
        .collect()
}

/// `limit`: absent = `None`; otherwise an integer in `1..=MAX_LIMIT`.
fn limit(value: &str) -> Result<usize, ApiError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "limit must be an integer between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// An inventory page (#5): items after `(after_bucket_id, after_key)`, at most `limit`; with `shard`, only
/// that shard's items.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InventoryPage {
    pub shard: Option<u16>,
    pub after: Option<(String, String)>,
    pub limit: Option<usize>,
}

/// `shard`: an integer in `0..SHARDS`.
fn shard(value: &str) -> Result<u16, ApiError> {
    match value.trim().parse::<u16>() {
        Ok(n) if n < SHARDS => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "shard must be an integer between 0 and {}",
            SHARDS - 1
        ))),
    }
}

impl InventoryPage {
    /// `Ok(None)` when the query has no keyset parameter (the offset window applies).
    pub fn parse(uri: &Uri) -> Result<Option<Self>, ApiError> {
        let (mut bucket, mut key, mut page) = (None, None, InventoryPage::default());
        let mut keyset = false;
        for (name, value) in query_pairs(uri) {
            match name.as_str() {
                "after_bucket_id" => bucket = Some(value),
                "after_key" => key = Some(value),
                "limit" => page.limit = Some(limit(&value)?),
                "shard" => page.shard = Some(shard(&value)?),
                _ => continue,
            }
            keyset = true;
        }
        page.after = match (bucket, key) {
            (Some(b), Some(k)) => Some((b, k)),
            (None, None) => None,
            _ => {
                return Err(ApiError::bad_request(
                    "after_bucket_id and after_key go together",
                ))
            }
        };
        Ok(keyset.then_some(page))
    }
}

/// A bucket listing page (#10): keys starting with `prefix`, after `start_after`, at most `limit`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BucketPage {
    pub prefix: String,
    pub start_after: Option<String>,
    pub limit: Option<usize>,
}

impl BucketPage {
    pub fn parse(uri: &Uri) -> Result<Self, ApiError> {
        let mut page = BucketPage::default();
        for (name, value) in query_pairs(uri) {
            match name.as_str() {
                "prefix" => page.prefix = value,
                "start_after" => page.start_after = Some(value).filter(|v| !v.is_empty()),
                "limit" => page.limit = Some(limit(&value)?),
                _ => {}
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(q: &str) -> Uri {
        format!("/x?{q}").parse().unwrap()
    }

    #[test]
    fn inventory_pages_parse_and_refuse_half_keys() {
        assert_eq!(InventoryPage::parse(&uri("start=0&end=5")).unwrap(), None);
        assert_eq!(
            InventoryPage::parse(&uri("after_bucket_id=b&after_key=k%201&limit=10")).unwrap(),
            Some(InventoryPage {
                shard: None,
                after: Some(("b".into(), "k 1".into())),
                limit: Some(10)
            })
        );
        assert_eq!(
            InventoryPage::parse(&uri("limit=3")).unwrap(),
            Some(InventoryPage {
                shard: None,
                after: None,
                limit: Some(3)
            })
        );
        assert_eq!(
            InventoryPage::parse(&uri("shard=1023")).unwrap(),
            Some(InventoryPage {
                shard: Some(1023),
                after: None,
                limit: None
            })
        );
        for bad in ["shard=1024", "shard=-1", "shard=x"] {
            let e = InventoryPage::parse(&uri(bad)).unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
        let e = InventoryPage::parse(&uri("after_key=k")).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(InventoryPage::parse(&uri("limit=0")).is_err());
        assert!(InventoryPage::parse(&uri("limit=x")).is_err());
    }

    #[test]
    fn bucket_pages_parse() {
        assert_eq!(BucketPage::parse(&uri("")).unwrap(), BucketPage::default());
        assert_eq!(
            BucketPage::parse(&uri("prefix=a&start_after=a1&limit=2")).unwrap(),
            BucketPage {
                prefix: "a".into(),
                start_after: Some("a1".into()),
                limit: Some(2)
            }
        );
        assert!(BucketPage::parse(&uri("limit=100000")).is_err());
    }
}
