//! The per-shard inventory of a peer (`docs/peer-api.md` #5a): the shard digests, and one shard's keyset
//! pages. An original MictlanX peer has neither and answers 404 (`PeerError::NotFound`).

use super::answer::decode;
use super::{PeerClient, PeerError, XBall};
use crate::peer::PeerInfo;
use mictlanx_proto::peer::{paths, ShardDigests};

impl PeerClient {
    /// `GET /api/v4/xballs/digests`: one digest per shard.
    pub async fn shard_digests(&self, peer: &PeerInfo) -> Result<ShardDigests, PeerError> {
        let req = self.http.get(self.url(peer, paths::XBALLS_DIGESTS));
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// `GET /api/v4/xballs?shard&after_bucket_id&after_key&limit`: one keyset page of shard `shard`, the
    /// objects strictly after `after` in `(bucket_id, key)` order.
    pub async fn xballs_shard_after(
        &self,
        peer: &PeerInfo,
        shard: u16,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<XBall>, PeerError> {
        let path = paths::xballs_shard_after(shard, after, limit);
        let req = self.http.get(self.url(peer, &path));
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }
}
