//! A data GET that also yields the object's metadata in one peer request (issue 16): the peer's data answer
//! carries `Mictlanx-Metadata` (README "Peer API extensions"), which is all a cache fill or an attachment
//! name needs. Peers without the header (older ones, or metadata over its 16 KiB cap) are asked the
//! metadata route as well, after the data answer.

use crate::cluster::PeerInfo;
use crate::peer_client::{DataAnswer, GetMetadataResponse, PeerClient, PeerError};
use mictlanx_proto::headers::{decode_metadata, MICTLANX_METADATA};
use mictlanx_proto::model::Metadata;

/// What the metadata request and the data request (with `range`, when given) would have answered, from one
/// request when the peer can say both: `(metadata, data)`.
pub async fn data_and_metadata(
    client: &PeerClient,
    peer: &PeerInfo,
    (b, k): (&str, &str),
    range: Option<&str>,
) -> (
    Result<GetMetadataResponse, PeerError>,
    Result<DataAnswer, PeerError>,
) {
    let data = client.get_data_ranged(peer, b, k, range).await;
    let from_header = match &data {
        Ok(DataAnswer::Whole { resp, .. }) | Ok(DataAnswer::Part { resp, .. }) => {
            header_metadata(peer, resp)
        }
        // A 416 keeps no answer to read; the route says what the range missed.
        Ok(DataAnswer::Unsatisfiable { .. }) => None,
        // A 404 is an absent or a disabled object; only the metadata route tells which (a disabled
        // object keeps its replica record).
        Err(PeerError::NotFound(_)) => None,
        Err(e) => return (Err(e.clone()), data),
    };
    let from = if from_header.is_some() {
        "header"
    } else {
        "route"
    };
    client
        .metrics()
        .counter_with(ONE_REQUEST_FILLS, &[("metadata", from)])
        .increment(1);
    let md = match from_header {
        Some(metadata) => Ok(GetMetadataResponse {
            service_time: 0,
            peer_id: peer.peer_id.clone(),
            local_peer_id: peer.peer_id.clone(),
            metadata,
        }),
        None => client.get_metadata(peer, b, k).await,
    };
    (md, data)
}

/// Reads that needed the metadata with the data, by where the metadata came from: `header` (one peer
/// request) or `route` (the two-request fallback).
pub const ONE_REQUEST_FILLS: &str = "mictlanx_router_data_metadata_reads_total";

/// Registers [`ONE_REQUEST_FILLS`] so it is exported before its first event.
pub fn register_metrics(metrics: &crate::telemetry::Metrics) {
    for from in ["header", "route"] {
        metrics
            .counter_with(ONE_REQUEST_FILLS, &[("metadata", from)])
            .increment(0);
    }
}

/// The answer's `Mictlanx-Metadata`, when present and readable (an unreadable one falls back to the route).
fn header_metadata(peer: &PeerInfo, resp: &reqwest::Response) -> Option<Metadata> {
    let value = resp.headers().get(MICTLANX_METADATA)?.to_str().ok()?;
    match decode_metadata(value) {
        Ok(md) => Some(md),
        Err(e) => {
            tracing::warn!(peer_id = %peer.peer_id, error = %e, "unreadable peer metadata header");
            None
        }
    }
}
