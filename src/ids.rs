//! Canonical ids (`docs/router-api.md` §3.6, A.1): `sanitize` and the `BucketId` / `ObjectKey` / `BallId` newtypes
//! that every endpoint parses once at the edge. `peer_id` and `task_id` are never sanitized.

use std::fmt;

use serde::Serialize;

use mictlanx_http::error::ApiError;

/// Canonicalises an id (A.1): keep `[A-Za-z0-9_-]`, collapse `-`/`_` runs into one `-`, drop one leading and
/// one trailing `-`, and return `""` unless the result starts with a letter or digit and every `-`/`_` is
/// followed by a letter or digit.
pub fn sanitize(raw: &str) -> String {
    let kept: Vec<char> = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let mut collapsed = String::with_capacity(kept.len());
    let mut i = 0;
    while i < kept.len() {
        let c = kept[i];
        if is_separator(c) {
            let run = kept[i..].iter().take_while(|c| is_separator(**c)).count();
            collapsed.push(if run >= 2 { '-' } else { c });
            i += run;
        } else {
            collapsed.push(c);
            i += 1;
        }
    }
    let trimmed = collapsed.strip_prefix('-').unwrap_or(&collapsed);
    let trimmed = trimmed.strip_suffix('-').unwrap_or(trimmed);
    if is_canonical(trimmed) {
        trimmed.to_string()
    } else {
        String::new()
    }
}

fn is_separator(c: char) -> bool {
    c == '-' || c == '_'
}

/// The A.1 step-4 shape: non-empty, starts with an ASCII letter or digit, only `[A-Za-z0-9_-]`, and every `-`/`_`
/// is immediately followed by a letter or digit.
pub fn is_canonical(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(first) = bytes.first() else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && bytes.iter().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric()
                || ((*b == b'-' || *b == b'_')
                    && bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()))
        })
}

macro_rules! canonical_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Sanitizes `raw`; an empty result is a 400 `Invalid ", $field, ": '{raw}' sanitizes to an empty string`.")]
            pub fn parse(raw: &str) -> Result<Self, ApiError> {
                let canonical = sanitize(raw);
                if canonical.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        concat!("Invalid ", $field, ": '{}' sanitizes to an empty string"),
                        raw
                    )));
                }
                Ok(Self(canonical))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

canonical_id!(
    /// A canonical bucket id.
    BucketId,
    "bucket_id"
);
canonical_id!(
    /// A canonical object key.
    ObjectKey,
    "key"
);
canonical_id!(
    /// A canonical ball id (the group of a chunked object's keys).
    BallId,
    "ball_id"
);

#[cfg(test)]
mod tests {
    #[test]
    fn canonical_ids_are_the_fixed_points_of_sanitize() {
        for ok in ["a", "valid-name_123", "report_c_0", "0", "a-b"] {
            assert!(super::is_canonical(ok), "{ok}");
        }
        for bad in [
            "", "-a", "_x", "x_", "x-", "a--b", "a-_b", "a b", "a.b", "b@k", "ñ",
        ] {
            assert!(!super::is_canonical(bad), "{bad}");
        }
    }

    use super::*;
    use axum::http::StatusCode;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn sanitize_vectors() {
        let cases = [
            ("My@Invalid#String!", "MyInvalidString"),
            ("valid-name_123", "valid-name_123"),
            ("---multiple--dashes---", "multiple-dashes"),
            ("!@#$", ""),
            ("a__b", "a-b"),
            ("_x", ""),
            ("x_", ""),
            ("-", ""),
            ("", ""),
            ("a/b", "ab"),
            ("a-_b", "a-b"),
            ("-a-", "a"),
            ("__a__", "a"),
            ("x-", "x"),
            ("ñandú", "and"),
            ("a.b.c", "abc"),
            ("a b", "ab"),
            ("b@k", "bk"),
            ("report_c_0", "report_c_0"),
            ("0", "0"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize(input), want, "sanitize({input:?})");
        }
    }

    #[test]
    fn newtypes_keep_the_canonical_form() {
        let b = BucketId::parse("my bucket!").unwrap();
        assert_eq!(b.as_str(), "mybucket");
        assert_eq!(b.to_string(), "mybucket");
        assert_eq!(serde_json::to_value(&b).unwrap(), json!("mybucket"));
        assert_eq!(ObjectKey::parse("a%20b").unwrap().into_string(), "a20b");
        assert_eq!(BallId::parse("x@y").unwrap().as_ref(), "xy");
    }

    #[test]
    fn empty_after_sanitize_is_a_400_naming_the_field() {
        let cases = [
            (
                BucketId::parse("!@#$").unwrap_err(),
                "Invalid bucket_id: '!@#$' sanitizes to an empty string",
            ),
            (
                ObjectKey::parse("_x").unwrap_err(),
                "Invalid key: '_x' sanitizes to an empty string",
            ),
            (
                BallId::parse("").unwrap_err(),
                "Invalid ball_id: '' sanitizes to an empty string",
            ),
        ];
        for (err, detail) in cases {
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
            assert_eq!(err.detail(), &json!(detail));
        }
    }

    proptest! {
        #[test]
        fn sanitize_is_idempotent_and_canonical(raw in any::<String>()) {
            let once = sanitize(&raw);
            prop_assert!(once.is_empty() || is_canonical(&once), "{once:?}");
            prop_assert_eq!(sanitize(&once), once);
        }

        #[test]
        fn sanitize_is_idempotent_on_id_like_input(raw in "[-_a-c0-1 @.]{0,12}") {
            let once = sanitize(&raw);
            prop_assert!(once.is_empty() || is_canonical(&once), "{once:?}");
            prop_assert_eq!(sanitize(&once), once);
        }
    }
}
