//! The workload's listings: the complete listing of a bucket, and a walk of it in small pages (some within
//! a prefix), each page through a router picked at random, following `next_start_after` to the last page.
//! A 200 whose body breaks or does not parse as a listing is recorded as [`Seen::Unparsed`]
//! (indeterminate), never as a short or empty listing.

use rand::Rng;
use serde_json::Value;

use super::history::{Kind, Outcome, Seen};
use super::workload::{short, Client};

/// The prefixes a walk picks from (`""` = the whole bucket).
const PREFIXES: [&str; 4] = ["", "k1", "k", "u"];
/// More pages than any walk of the small key space needs: the walk stops there (indeterminate).
const MAX_PAGES: u32 = 200;

/// One page of a listing: its keys in the order shown and its `next_start_after`.
struct Page {
    keys: Vec<String>,
    next: Option<String>,
}

/// A 200 body as a listing page, or `None` when it is not one.
fn parse_page(body: &str) -> Option<Page> {
    let v: Value = serde_json::from_str(body).ok()?;
    let keys = v
        .get("balls")?
        .as_array()?
        .iter()
        .map(|b| b["key"].as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()?;
    let next = match v.get("next_start_after")? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return None,
    };
    Some(Page { keys, next })
}

/// Why a page gave no keys.
enum PageError {
    /// No answer or a status other than 200.
    Failed(u16, String),
    /// 200, but the body broke or is not a listing.
    Unparsed(String),
}

impl Client {
    /// GET one listing page (`query` may be empty: the complete listing).
    async fn page(
        &self,
        router: usize,
        b: &str,
        query: &[(&str, String)],
    ) -> Result<Page, PageError> {
        // The workload's keys and prefixes are letters and digits: nothing to escape.
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let url = self.url(
            router,
            &format!("/api/v4/buckets/{b}/metadata?{}", query.join("&")),
        );
        let res = match self.http.get(url).send().await {
            Ok(res) => res,
            Err(e) => return Err(PageError::Failed(0, short(&e.to_string()))),
        };
        let status = res.status().as_u16();
        let body = res.text().await;
        if status != 200 {
            return Err(PageError::Failed(status, short(&body.unwrap_or_default())));
        }
        let body = body
            .map_err(|e| PageError::Unparsed(format!("body broke: {}", short(&e.to_string()))))?;
        parse_page(&body).ok_or_else(|| {
            let tail: String = body
                .chars()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            PageError::Unparsed(format!(
                "{} bytes, not a listing, ending {tail:?}",
                body.len()
            ))
        })
    }

    pub(super) async fn list(
        &mut self,
        router: usize,
        b: &str,
    ) -> (Kind, Outcome, u16, Seen, String) {
        match self.page(router, b, &[]).await {
            Ok(page) => (
                Kind::List,
                Outcome::Ok,
                200,
                Seen::Keys(page.keys),
                String::new(),
            ),
            Err(PageError::Failed(status, note)) => (
                Kind::List,
                Outcome::Indeterminate,
                status,
                Seen::Nothing,
                note,
            ),
            Err(PageError::Unparsed(note)) => (
                Kind::List,
                Outcome::Indeterminate,
                200,
                Seen::Unparsed,
                note,
            ),
        }
    }

    /// Walk bucket `b` in pages of 1–5 keys, within a random prefix, each page through a random router.
    pub(super) async fn walk(&mut self, b: &str) -> (Kind, Outcome, u16, Seen, String) {
        let prefix = PREFIXES[self.rng.random_range(0..PREFIXES.len())].to_string();
        let limit = self.rng.random_range(1..=5u32);
        let mut keys = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        // Per page: its router, how many keys it held and the `next_start_after` it answered.
        let mut trail = Vec::new();
        loop {
            let router = self.rng.random_range(0..self.routers.len());
            pages += 1;
            let mut query = vec![("limit", limit.to_string())];
            if !prefix.is_empty() {
                query.push(("prefix", prefix.clone()));
            }
            if let Some(a) = &after {
                query.push(("start_after", a.clone()));
            }
            let kind = Kind::Walk {
                prefix: prefix.clone(),
                limit,
                pages,
            };
            let at = format!("page {pages} via r{router}: ");
            match self.page(router, b, &query).await {
                Ok(page) => {
                    trail.push(format!("r{router}:{}>{:?}", page.keys.len(), page.next));
                    keys.extend(page.keys);
                    match page.next {
                        None => {
                            let note = format!("pages {}", trail.join(" "));
                            return (kind, Outcome::Ok, 200, Seen::Keys(keys), note);
                        }
                        Some(next) if pages < MAX_PAGES => after = Some(next),
                        // Judged by the checker: more pages than keys cannot all be full.
                        Some(_) => {
                            let note =
                                format!("stopped, still not the last page: {}", trail.join(" "));
                            return (kind, Outcome::Ok, 200, Seen::Keys(keys), note);
                        }
                    }
                }
                Err(PageError::Failed(status, note)) => {
                    let note = format!("{at}{note}");
                    return (kind, Outcome::Indeterminate, status, Seen::Nothing, note);
                }
                Err(PageError::Unparsed(note)) => {
                    let note = format!("{at}{note}");
                    return (kind, Outcome::Indeterminate, 200, Seen::Unparsed, note);
                }
            }
        }
    }
}
