//! The workload's requests other than put, get and listings: metadata, delete, disable and update, each
//! recorded with the outcome the model needs (a 4xx refusal changed nothing; no answer or a 5xx may have).

use serde_json::{json, Value};

use super::history::{Kind, Outcome, Seen};
use super::workload::{short, update_key_size, Client};
use rand::Rng;

impl Client {
    pub(super) async fn metadata(
        &mut self,
        router: usize,
        b: &str,
        k: &str,
    ) -> (Kind, Outcome, u16, Seen, String) {
        let url = self.url(router, &format!("/api/v4/buckets/{b}/metadata/{k}"));
        let (outcome, status, seen, note) = match self.http.get(url).send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let note = short(&res.text().await.unwrap_or_default());
                match status {
                    200 => (Outcome::Ok, status, Seen::Present, String::new()),
                    404 => (Outcome::Ok, status, Seen::Absent, note),
                    _ => (Outcome::Indeterminate, status, Seen::Nothing, note),
                }
            }
            Err(e) => (
                Outcome::Indeterminate,
                0,
                Seen::Nothing,
                short(&e.to_string()),
            ),
        };
        (Kind::Metadata, outcome, status, seen, note)
    }

    /// A mutation whose only success status is `ok`; 404 is a definite no-op, anything else indeterminate.
    async fn mutation(
        &self,
        req: reqwest::RequestBuilder,
        kind: Kind,
        ok: &[u16],
    ) -> (Kind, Outcome, u16, Seen, String) {
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let note = short(&res.text().await.unwrap_or_default());
                let outcome = if ok.contains(&status) {
                    Outcome::Ok
                } else if (400..500).contains(&status) {
                    Outcome::Failed
                } else {
                    Outcome::Indeterminate
                };
                (kind, outcome, status, Seen::Nothing, note)
            }
            Err(e) => (
                kind,
                Outcome::Indeterminate,
                0,
                Seen::Nothing,
                short(&e.to_string()),
            ),
        }
    }

    pub(super) async fn delete(
        &mut self,
        router: usize,
        b: &str,
        k: &str,
    ) -> (Kind, Outcome, u16, Seen, String) {
        // A delete answered 404 found nothing to delete: it changed nothing (failed).
        let req = self
            .http
            .delete(self.url(router, &format!("/api/v4/buckets/{b}/{k}")));
        self.mutation(req, Kind::Delete, &[200, 204]).await
    }

    /// Update keys are never disabled: an update writes back the `is_disabled` it read, so a disable
    /// between its read and its write would be undone by the client's doing.
    pub(super) async fn disable(
        &mut self,
        router: usize,
        b: &str,
        k: &str,
    ) -> (Kind, Outcome, u16, Seen, String) {
        if update_key_size(k).is_some() {
            return self.metadata(router, b, k).await;
        }
        let req = self
            .http
            .post(self.url(router, &format!("/api/v4/buckets/{b}/{k}/disable")));
        self.mutation(req, Kind::Disable, &[200, 204]).await
    }

    /// Read the metadata, then write it back with one tag changed (what the MictlanX client's update does).
    pub(super) async fn update(
        &mut self,
        router: usize,
        b: &str,
        k: &str,
    ) -> (Kind, Outcome, u16, Seen, String) {
        let Some(size) = update_key_size(k) else {
            return self.metadata(router, b, k).await;
        };
        let url = self.url(router, &format!("/api/v4/buckets/{b}/metadata/{k}"));
        let current = match self.http.get(url).send().await {
            Ok(res) if res.status() == 200 => res.json::<Value>().await.unwrap_or_default(),
            _ => {
                return (
                    Kind::Update,
                    Outcome::Failed,
                    0,
                    Seen::Nothing,
                    "no metadata to update".into(),
                )
            }
        };
        let md = &current["metadata"];
        let body = json!({
            "bucket_id": b, "key": k, "ball_id": k,
            "checksum": md["checksum"].as_str().unwrap_or("-"), "size": size,
            "producer_id": "chaos", "content_type": "application/octet-stream",
            "tags": {"touched": self.rng.random_range(0..1000u32).to_string()},
            "is_disabled": md["is_disabled"].as_bool().unwrap_or(false),
            "replication_factor": 1,
        });
        let req = self
            .http
            .post(self.url(router, &format!("/api/v4/u/buckets/{b}/{k}")))
            .json(&body);
        self.mutation(req, Kind::Update, &[200, 204]).await
    }
}
