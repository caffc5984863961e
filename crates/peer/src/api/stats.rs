//! Peer-level endpoints: health, capacity and inventory listings (`docs/peer-api.md` §6 #1–#9).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::paging::{InventoryPage, MAX_LIMIT};
use super::reply::json;
use crate::state::PeerState;
use crate::store::Entry;
use mictlanx_http::error::ApiError;
use mictlanx_proto::peer::{
    BallLocations, BallsLen, Health, NodeInfo, PeerAddress, PeerStats, PeersState, UfsStats, XBall,
    XBallSize,
};

type St = State<Arc<PeerState>>;

/// #1 `GET /health`.
pub async fn health(State(s): St) -> Response {
    json(
        StatusCode::OK,
        &Health {
            status: "ok".into(),
            peer_id: s.config.node_id.clone(),
        },
    )
}

fn disk_uf(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 / total as f64
    }
}

/// #2 `GET /api/v4/stats/ufs`: cheap, no disk scan.
pub async fn ufs(State(s): St) -> Response {
    let (used, total) = (s.store.used_disk(), s.total_disk());
    json(
        StatusCode::OK,
        &UfsStats {
            total_disk: total,
            used_disk: used,
            disk_uf: disk_uf(used, total),
        },
    )
}

/// `[start, end)` of a listing: `start` default 0, `end` absent or ≤ 0 = to the end.
fn window(uri: &Uri) -> Result<(usize, Option<usize>), ApiError> {
    let (mut start, mut end) = (0i64, 0i64);
    for pair in uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(&value.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        let target = match name {
            "start" => &mut start,
            "end" => &mut end,
            _ => continue,
        };
        *target = value
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request("start/end must be integers"))?;
    }
    let start = usize::try_from(start.max(0)).unwrap_or(usize::MAX);
    let end = (end > 0).then(|| usize::try_from(end).unwrap_or(usize::MAX));
    Ok((start, end))
}

fn listed<T>(s: &PeerState, uri: &Uri, f: impl Fn(&Entry) -> T) -> Result<Vec<T>, ApiError> {
    let (start, end) = window(uri)?;
    Ok(s.store.index().window(start, end).map(f).collect())
}

/// #3 `GET /api/v4/stats`: exactly seven keys.
pub async fn stats(State(s): St, uri: Uri) -> Result<Response, ApiError> {
    let balls = listed(&s, &uri, |e| e.meta.clone())?;
    let (used, total) = (s.store.used_disk(), s.total_disk());
    Ok(json(
        StatusCode::OK,
        &PeerStats {
            peer_id: s.config.node_id.clone(),
            used_disk: used,
            total_disk: total,
            available_disk: total.saturating_sub(used),
            disk_uf: disk_uf(used, total),
            balls,
            peers: s.neighbours(),
        },
    ))
}

/// #4 `GET /api/v4/xballs/size`: `[[bucket_id, key, size], …]`.
pub async fn xballs_size(State(s): St, uri: Uri) -> Result<Response, ApiError> {
    let rows = listed(&s, &uri, |e| {
        XBallSize(e.meta.bucket_id.clone(), e.meta.key.clone(), e.meta.size)
    })?;
    Ok(json(StatusCode::OK, &rows))
}

/// #5 `GET /api/v4/xballs`: `[{bucket_id, key, size, version, replication_factor}, …]` in stable
/// `(bucket_id, key)` order (the last two keys are a peer API extension). A keyset page
/// (`after_bucket_id` + `after_key`, `limit`) starts strictly after that object; otherwise the offset
/// window `start`/`end` applies. With `shard` (a keyset page too), only that shard's objects are listed
/// (#5a).
pub async fn xballs(State(s): St, uri: Uri) -> Result<Response, ApiError> {
    let row = |e: &Entry| XBall {
        bucket_id: e.meta.bucket_id.clone(),
        key: e.meta.key.clone(),
        size: e.meta.size,
        version: e.version,
        replication_factor: e.replication_factor,
    };
    let rows = match InventoryPage::parse(&uri)? {
        Some(page) => {
            let after = page.after.as_ref().map(|(b, k)| (b.as_str(), k.as_str()));
            let limit = page.limit.unwrap_or(MAX_LIMIT);
            let index = s.store.index();
            match page.shard {
                Some(shard) => index
                    .shard_after(shard, after)
                    .take(limit)
                    .map(row)
                    .collect(),
                None => index.after(after).take(limit).map(row).collect(),
            }
        }
        None => listed(&s, &uri, row)?,
    };
    Ok(json(StatusCode::OK, &rows))
}

/// #6 `GET /api/v4/balls/len`.
pub async fn balls_len(State(s): St) -> Response {
    let len = s.store.index().len() as u64;
    json(StatusCode::OK, &BallsLen { len })
}

/// #7 `DELETE /api/v4/tasks`: drop every pending task that is not uploading.
pub async fn delete_tasks(State(s): St) -> Response {
    let n = s.tasks.clear_idle();
    tracing::debug!(dropped = n, "pending tasks cleared");
    StatusCode::NO_CONTENT.into_response()
}

/// #8 `POST /api/v4/nodes`: remember a neighbour and echo it.
pub async fn add_node(State(s): St, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let node: NodeInfo =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
    super::reply::check_id("id", &node.id)?;
    {
        let mut nodes = s.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.retain(|n| n.id != node.id);
        nodes.push(node.clone());
    }
    Ok(json(StatusCode::OK, &node))
}

/// #9 `GET /api/v4/peers/state`: the local objects in the window, located here.
pub async fn peers_state(State(s): St, uri: Uri) -> Result<Response, ApiError> {
    let (start, end) = window(&uri)?;
    let balls = s
        .store
        .index()
        .window(start, end)
        .map(|e| {
            let locations = vec![s.config.node_id.clone()];
            let size = e.meta.size;
            (e.meta.combined_key(), BallLocations { locations, size })
        })
        .collect();
    let node = PeerAddress {
        node_id: s.config.node_id.clone(),
        ip_addr: s.config.ip_address.clone(),
        port: s.config.port,
    };
    Ok(json(
        StatusCode::OK,
        &PeersState {
            nodes: vec![node],
            balls,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(q: &str) -> Result<(usize, Option<usize>), ApiError> {
        window(&format!("/x?{q}").parse::<Uri>().unwrap())
    }

    #[test]
    fn window_defaults_and_errors() {
        assert_eq!(w("").unwrap(), (0, None));
        assert_eq!(w("start=2&end=5").unwrap(), (2, Some(5)));
        assert_eq!(w("start=-3&end=0").unwrap(), (0, None));
        assert_eq!(w("end=-1&other=x").unwrap(), (0, None));
        assert_eq!(
            w("start=a").unwrap_err().detail(),
            "start/end must be integers"
        );
        assert_eq!(w("end=1.5").unwrap_err().status(), StatusCode::BAD_REQUEST);
    }
}
