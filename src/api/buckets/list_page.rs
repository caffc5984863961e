//! Bucket listings a page at a time (`docs/router-api.md` #12): a k-way merge of the live peers' sorted
//! keyset pages. Each peer is asked for a page after the merge position and asked again only when its
//! page is used up, so a listing page costs O(page) at the router, at every peer and in the state store
//! (one batched tombstone check per page). The merge keeps one entry per key, the newest copy (greatest
//! `tags.updated_at`, on a tie the smallest `peer_id`), as the unpaged listing always did.
//!
//! [`list_bucket_page`] is the one-call form for other front ends (the S3 façade's ListObjectsV2);
//! [`BucketLister`] keeps the peers' cursors between pages (the streamed complete listing).

use std::collections::VecDeque;

use crate::api::state::AppState;
use crate::cluster::PeerInfo;
use mictlanx_http::error::ApiResult;
use mictlanx_proto::model::Metadata;

/// Largest page a caller may ask for.
pub const MAX_PAGE: usize = 10_000;

/// One page of a bucket listing.
#[derive(Debug, Clone, Default)]
pub struct ListedPage {
    /// At most the asked number of objects, sorted by key, deleted objects left out.
    pub balls: Vec<Metadata>,
    /// The `start_after` of the next page; `None` on the last page.
    pub next_start_after: Option<String>,
    /// The peers that answered every call of this page, sorted.
    pub peer_ids: Vec<String>,
}

/// One page of `bucket`'s objects whose key starts with `prefix` and sorts strictly after `start_after`:
/// at most `limit` objects (1..=[`MAX_PAGE`]) sorted by key, newest copy per key, no deleted object, and
/// the key to pass as `start_after` for the next page (`None` when the listing is complete). A peer that
/// fails or does not answer within the fan-out deadline is left out (not in `peer_ids`).
pub async fn list_bucket_page(
    s: &AppState,
    bucket: &str,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> ApiResult<ListedPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut lister = BucketLister::open(s, bucket, prefix, start_after, limit).await?;
    let balls = lister.next_page(limit).await?;
    Ok(ListedPage {
        balls,
        next_start_after: lister.next_start_after(),
        peer_ids: lister.peer_ids(),
    })
}

/// One peer's side of the merge: its buffered page and where its next page starts.
struct Source {
    peer: PeerInfo,
    buf: VecDeque<Metadata>,
    /// The last key this peer listed (its next page starts after it).
    after: Option<String>,
    exhausted: bool,
    failed: bool,
}

impl Source {
    fn needs_refill(&self) -> bool {
        self.buf.is_empty() && !self.exhausted && !self.failed
    }
}

/// The merge state of one listing: the peers' cursors and the merge position.
pub struct BucketLister {
    s: AppState,
    bucket: String,
    prefix: String,
    /// Items asked of a peer per call.
    batch: usize,
    sources: Vec<Source>,
    /// The last key taken from the merge (listed or found deleted).
    position: Option<String>,
}

impl BucketLister {
    /// A listing of the live peers, starting after `start_after`; `batch` items are asked per peer call.
    pub async fn open(
        s: &AppState,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        batch: usize,
    ) -> ApiResult<Self> {
        let mut peers = s.rm.get_peers().await?.available;
        peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        let start = start_after.map(str::to_string);
        Ok(BucketLister {
            s: s.clone(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            batch: batch.clamp(1, MAX_PAGE),
            sources: peers
                .into_iter()
                .map(|peer| Source {
                    peer,
                    buf: VecDeque::new(),
                    after: start.clone(),
                    exhausted: false,
                    failed: false,
                })
                .collect(),
            position: start,
        })
    }

    /// Asks every peer whose page is used up for its next page, concurrently, within the fan-out
    /// deadline. A peer that fails is left out of the rest of the listing.
    async fn refill(&mut self) {
        let deadline = self.s.config.peer_io.fanout_deadline;
        let calls = self
            .sources
            .iter()
            .enumerate()
            .filter(|(_, src)| src.needs_refill())
            .map(|(i, src)| {
                let client = self.s.peers.clone();
                let (peer, after) = (src.peer.clone(), src.after.clone());
                let (bucket, prefix, batch) = (&self.bucket, &self.prefix, self.batch);
                async move {
                    let call =
                        client.bucket_metadata_page(&peer, bucket, prefix, after.as_deref(), batch);
                    let answer = match tokio::time::timeout(deadline, call).await {
                        Ok(r) => r.map_err(|e| e.to_string()),
                        Err(_) => Err(format!("no answer within {deadline:?}")),
                    };
                    (i, answer)
                }
            });
        let answers = futures::future::join_all(calls).await;
        for (i, answer) in answers {
            let src = &mut self.sources[i];
            match answer {
                Ok(page) => {
                    let asked = self.batch;
                    let after = src.after.clone();
                    src.exhausted = exhausted(&page.balls, asked, &self.prefix, after.as_deref());
                    let mut balls: Vec<Metadata> = page
                        .balls
                        .into_iter()
                        .filter(|m| m.key.starts_with(self.prefix.as_str()))
                        .filter(|m| after.as_deref().is_none_or(|a| m.key.as_str() > a))
                        .collect();
                    balls.sort_by(|a, b| a.key.cmp(&b.key));
                    if let Some(last) = balls.last() {
                        src.after = Some(last.key.clone());
                    }
                    src.buf = balls.into();
                }
                Err(error) => {
                    tracing::warn!(peer_id = %src.peer.peer_id, %error, "bucket listing failed on a peer");
                    src.failed = true;
                    src.buf.clear();
                }
            }
        }
    }

    /// The next key of the merge with its newest copy, not yet checked against tombstones.
    async fn next_candidate(&mut self) -> Option<Metadata> {
        if self.sources.iter().any(Source::needs_refill) {
            self.refill().await;
        }
        let key = self
            .sources
            .iter()
            .filter(|s| !s.failed)
            .filter_map(|s| s.buf.front().map(|m| m.key.clone()))
            .min()?;
        // (copy, its `updated_at`): the tag is parsed once per copy
        let mut winner: Option<(Metadata, i128)> = None;
        for src in self.sources.iter_mut().filter(|s| !s.failed) {
            if src.buf.front().is_some_and(|m| m.key == key) {
                let m = src.buf.pop_front().expect("front checked");
                let at = m.updated_at();
                if winner.as_ref().is_none_or(|(_, w)| at > *w) {
                    winner = Some((m, at));
                }
            }
        }
        self.position = Some(key);
        winner.map(|(m, _)| m)
    }

    /// The next at most `limit` objects that are not deleted.
    pub async fn next_page(&mut self, limit: usize) -> ApiResult<Vec<Metadata>> {
        let mut out = Vec::with_capacity(limit.min(MAX_PAGE));
        while out.len() < limit {
            let mut candidates = Vec::new();
            while candidates.len() < limit - out.len() {
                match self.next_candidate().await {
                    Some(m) => candidates.push(m),
                    None => break,
                }
            }
            if candidates.is_empty() {
                break;
            }
            let keys: Vec<String> = candidates.iter().map(|m| m.key.clone()).collect();
            let deleted: std::collections::HashSet<String> = self
                .s
                .rm
                .deleted_keys(&self.bucket, keys)
                .await?
                .into_iter()
                .collect();
            out.extend(candidates.into_iter().filter(|m| !deleted.contains(&m.key)));
        }
        Ok(out)
    }

    /// Whether some peer may still list more.
    pub fn has_more(&self) -> bool {
        self.sources
            .iter()
            .any(|s| !s.failed && (!s.buf.is_empty() || !s.exhausted))
    }

    /// The `start_after` of the next page, `None` when the listing is complete.
    pub fn next_start_after(&self) -> Option<String> {
        self.has_more().then(|| self.position.clone()).flatten()
    }

    /// The peers that answered every call so far, sorted.
    pub fn peer_ids(&self) -> Vec<String> {
        self.sources
            .iter()
            .filter(|s| !s.failed)
            .map(|s| s.peer.peer_id.clone())
            .collect()
    }
}

/// Whether a peer's answer to a page call ends its part of the listing: a short page, or an answer of a peer
/// that ignores the paging parameters (an older peer answers its whole bucket). The latter shows by more keys
/// than asked, or by a key at or before the cursor or outside the prefix, which a paging peer never answers;
/// its whole bucket may be exactly `asked` keys, and then the next call tells.
fn exhausted(balls: &[Metadata], asked: usize, prefix: &str, after: Option<&str>) -> bool {
    let ignored_paging = balls
        .iter()
        .any(|m| !m.key.starts_with(prefix) || after.is_some_and(|a| m.key.as_str() <= a));
    balls.len() != asked || ignored_paging
}

#[cfg(test)]
mod tests {
    use super::exhausted;
    use mictlanx_proto::model::Metadata;

    fn balls(keys: &[&str]) -> Vec<Metadata> {
        keys.iter()
            .map(|k| {
                serde_json::from_value(serde_json::json!({
                    "key": k, "size": 1, "checksum": "-", "bucket_id": "b", "ball_id": k,
                }))
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn a_full_page_of_a_paging_peer_asks_again_and_a_short_one_ends() {
        assert!(!exhausted(&balls(&["k1", "k2"]), 2, "k", None));
        assert!(!exhausted(&balls(&["k3", "k4"]), 2, "k", Some("k2")));
        assert!(exhausted(&balls(&["k5"]), 2, "k", Some("k4")));
        assert!(exhausted(&[], 2, "k", Some("k5")));
    }

    #[test]
    fn a_peer_that_ignores_paging_ends_even_when_its_bucket_is_exactly_one_page() {
        // an older peer with exactly `asked` keys answers them again after the cursor: that ends it (it
        // used to be asked again forever, the listing answering no keys and the same cursor)
        let whole = balls(&["k4", "k5"]);
        assert!(!exhausted(&whole, 2, "", None));
        assert!(exhausted(&whole, 2, "", Some("k5")));
        // keys outside the prefix, or more keys than asked, show it too
        assert!(exhausted(&balls(&["a1", "k1"]), 2, "k", None));
        assert!(exhausted(&balls(&["k1", "k2", "k3"]), 2, "k", None));
    }
}
