//! Peer API route templates (`docs/peer-api.md` §6) as the peer's route table declares them, and builders of
//! concrete request paths for callers (ids go in as one escaped path segment each).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// #1 `GET`: liveness.
pub const HEALTH: &str = "/health";
/// `GET`: Prometheus text.
pub const METRICS: &str = "/metrics";
/// #2 `GET`: capacity figures, no disk scan.
pub const STATS_UFS: &str = "/api/v4/stats/ufs";
/// #3 `GET ?start&end`: the seven-key stats.
pub const STATS: &str = "/api/v4/stats";
/// #4 `GET ?start&end`: `[[bucket_id, key, size], …]`.
pub const XBALLS_SIZE: &str = "/api/v4/xballs/size";
/// #5 `GET ?start&end` (offset window) or `?after_bucket_id&after_key&limit` (keyset page): the inventory.
pub const XBALLS: &str = "/api/v4/xballs";
/// #5a `GET`: one digest per shard of the committed objects (`{"shards", "digests"}`), so an inventory pass
/// lists only the shards that changed. A peer without it answers 404.
pub const XBALLS_DIGESTS: &str = "/api/v4/xballs/digests";
/// #6 `GET`: count of committed objects.
pub const BALLS_LEN: &str = "/api/v4/balls/len";
/// #7 `DELETE`: drop idle pending tasks.
pub const TASKS: &str = "/api/v4/tasks";
/// #8 `POST`: announce a neighbour.
pub const NODES: &str = "/api/v4/nodes";
/// #9 `GET ?start&end`: local objects with their locations.
pub const PEERS_STATE: &str = "/api/v4/peers/state";
/// #10 `GET ?prefix&start_after&limit` (the bucket's metadata, all optional) and #11 `POST` (phase 1 of a
/// write).
pub const BUCKET_METADATA: &str = "/api/v4/buckets/{bucket_id}/metadata";
/// #12 `GET`: one object's metadata.
pub const OBJECT_METADATA: &str = "/api/v4/buckets/{bucket_id}/metadata/{key}";
/// #13 `GET`: the objects of a ball with their total size.
pub const BALL_GROUP: &str = "/api/v4/buckets/{bucket_id}/metadata/{ball_id}/group";
/// #14 `GET`: the bare list of #13.
pub const BALL_CHUNKS: &str = "/api/v4/buckets/{bucket_id}/metadata/{ball_id}/chunks";
/// #15 `POST`: phase 2, multipart body.
pub const UPLOAD: &str = "/api/v4/buckets/data/{task_id}";
/// #16 `POST`: phase 2, raw (chunked) body.
pub const UPLOAD_CHUNKED: &str = "/api/v4/buckets/data/{task_id}/chunked";
/// #17 `GET`: one object's size.
pub const OBJECT_SIZE: &str = "/api/v4/buckets/{bucket_id}/{key}/size";
/// #18 `POST`: mark an object disabled.
pub const DISABLE: &str = "/api/v4/buckets/{bucket_id}/{key}/disable";
/// #19 `POST`: pull an object from a neighbour.
pub const REPLICATE: &str = "/api/v4/buckets/{bucket_id}/{key}/replicate";
/// #20 `DELETE`: every object of a ball.
pub const BALL: &str = "/api/v4/buckets/{bucket_id}/bid/{ball_id}";
/// #21 `GET` (the bytes) and #22 `DELETE` (the object).
pub const OBJECT: &str = "/api/v4/buckets/{bucket_id}/{key}";

/// Path-segment escaping: everything but RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `template` with its `{name}` placeholders replaced, in order, by the escaped `segments`.
fn fill(template: &str, segments: &[&str]) -> String {
    let mut out =
        String::with_capacity(template.len() + segments.iter().map(|s| s.len()).sum::<usize>());
    let mut rest = template;
    let mut segments = segments.iter();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("a placeholder is closed");
        let segment = segments.next().expect("one segment per placeholder");
        out.extend(utf8_percent_encode(segment, SEGMENT));
        rest = &rest[close + 1..];
    }
    debug_assert!(segments.next().is_none(), "one placeholder per segment");
    out.push_str(rest);
    out
}

/// `{path}?start={start}&end={end}`: a window of #3, #4, #5 or #9.
pub fn window(path: &str, start: impl std::fmt::Display, end: impl std::fmt::Display) -> String {
    format!("{path}?start={start}&end={end}")
}

pub fn bucket_metadata(bucket_id: &str) -> String {
    fill(BUCKET_METADATA, &[bucket_id])
}

/// `#5 ?after_bucket_id&after_key&limit`: the keyset inventory page after `after` (`None` = the first).
pub fn xballs_after(after: Option<(&str, &str)>, limit: usize) -> String {
    match after {
        Some((b, k)) => format!(
            "{XBALLS}?after_bucket_id={}&after_key={}&limit={limit}",
            utf8_percent_encode(b, SEGMENT),
            utf8_percent_encode(k, SEGMENT)
        ),
        None => format!("{XBALLS}?limit={limit}"),
    }
}

/// `#5 ?shard&after_bucket_id&after_key&limit`: the keyset inventory page of shard `shard` only, after
/// `after` (`None` = the first).
pub fn xballs_shard_after(shard: u16, after: Option<(&str, &str)>, limit: usize) -> String {
    match after {
        Some((b, k)) => format!(
            "{XBALLS}?shard={shard}&after_bucket_id={}&after_key={}&limit={limit}",
            utf8_percent_encode(b, SEGMENT),
            utf8_percent_encode(k, SEGMENT)
        ),
        None => format!("{XBALLS}?shard={shard}&limit={limit}"),
    }
}

/// `#10 ?prefix&start_after&limit`: a page of a bucket listing (keys starting with `prefix`, after
/// `start_after`).
pub fn bucket_metadata_page(
    bucket_id: &str,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> String {
    let mut out = format!("{}?limit={limit}", bucket_metadata(bucket_id));
    if !prefix.is_empty() {
        out.push_str("&prefix=");
        out.extend(utf8_percent_encode(prefix, SEGMENT));
    }
    if let Some(k) = start_after {
        out.push_str("&start_after=");
        out.extend(utf8_percent_encode(k, SEGMENT));
    }
    out
}

pub fn object_metadata(bucket_id: &str, key: &str) -> String {
    fill(OBJECT_METADATA, &[bucket_id, key])
}

pub fn ball_group(bucket_id: &str, ball_id: &str) -> String {
    fill(BALL_GROUP, &[bucket_id, ball_id])
}

pub fn ball_chunks(bucket_id: &str, ball_id: &str) -> String {
    fill(BALL_CHUNKS, &[bucket_id, ball_id])
}

pub fn upload(task_id: &str) -> String {
    fill(UPLOAD, &[task_id])
}

pub fn upload_chunked(task_id: &str) -> String {
    fill(UPLOAD_CHUNKED, &[task_id])
}

pub fn object_size(bucket_id: &str, key: &str) -> String {
    fill(OBJECT_SIZE, &[bucket_id, key])
}

pub fn disable(bucket_id: &str, key: &str) -> String {
    fill(DISABLE, &[bucket_id, key])
}

pub fn replicate(bucket_id: &str, key: &str) -> String {
    fill(REPLICATE, &[bucket_id, key])
}

pub fn ball(bucket_id: &str, ball_id: &str) -> String {
    fill(BALL, &[bucket_id, ball_id])
}

pub fn object(bucket_id: &str, key: &str) -> String {
    fill(OBJECT, &[bucket_id, key])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_fill_templates_with_escaped_segments() {
        assert_eq!(object("b", "k"), "/api/v4/buckets/b/k");
        assert_eq!(
            object_metadata("b 1", "a/b?c"),
            "/api/v4/buckets/b%201/metadata/a%2Fb%3Fc"
        );
        assert_eq!(
            ball_group("b", "x.y-z_~"),
            "/api/v4/buckets/b/metadata/x.y-z_~/group"
        );
        assert_eq!(ball_chunks("b", "x"), "/api/v4/buckets/b/metadata/x/chunks");
        assert_eq!(upload_chunked("t"), "/api/v4/buckets/data/t/chunked");
        assert_eq!(upload("t%"), "/api/v4/buckets/data/t%25");
        assert_eq!(object_size("b", "ü"), "/api/v4/buckets/b/%C3%BC/size");
        assert_eq!(disable("b", "k"), "/api/v4/buckets/b/k/disable");
        assert_eq!(replicate("b", "k"), "/api/v4/buckets/b/k/replicate");
        assert_eq!(ball("b", "x"), "/api/v4/buckets/b/bid/x");
        assert_eq!(bucket_metadata("b"), "/api/v4/buckets/b/metadata");
        assert_eq!(window(STATS, 0, -1), "/api/v4/stats?start=0&end=-1");
        assert_eq!(
            xballs_shard_after(7, Some(("b", "k 1")), 5),
            "/api/v4/xballs?shard=7&after_bucket_id=b&after_key=k%201&limit=5"
        );
        assert_eq!(
            xballs_shard_after(0, None, 9),
            "/api/v4/xballs?shard=0&limit=9"
        );
        assert_eq!(
            xballs_after(Some(("b", "k 1")), 5),
            "/api/v4/xballs?after_bucket_id=b&after_key=k%201&limit=5"
        );
        assert_eq!(xballs_after(None, 5), "/api/v4/xballs?limit=5");
        assert_eq!(
            bucket_metadata_page("b", "p/", Some("p/1"), 10),
            "/api/v4/buckets/b/metadata?limit=10&prefix=p%2F&start_after=p%2F1"
        );
        assert_eq!(
            bucket_metadata_page("b", "", None, 10),
            "/api/v4/buckets/b/metadata?limit=10"
        );
    }
}
