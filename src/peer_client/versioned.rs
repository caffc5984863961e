//! The peer API extensions of versions and desired redundancy (`docs/peer-api.md` §9–§14): requests
//! that carry `Object-Version` / `Replication-Factor` / `If-Version-At-Most`, and answers whose
//! `Object-Version` / `Replication-Factor` headers say which copy a peer holds.

use reqwest::header::HeaderMap;

use super::{decode, n_deletes, PeerClient};
use crate::peer::PeerInfo;
use crate::peer_client::{
    GetMetadataResponse, PeerError, PeerPutDataResponse, PeerPutMetadata, PeerPutMetadataResponse,
};

use mictlanx_proto::headers::{FORCE, TASK_ID, UPDATE};
pub use mictlanx_proto::headers::{IF_VERSION_AT_MOST, OBJECT_VERSION, REPLICATION_FACTOR};
use mictlanx_proto::peer::paths;

/// Which copy a peer holds: its version and desired rf (0 = the peer did not say).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyInfo {
    pub version: u64,
    pub rf: u32,
}

impl CopyInfo {
    pub fn from_headers(h: &HeaderMap) -> CopyInfo {
        let num = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        CopyInfo {
            version: num(OBJECT_VERSION).unwrap_or(0),
            rf: num(REPLICATION_FACTOR)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
        }
    }
}

/// Extra headers of a put metadata (phase 1 or an in-place update).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutOptions {
    pub rf: Option<u32>,
    pub version: Option<u64>,
}

impl PeerClient {
    /// `GET /api/v4/buckets/{b}/metadata/{k}` and the copy's version and rf.
    pub async fn get_metadata_copy(
        &self,
        peer: &PeerInfo,
        b: &str,
        k: &str,
    ) -> Result<(GetMetadataResponse, CopyInfo), PeerError> {
        let path = paths::object_metadata(b, k);
        let req = self.http.get(self.url(peer, &path));
        let answer = self.call(peer, req, Some(self.peer_timeout)).await?;
        let copy = CopyInfo::from_headers(&answer.headers);
        Ok((decode(answer)?, copy))
    }

    /// Put metadata with `Replication-Factor` and `Object-Version` when given.
    pub async fn put_metadata_with(
        &self,
        peer: &PeerInfo,
        b: &str,
        body: &PeerPutMetadata,
        task_id: Option<&str>,
        update: &str,
        opts: PutOptions,
    ) -> Result<PeerPutMetadataResponse, PeerError> {
        let mut req = self
            .http
            .post(self.url(peer, &paths::bucket_metadata(b)))
            .header(UPDATE, update)
            .json(body);
        if let Some(t) = task_id {
            req = req.header(TASK_ID, t);
        }
        if let Some(rf) = opts.rf {
            req = req.header(REPLICATION_FACTOR, rf);
        }
        if let Some(v) = opts.version {
            req = req.header(OBJECT_VERSION, v);
        }
        decode(self.call(peer, req, Some(self.peer_timeout)).await?)
    }

    /// The streaming upload of phase 2 committing `version` on the peer (`None` = the peer picks one).
    pub async fn upload_chunked_versioned(
        &self,
        peer: &PeerInfo,
        task_id: &str,
        size: u64,
        body: reqwest::Body,
        version: Option<u64>,
    ) -> Result<PeerPutDataResponse, PeerError> {
        self.upload_with(peer, task_id, size, body, version).await
    }

    /// Disable at `version`.
    pub async fn disable_versioned(
        &self,
        peer: &PeerInfo,
        b: &str,
        k: &str,
        version: u64,
    ) -> Result<(), PeerError> {
        let path = paths::disable(b, k);
        let req = self
            .http
            .post(self.url(peer, &path))
            .header(OBJECT_VERSION, version);
        self.call(peer, req, Some(self.peer_timeout))
            .await
            .map(|_| ())
    }

    /// Delete the peer's copy only if its version is at most `at_most` (a `409` answer = the peer holds a
    /// newer copy, which stays). Answers the `n-deletes` count.
    pub async fn delete_if_at_most(
        &self,
        peer: &PeerInfo,
        b: &str,
        k: &str,
        force: bool,
        at_most: u64,
    ) -> Result<u64, PeerError> {
        let path = paths::object(b, k);
        let req = self
            .http
            .delete(self.url(peer, &path))
            .header(FORCE, if force { "1" } else { "0" })
            .header(IF_VERSION_AT_MOST, at_most);
        n_deletes(self.call(peer, req, Some(self.peer_timeout)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_info_reads_headers_and_defaults_to_zero() {
        let mut h = HeaderMap::new();
        assert_eq!(CopyInfo::from_headers(&h), CopyInfo::default());
        h.insert(OBJECT_VERSION, "1700000000000000123".parse().unwrap());
        h.insert(REPLICATION_FACTOR, "3".parse().unwrap());
        assert_eq!(
            CopyInfo::from_headers(&h),
            CopyInfo {
                version: 1_700_000_000_000_000_123,
                rf: 3
            }
        );
        h.insert(REPLICATION_FACTOR, "x".parse().unwrap());
        assert_eq!(CopyInfo::from_headers(&h).rf, 0);
    }
}
