//! `Secret`: a bearer token read from the environment or a file. Its `Debug` never shows the value, so a
//! `Config` can be logged, and its syntax is checked once at start-up so it always fits in a header.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A token: trimmed, non-empty, visible ASCII without spaces (`0x21..=0x7E`), so it can be sent verbatim
/// as `Authorization: Bearer <token>` and compared byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

/// Why a token value was refused (the value itself is never part of the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("a non-empty token")]
    Empty,
    #[error("a token of visible ASCII characters without spaces")]
    Charset,
}

impl Secret {
    /// Trims `raw` and checks the syntax.
    pub fn parse(raw: &str) -> Result<Secret, TokenError> {
        let token = raw.trim();
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        if !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(TokenError::Charset);
        }
        Ok(Secret(Arc::from(token)))
    }

    /// The token itself, for building a header or a digest.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token: what a guard keeps to compare presented tokens against.
    pub fn digest(&self) -> [u8; 32] {
        digest(self.0.as_bytes())
    }
}

/// SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Compares a presented token with a stored digest in constant time. Both sides are hashed first, so neither
/// the content nor the length of the expected token leaks through timing.
pub fn matches_digest(presented: &[u8], expected: &[u8; 32]) -> bool {
    digest(presented).ct_eq(expected).into()
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_and_checked() {
        assert_eq!(
            Secret::parse("  s3cr3t-Token_~+/=\n").unwrap().expose(),
            "s3cr3t-Token_~+/="
        );
        assert_eq!(Secret::parse(" \n\t"), Err(TokenError::Empty));
        assert_eq!(Secret::parse("two words"), Err(TokenError::Charset));
        assert_eq!(Secret::parse("tab\there"), Err(TokenError::Charset));
        assert_eq!(Secret::parse("ünïcode"), Err(TokenError::Charset));
    }

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::parse("do-not-print-me").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<hidden>)");
        assert!(!format!("{:?}", Some(s)).contains("do-not-print-me"));
    }

    #[test]
    fn digest_comparison() {
        let s = Secret::parse("token-1").unwrap();
        assert!(matches_digest(b"token-1", &s.digest()));
        assert!(!matches_digest(b"token-2", &s.digest()));
        assert!(!matches_digest(b"token-1 ", &s.digest()));
        assert!(!matches_digest(b"", &s.digest()));
    }
}
