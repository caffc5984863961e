//! The security and hardening section of the router configuration: the admin token, the peer allowlist,
//! the peer token, and the listener limits (header timeout, connection cap, largest object). Token files
//! are read here, at start-up, so a missing or empty file stops the router like any invalid value.

use std::path::Path;
use std::time::Duration;

use super::values::{min_int_var, optional_var, size_var, timespan_var, Var};
use super::ConfigError;
use crate::security::{PeerAllowlist, Secret};

/// Default of `MICTLANX_ROUTER_MAX_CONNECTIONS`: well above what a router serves at once in the benches,
/// well below a container's usual descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityConfig {
    /// `MICTLANX_ROUTER_ADMIN_TOKEN` or `MICTLANX_ROUTER_ADMIN_TOKEN_FILE`; `None` = admin endpoints are open.
    pub admin_token: Option<Secret>,
    /// `MICTLANX_ROUTER_PEER_ALLOWLIST`; `None` = any host may be registered at run time.
    pub peer_allowlist: Option<PeerAllowlist>,
    /// `MICTLANX_ROUTER_HEADER_TIMEOUT`: a connection must deliver each request head (and the TLS handshake
    /// plus the first request head) within this span.
    pub header_timeout: Duration,
    /// `MICTLANX_ROUTER_MAX_CONNECTIONS`: connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// `MICTLANX_ROUTER_MAX_OBJECT_SIZE` in bytes; `0` = no limit.
    pub max_object_size: u64,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            admin_token: None,
            peer_allowlist: None,
            header_timeout: Duration::from_secs(10),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_object_size: 0,
        }
    }
}

/// The raw values of the section's variables.
pub(super) struct SecurityVars<'a> {
    pub admin_token: Var<'a>,
    pub admin_token_file: Var<'a>,
    pub peer_allowlist: Var<'a>,
    pub header_timeout: Var<'a>,
    pub max_connections: Var<'a>,
    pub max_object_size: Var<'a>,
}

pub(super) fn security(v: SecurityVars<'_>) -> Result<SecurityConfig, ConfigError> {
    let defaults = SecurityConfig::default();
    let peer_allowlist = match v.peer_allowlist {
        (_, None) => None,
        (name, Some(raw)) => Some(PeerAllowlist::parse(raw).map_err(|e| {
            ConfigError::invalid(
                name,
                raw,
                &format!(
                    "a comma list of host names, IPs and CIDRs such as peer-0,10.0.0.0/8,fd00::/8 ({e})"
                ),
            )
        })?),
    };
    Ok(SecurityConfig {
        admin_token: token(v.admin_token, v.admin_token_file)?,
        peer_allowlist,
        header_timeout: timespan_var(
            v.header_timeout,
            defaults.header_timeout,
            Duration::ZERO,
            true,
        )?,
        max_connections: min_int_var::<u32>(v.max_connections, DEFAULT_MAX_CONNECTIONS as u32, 1)?
            as usize,
        max_object_size: size_var(v.max_object_size, 0)?,
    })
}

/// A token given directly (`value`) or as the trimmed content of a file (`file`). Both set is an error;
/// an empty or blank value is an error too (an unset variable is how to disable a token, so a blank one is
/// taken for a mistake rather than silently leaving endpoints open). The token never appears in errors.
pub(super) fn token(value: Var<'_>, file: Var<'_>) -> Result<Option<Secret>, ConfigError> {
    let (value_name, raw) = value;
    let (file_name, _) = file;
    match (raw, optional_var(file)) {
        (Some(_), Some(path)) => Err(ConfigError::Conflict {
            name: file_name,
            value: super::one_line(path),
            other: value_name,
        }),
        (Some(raw), None) => Secret::parse(raw)
            .map(Some)
            .map_err(|e| ConfigError::invalid(value_name, "<hidden>", &e.to_string())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(Path::new(path)).map_err(|e| {
                ConfigError::invalid(
                    file_name,
                    path,
                    &format!("a readable file holding the token ({e})"),
                )
            })?;
            Secret::parse(&text)
                .map(Some)
                .map_err(|e| ConfigError::invalid(file_name, path, &format!("a file holding {e}")))
        }
        (None, None) => match file {
            // Set but blank: the same mistake as a blank token.
            (name, Some(raw)) => Err(ConfigError::invalid(name, raw, "a path to a token file")),
            _ => Ok(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const T: &str = "MICTLANX_X_TOKEN";
    const F: &str = "MICTLANX_X_TOKEN_FILE";

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    #[test]
    fn token_from_value_or_file() {
        assert_eq!(token((T, None), (F, None)), Ok(None));
        let t = token((T, Some(" abc ")), (F, None)).unwrap().unwrap();
        assert_eq!(t.expose(), "abc");
        let f = file_with("from-file\n");
        let path = f.path().to_str().unwrap();
        let t = token((T, None), (F, Some(path))).unwrap().unwrap();
        assert_eq!(t.expose(), "from-file");
    }

    #[test]
    fn token_errors_name_the_variable_and_hide_the_value() {
        let f = file_with("x");
        let path = f.path().to_str().unwrap();
        assert_eq!(
            token((T, Some("abc")), (F, Some(path)))
                .unwrap_err()
                .to_string(),
            format!("invalid {F}='{path}': {T} is set too (set one or the other)")
        );
        let err = token((T, Some("two words")), (F, None))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "invalid {T}='<hidden>': expected a token of visible ASCII characters without spaces"
            )
        );
        assert!(token((T, Some("  ")), (F, None))
            .unwrap_err()
            .to_string()
            .contains("a non-empty token"));
        let empty = file_with(" \n");
        let empty_path = empty.path().to_str().unwrap();
        assert_eq!(
            token((T, None), (F, Some(empty_path)))
                .unwrap_err()
                .to_string(),
            format!("invalid {F}='{empty_path}': expected a file holding a non-empty token")
        );
        let missing = token((T, None), (F, Some("/no/such/token")))
            .unwrap_err()
            .to_string();
        assert!(
            missing.starts_with(&format!(
                "invalid {F}='/no/such/token': expected a readable file holding the token ("
            )),
            "{missing}"
        );
        assert!(token((T, None), (F, Some(" "))).is_err());
    }

    fn vars<'a>(allow: Option<&'a str>, timeout: Option<&'a str>) -> SecurityVars<'a> {
        SecurityVars {
            admin_token: ("A", None),
            admin_token_file: ("AF", None),
            peer_allowlist: ("MICTLANX_ROUTER_PEER_ALLOWLIST", allow),
            header_timeout: ("MICTLANX_ROUTER_HEADER_TIMEOUT", timeout),
            max_connections: ("C", None),
            max_object_size: ("O", None),
        }
    }

    #[test]
    fn section_defaults_and_errors() {
        assert_eq!(security(vars(None, None)), Ok(SecurityConfig::default()));
        let s = security(vars(Some("10.0.0.0/8"), Some("2s"))).unwrap();
        assert!(s.peer_allowlist.unwrap().allows("10.9.9.9"));
        assert_eq!(s.header_timeout, Duration::from_secs(2));
        let err = security(vars(Some("ok,10.0.0.0/99"), None))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "invalid MICTLANX_ROUTER_PEER_ALLOWLIST='ok,10.0.0.0/99': expected a comma list"
            ),
            "{err}"
        );
        assert!(err.contains("'10.0.0.0/99' is not"), "{err}");
        assert!(security(vars(None, Some("0s"))).is_err());
    }
}
