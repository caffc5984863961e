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

pub async fn list(backend: &Backend, q: Query<'_>) -> Result<Listed, BackendError> {
    let mut out = Listed::default();
    let max = q.max_keys.min(MAX_KEYS);
    if max == 0 {
        return Ok(out);
    }
    let mut cursor = q.after.clone();
    let mut last: Option<String> = None;
    let mut count = 0usize;
    'pages: loop {
        let page = fetch_page(backend, q.bucket, q.prefix, cursor.as_deref(), STEP).await?;
        for e in page.entries {
            cursor = Some(e.key.clone());
            let group = q.delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                let rest = &e.key[q.prefix.len()..];
                rest.find(d)
                    .map(|i| format!("{}{}", q.prefix, &rest[..i + d.len()]))
            });
            if let Some(cp) = group {
                if last.as_deref() == Some(cp.as_str()) || q.after.as_deref() == Some(cp.as_str()) {
                    continue;
                }
                if count == max {
                    out.truncated = true;
                    break 'pages;
                }
                out.prefixes.push(cp.clone());
                last = Some(cp);
            } else {
                if count == max {
                    out.truncated = true;
                    break 'pages;
                }
                last = Some(e.key.clone());
                out.contents.push(e);
            }
            count += 1;
        }
        if !page.truncated {
            break;
        }
    }
    if out.truncated {
        out.next = last;
    }
    Ok(out)
}
