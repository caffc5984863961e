//! Cache endpoints (`router-api.md` §6.3): #25 `GET /api/v4/cache`, #26 `GET /api/v4/cache/stats`,
//! #27 `DELETE /api/v4/cache/reset`.

use axum::extract::{FromRef, State};
use axum::http::{Method, StatusCode};
use axum::Json;
use serde::Serialize;

use crate::api::admin::{Admin, AdminGuard};
use crate::cache::{BallCache, CacheStats};
use mictlanx_http::RouteTable;

/// `{"keys": [...]}` (`router-api.md` §5.14).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CacheKeys {
    /// Combined keys `"{bucket_id}@{key}"`, in no particular order.
    pub keys: Vec<String>,
}

/// Adds #25–#27 in spec order. Handlers only need the cache (and the reset the admin guard), so any state
/// both can be taken from works (the app state, or a small pair in tests).
pub fn routes<S>(t: RouteTable, s: &S) -> RouteTable
where
    BallCache: FromRef<S>,
    AdminGuard: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    let cache = BallCache::from_ref(s);
    t.route::<_, _, BallCache>(Method::GET, "/api/v4/cache", list_keys, cache.clone())
        .route::<_, _, BallCache>(Method::GET, "/api/v4/cache/stats", stats, cache)
        .route::<_, _, S>(Method::DELETE, "/api/v4/cache/reset", reset, s.clone())
}

/// List cached objects
///
/// The `bucket@key` of every object in the router's byte cache, in no particular order; an empty list
/// when the cache is off.
#[utoipa::path(get, path = "/api/v4/cache", tag = "cache",
    responses((status = 200, description = "Cached objects", body = CacheKeys)))]
pub async fn list_keys(State(cache): State<BallCache>) -> Json<CacheKeys> {
    Json(CacheKeys { keys: cache.keys() })
}

/// Cache usage
///
/// Capacity and use of the router's byte cache, in bytes; all zeros when the cache is off.
#[utoipa::path(get, path = "/api/v4/cache/stats", tag = "cache",
    responses((status = 200, description = "Capacity and use", body = CacheStats)))]
pub async fn stats(State(cache): State<BallCache>) -> Json<CacheStats> {
    Json(cache.stats())
}

/// Empty the cache
///
/// Removes every cached object; reads in progress do not put their bytes back. An admin endpoint.
#[utoipa::path(delete, path = "/api/v4/cache/reset", tag = "cache", security(("bearer" = [])),
    responses((status = 204, description = "Emptied"),
        (status = 401, description = "admin token missing or wrong")))]
pub async fn reset(_: Admin, State(cache): State<BallCache>) -> StatusCode {
    cache.reset();
    StatusCode::NO_CONTENT
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_keys, stats, reset),
    components(schemas(CacheKeys, CacheStats))
)]
pub struct CacheDoc;

#[cfg(test)]
mod tests {
    use axum::body::{to_bytes, Body};
    use axum::extract::Request;
    use bytes::Bytes;
    use serde_json::{json, Value};
    use utoipa::OpenApi;

    use super::*;
    use crate::config::{CacheConfig, CachePolicy};
    use crate::security::Secret;
    use mictlanx_http::Resolved;
    use mictlanx_proto::model::Metadata;

    /// The two pieces of state the cache routes need.
    #[derive(Clone)]
    struct TestState(BallCache, AdminGuard);

    impl FromRef<TestState> for BallCache {
        fn from_ref(s: &TestState) -> BallCache {
            s.0.clone()
        }
    }

    impl FromRef<TestState> for AdminGuard {
        fn from_ref(s: &TestState) -> AdminGuard {
            s.1.clone()
        }
    }

    fn table_of(cache: &BallCache) -> RouteTable {
        routes(
            RouteTable::new(),
            &TestState(cache.clone(), AdminGuard::default()),
        )
    }

    fn cache(enabled: bool) -> BallCache {
        BallCache::new(
            &CacheConfig {
                enabled,
                policy: CachePolicy::Lru,
                capacity_entries: 10,
                capacity_bytes: 1_000,
                max_object_size: 500,
            },
            &crate::telemetry::Metrics::new(),
        )
    }

    fn put(cache: &BallCache, key: &str, len: usize) {
        let mut ticket = cache.begin_fill(key, len as u64).expect("cacheable");
        ticket.push(&Bytes::from(vec![b'x'; len]));
        let metadata: Metadata =
            serde_json::from_value(json!({"key": key, "size": len, "checksum": ""}))
                .expect("metadata");
        assert!(cache.finish_fill(ticket, metadata, "text/plain", "peer-0"));
    }

    async fn call(table: &RouteTable, method: Method, path: &str) -> (StatusCode, Bytes) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let Resolved::Route { call, .. } = table.resolve(req, path) else {
            panic!("{path} has no route");
        };
        let res = call.await;
        let status = res.status();
        (
            status,
            to_bytes(res.into_body(), 1 << 20).await.expect("body"),
        )
    }

    fn json_of(body: &Bytes) -> Value {
        serde_json::from_slice(body).expect("json body")
    }

    #[tokio::test]
    async fn keys_stats_and_reset_round_trip() {
        let cache = cache(true);
        let table = table_of(&cache);
        put(&cache, "b@one", 100);
        put(&cache, "b@two", 150);

        let (status, body) = call(&table, Method::GET, "/api/v4/cache").await;
        assert_eq!(status, StatusCode::OK);
        let mut keys: Vec<String> =
            serde_json::from_value(json_of(&body)["keys"].clone()).expect("keys");
        keys.sort();
        assert_eq!(keys, vec!["b@one", "b@two"]);

        let (status, body) = call(&table, Method::GET, "/api/v4/cache/stats").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            json_of(&body),
            json!({"total": 1000, "used": 250, "available": 750, "uf": 0.25})
        );

        let (status, body) = call(&table, Method::DELETE, "/api/v4/cache/reset").await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(body.is_empty());
        assert_eq!(
            json_of(&call(&table, Method::GET, "/api/v4/cache").await.1),
            json!({"keys": []})
        );
        let (_, body) = call(&table, Method::GET, "/api/v4/cache/stats").await;
        assert_eq!(
            std::str::from_utf8(&body).ok(),
            Some(r#"{"total":1000,"used":0,"available":1000,"uf":0.0}"#)
        );
    }

    #[tokio::test]
    async fn disabled_cache_answers_empty_keys_and_zero_stats() {
        let cache = cache(false);
        let table = table_of(&cache);
        assert_eq!(
            json_of(&call(&table, Method::GET, "/api/v4/cache").await.1),
            json!({"keys": []})
        );
        let (status, body) = call(&table, Method::GET, "/api/v4/cache/stats").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            std::str::from_utf8(&body).ok(),
            Some(r#"{"total":0,"used":0,"available":0,"uf":0.0}"#)
        );
        assert_eq!(
            call(&table, Method::DELETE, "/api/v4/cache/reset").await.0,
            StatusCode::NO_CONTENT
        );
    }

    #[tokio::test]
    async fn reset_needs_the_admin_token_when_one_is_set() {
        let cache = cache(true);
        put(&cache, "b@one", 100);
        let guard = AdminGuard::new(
            Some(&Secret::parse("t0ken").unwrap()),
            &crate::telemetry::Metrics::new(),
        );
        let table = routes(RouteTable::new(), &TestState(cache.clone(), guard));
        let (status, _) = call(&table, Method::DELETE, "/api/v4/cache/reset").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(cache.keys().len(), 1, "nothing was reset");
        assert_eq!(
            call(&table, Method::GET, "/api/v4/cache").await.0,
            StatusCode::OK
        );
        let req = Request::builder()
            .method(Method::DELETE)
            .uri("/api/v4/cache/reset")
            .header("authorization", "Bearer t0ken")
            .body(Body::empty())
            .expect("request");
        let Resolved::Route { call, .. } = table.resolve(req, "/api/v4/cache/reset") else {
            panic!("no route");
        };
        assert_eq!(call.await.status(), StatusCode::NO_CONTENT);
        assert!(cache.keys().is_empty());
    }

    #[test]
    fn openapi_documents_the_three_paths() {
        let doc = serde_json::to_value(CacheDoc::openapi()).expect("openapi json");
        let paths = &doc["paths"];
        assert!(paths["/api/v4/cache"]["get"].is_object());
        assert!(paths["/api/v4/cache/stats"]["get"].is_object());
        assert!(paths["/api/v4/cache/reset"]["delete"].is_object());
        assert!(doc["components"]["schemas"]["CacheStats"].is_object());
    }
}
