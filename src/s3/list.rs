//! S3 listing semantics over [`super::listing::fetch_page`]: prefix, delimiter (common prefixes), max-keys
//! and the resume point (continuation token, marker, start-after), shared by ListObjects, ListObjectsV2
//! and ListObjectVersions.

use super::backend::{Backend, BackendError};
use super::listing::{fetch_page, Entry};

/// Most keys in one answer, as S3.
pub const MAX_KEYS: usize = 1000;

/// Keys read from the listing per step.
const STEP: usize = 1000;

/// What one listing request asks.
pub struct Query<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Resume after this S3 name (a key or a common prefix).
    pub after: Option<String>,
    pub max_keys: usize,
}

/// One answer: objects and common prefixes in byte order, and where the next one resumes.
#[derive(Debug, Default)]
pub struct Listed {
    pub contents: Vec<Entry>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix answered, when truncated.
    pub next: Option<String>,
}

/// The common prefix `key` rolls up into (prefix, then the rest up to and including the delimiter).
fn group_of(q: &Query<'_>, key: &str) -> Option<String> {
    let d = q.delimiter.filter(|d| !d.is_empty())?;
    let rest = key.strip_prefix(q.prefix)?;
    rest.find(d)
        .map(|i| format!("{}{}", q.prefix, &rest[..i + d.len()]))
}

/// Sorts after every name that starts with `cp`, so a listing skips a common prefix's keys in one step.
fn past(cp: &str) -> String {
    format!("{cp}{}", char::MAX)
}

pub async fn list(backend: &Backend, q: Query<'_>) -> Result<Listed, BackendError> {
    let mut out = Listed::default();
    let max = q.max_keys.min(MAX_KEYS);
    if max == 0 {
        return Ok(out);
    }
    // resuming after a common prefix skips its keys at once
    let mut cursor = match q.after.as_deref() {
        Some(a) if group_of(&q, a).as_deref() == Some(a) => Some(past(a)),
        a => a.map(str::to_string),
    };
    let mut last: Option<String> = None;
    let mut last_is_prefix = false;
    let mut count = 0usize;
    'pages: loop {
        let page = fetch_page(backend, q.bucket, q.prefix, cursor.as_deref(), STEP).await?;
        for e in page.entries {
            cursor = Some(e.key.clone());
            if let Some(cp) = group_of(&q, &e.key) {
                if last.as_deref() == Some(cp.as_str()) || q.after.as_deref() == Some(cp.as_str()) {
                    continue;
                }
                if count == max {
                    out.truncated = true;
                    break 'pages;
                }
                out.prefixes.push(cp.clone());
                last = Some(cp);
                last_is_prefix = true;
            } else {
                if count == max {
                    out.truncated = true;
                    break 'pages;
                }
                last = Some(e.key.clone());
                last_is_prefix = false;
                out.contents.push(e);
            }
            count += 1;
        }
        if !page.truncated {
            break;
        }
        // a page that ended inside a common prefix: the next one starts past all of its keys, so a prefix
        // of a million keys costs one step, not a million
        if let (true, Some(cp)) = (last_is_prefix, last.as_deref()) {
            if cursor.as_deref().is_some_and(|c| c.starts_with(cp)) {
                cursor = Some(past(cp));
            }
        }
    }
    if out.truncated {
        out.next = last;
    }
    Ok(out)
}
