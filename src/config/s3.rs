//! The S3 section of the router configuration: the S3 listener's port, the SigV4 credentials it accepts
//! (given directly, as files, or several in one file), anonymous access, the virtual-host domain and the
//! replication factor of S3 writes. The listener is off unless credentials are configured or anonymous
//! access is allowed: an S3 endpoint nobody can sign for would only answer 403.

use std::path::Path;
use std::time::Duration;

use super::security::token;
use super::values::{bool_var, min_int_var, optional_var, timespan_var, Var};
use super::ConfigError;
use crate::security::Secret;

/// Default of `MICTLANX_S3_PORT`.
pub const DEFAULT_S3_PORT: u16 = 9000;

/// One SigV4 key pair.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Credential {
    pub access_key: String,
    pub secret_key: Secret,
}

#[derive(Debug, Clone, PartialEq)]
pub struct S3Config {
    /// `MICTLANX_S3_PORT` (0 = any free port); the host is `MICTLANX_ROUTER_HOST`.
    pub port: u16,
    /// `MICTLANX_S3_ACCESS_KEY(_FILE)` + `MICTLANX_S3_SECRET_KEY(_FILE)`, then every line of
    /// `MICTLANX_S3_CREDENTIALS_FILE`.
    pub credentials: Vec<S3Credential>,
    /// `MICTLANX_S3_ANONYMOUS`: unsigned requests are served (full access).
    pub anonymous: bool,
    /// `MICTLANX_S3_DOMAIN`: `bucket.{domain}` hosts address buckets (virtual-host style).
    pub domain: Option<String>,
    /// `MICTLANX_S3_REPLICATION_FACTOR`: replicas of every object and part written through S3 (storage class
    /// `STANDARD`, the default).
    pub replication_factor: u32,
    /// `MICTLANX_S3_REDUCED_REPLICATION_FACTOR`: replicas of an object or upload written with storage class
    /// `REDUCED_REDUNDANCY`.
    pub reduced_replication_factor: u32,
    /// `MICTLANX_S3_UPLOAD_EXPIRY`: a multipart upload created this long ago and not completed is aborted by
    /// the sweep.
    pub upload_expiry: Duration,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            port: DEFAULT_S3_PORT,
            credentials: Vec::new(),
            anonymous: false,
            domain: None,
            replication_factor: 1,
            reduced_replication_factor: 1,
            upload_expiry: Duration::from_secs(24 * 3600),
        }
    }
}

impl S3Config {
    /// Whether the S3 listener runs.
    pub fn enabled(&self) -> bool {
        self.anonymous || !self.credentials.is_empty()
    }
}

/// The raw values of the section's variables.
pub(super) struct S3Vars<'a> {
    pub port: Var<'a>,
    pub access_key: Var<'a>,
    pub access_key_file: Var<'a>,
    pub secret_key: Var<'a>,
    pub secret_key_file: Var<'a>,
    pub credentials_file: Var<'a>,
    pub anonymous: Var<'a>,
    pub domain: Var<'a>,
    pub replication_factor: Var<'a>,
    pub reduced_replication_factor: Var<'a>,
    pub upload_expiry: Var<'a>,
}

pub(super) fn s3(v: S3Vars<'_>) -> Result<S3Config, ConfigError> {
    let defaults = S3Config::default();
    let access = token(v.access_key, v.access_key_file)?;
    let secret = token(v.secret_key, v.secret_key_file)?;
    let mut credentials = match (access, secret) {
        (Some(a), Some(s)) => vec![S3Credential {
            access_key: a.expose().to_string(),
            secret_key: s,
        }],
        (None, None) => Vec::new(),
        (Some(_), None) => {
            return Err(ConfigError::invalid(
                v.secret_key.0,
                "<unset>",
                "set together with MICTLANX_S3_ACCESS_KEY",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::invalid(
                v.access_key.0,
                "<unset>",
                "set together with MICTLANX_S3_SECRET_KEY",
            ))
        }
    };
    if let Some(path) = optional_var(v.credentials_file) {
        credentials.extend(credentials_file(v.credentials_file.0, path)?);
    }
    Ok(S3Config {
        port: min_int_var::<u16>(v.port, DEFAULT_S3_PORT, 0)?,
        credentials,
        anonymous: bool_var(v.anonymous, false)?,
        domain: optional_var(v.domain).map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
        replication_factor: min_int_var::<u32>(v.replication_factor, 1, 1)?,
        reduced_replication_factor: min_int_var::<u32>(v.reduced_replication_factor, 1, 1)?,
        upload_expiry: timespan_var(
            v.upload_expiry,
            defaults.upload_expiry,
            Duration::from_secs(1),
            false,
        )?,
    })
}

/// One `access_key:secret_key` per line; blank lines and `#` comments are skipped. Secrets never appear in
/// errors.
fn credentials_file(name: &'static str, path: &str) -> Result<Vec<S3Credential>, ConfigError> {
    let text = std::fs::read_to_string(Path::new(path)).map_err(|e| {
        ConfigError::invalid(name, path, &format!("a readable credentials file ({e})"))
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let pair = line
            .split_once(':')
            .and_then(|(a, s)| Some((a.trim(), Secret::parse(s).ok()?)))
            .filter(|(a, _)| !a.is_empty());
        let Some((access_key, secret_key)) = pair else {
            return Err(ConfigError::invalid(
                name,
                path,
                &format!("`access_key:secret_key` lines (line {} is not)", n + 1),
            ));
        };
        out.push(S3Credential {
            access_key: access_key.to_string(),
            secret_key,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn vars<'a>(pairs: &[(&'static str, &'a str)]) -> S3Vars<'a> {
        let get = |n: &'static str| (n, pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| *v));
        S3Vars {
            port: get("MICTLANX_S3_PORT"),
            access_key: get("MICTLANX_S3_ACCESS_KEY"),
            access_key_file: get("MICTLANX_S3_ACCESS_KEY_FILE"),
            secret_key: get("MICTLANX_S3_SECRET_KEY"),
            secret_key_file: get("MICTLANX_S3_SECRET_KEY_FILE"),
            credentials_file: get("MICTLANX_S3_CREDENTIALS_FILE"),
            anonymous: get("MICTLANX_S3_ANONYMOUS"),
            domain: get("MICTLANX_S3_DOMAIN"),
            replication_factor: get("MICTLANX_S3_REPLICATION_FACTOR"),
            reduced_replication_factor: get("MICTLANX_S3_REDUCED_REPLICATION_FACTOR"),
            upload_expiry: get("MICTLANX_S3_UPLOAD_EXPIRY"),
        }
    }

    #[test]
    fn off_without_keys() {
        let c = s3(vars(&[])).unwrap();
        assert!(!c.enabled());
        assert_eq!(c.port, 9000);
        assert!(s3(vars(&[("MICTLANX_S3_ANONYMOUS", "1")]))
            .unwrap()
            .enabled());
    }

    #[test]
    fn keys_direct_and_from_a_file() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "# team keys\nk2: s2\n\nk3:s3").unwrap();
        let path = f.path().to_str().unwrap();
        let c = s3(vars(&[
            ("MICTLANX_S3_ACCESS_KEY", "k1"),
            ("MICTLANX_S3_SECRET_KEY", "s1"),
            ("MICTLANX_S3_CREDENTIALS_FILE", path),
        ]))
        .unwrap();
        let keys: Vec<(&str, &str)> = c
            .credentials
            .iter()
            .map(|k| (k.access_key.as_str(), k.secret_key.expose()))
            .collect();
        assert_eq!(keys, [("k1", "s1"), ("k2", "s2"), ("k3", "s3")]);
        assert!(c.enabled());
    }

    #[test]
    fn half_a_pair_or_a_bad_line_is_refused() {
        assert!(s3(vars(&[("MICTLANX_S3_ACCESS_KEY", "k1")])).is_err());
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "no-colon-here").unwrap();
        let path = f.path().to_str().unwrap();
        let err = s3(vars(&[("MICTLANX_S3_CREDENTIALS_FILE", path)])).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
