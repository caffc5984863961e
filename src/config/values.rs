//! Value syntaxes of `docs/config.md` §1 (bool, int, size, timespan, list, log level, rotation...): each parser takes
//! the variable's name and raw value and fails with a one-line `ConfigError` naming both.

use std::time::Duration;

use super::{CachePolicy, ConfigError, LogFormat, Rotation};
use mictlanx_proto::units::{parse_bool, parse_size, parse_timespan};

/// A variable's name and its raw value (`None` = unset).
pub(super) type Var<'a> = (&'static str, Option<&'a str>);

/// `0`, `1`, `true`, `false` (case-insensitive, trimmed).
pub(super) fn bool_var((name, raw): Var<'_>, default: bool) -> Result<bool, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    parse_bool(raw).ok_or_else(|| ConfigError::invalid(name, raw, "0, 1, true or false"))
}

/// A decimal integer with an optional sign, within `min..=max`.
pub(super) fn int_var(
    (name, raw): Var<'_>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    let expected = match (min, max) {
        (i64::MIN, i64::MAX) => "an integer".to_string(),
        (min, i64::MAX) => format!("an integer >= {min}"),
        (min, max) => format!("an integer between {min} and {max}"),
    };
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ConfigError::invalid(name, raw, &expected))
}

/// An integer `>= min` that must also fit in `T` (values too large for `T` are rejected like those below `min`).
pub(super) fn min_int_var<T: TryFrom<i64> + Into<i64> + Copy>(
    var: Var<'_>,
    default: T,
    min: i64,
) -> Result<T, ConfigError> {
    let n = int_var(var, default.into(), min, i64::MAX)?;
    T::try_from(n).map_err(|_| {
        ConfigError::invalid(
            var.0,
            var.1.unwrap_or_default(),
            &format!("an integer >= {min}"),
        )
    })
}

/// A size (`docs/router-api.md` A.2).
pub(super) fn size_var((name, raw): Var<'_>, default: u64) -> Result<u64, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    parse_size(raw).map_err(|_| ConfigError::invalid(name, raw, "a size such as 1GB or 512MiB"))
}

/// A time span (A.3) of at least `min`; `strictly_positive` also rejects zero.
pub(super) fn timespan_var(
    (name, raw): Var<'_>,
    default: Duration,
    min: Duration,
    strictly_positive: bool,
) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    let expected = if !min.is_zero() {
        format!(
            "a time span >= {}ms such as 500ms, 5s or 1m",
            min.as_millis()
        )
    } else if strictly_positive {
        "a time span > 0 such as 500ms, 5s, 10m or 1h".to_string()
    } else {
        "a time span such as 0, 500ms, 5s, 10m or 1h".to_string()
    };
    parse_timespan(raw)
        .ok()
        .filter(|d| *d >= min && !(strictly_positive && d.is_zero()))
        .ok_or_else(|| ConfigError::invalid(name, raw, &expected))
}

/// Comma-separated, items trimmed, empty items dropped.
pub(super) fn list_var((_, raw): Var<'_>, default: &[&str]) -> Vec<String> {
    match raw {
        None => default.iter().map(|s| s.to_string()).collect(),
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// A plain string; unset = the default.
pub(super) fn string_var((_, raw): Var<'_>, default: &str) -> String {
    raw.unwrap_or(default).to_string()
}

/// An optional path; unset or empty = `None`.
pub(super) fn optional_var((_, raw): Var<'_>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// `TRACE`/`DEBUG`/`INFO`/`WARN`/`WARNING`/`ERROR` (case-insensitive) → a lowercase tracing directive.
pub(super) fn log_level_var(
    (name, raw): Var<'_>,
    default: &'static str,
) -> Result<&'static str, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Ok("trace"),
        "DEBUG" => Ok("debug"),
        "INFO" => Ok("info"),
        "WARN" | "WARNING" => Ok("warn"),
        "ERROR" => Ok("error"),
        _ => Err(ConfigError::invalid(
            name,
            raw,
            "one of TRACE, DEBUG, INFO, WARN, ERROR",
        )),
    }
}

/// `text` or `json` (case-insensitive).
pub(super) fn log_format_var((name, raw): Var<'_>) -> Result<LogFormat, ConfigError> {
    let Some(raw) = raw else {
        return Ok(LogFormat::Text);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(ConfigError::invalid(name, raw, "text or json")),
    }
}

/// `LRU`, `LFU` or `LRU_SM` (= `LRU`), case-insensitive.
pub(super) fn cache_policy_var((name, raw): Var<'_>) -> Result<CachePolicy, ConfigError> {
    let Some(raw) = raw else {
        return Ok(CachePolicy::Lru);
    };
    match raw.trim().to_ascii_uppercase().as_str() {
        "LRU" | "LRU_SM" => Ok(CachePolicy::Lru),
        "LFU" => Ok(CachePolicy::Lfu),
        _ => Err(ConfigError::invalid(name, raw, "one of LRU, LFU, LRU_SM")),
    }
}

/// Maps the original `TimedRotatingFileHandler(when, interval)` onto the nearest coarser-or-equal rotation:
/// `m`/`min` minutely (hourly from 60, daily from 1440), `h` hourly (daily from 24), anything else daily.
pub(super) fn rotation(when: &str, interval: i64) -> Rotation {
    match when.trim().to_ascii_lowercase().as_str() {
        "m" | "min" if interval >= 1440 => Rotation::Daily,
        "m" | "min" if interval >= 60 => Rotation::Hourly,
        "m" | "min" => Rotation::Minutely,
        "h" if interval >= 24 => Rotation::Daily,
        "h" => Rotation::Hourly,
        _ => Rotation::Daily,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: &str = "MICTLANX_X";

    fn err_line<T: std::fmt::Debug>(r: Result<T, ConfigError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn bools() {
        for (raw, want) in [
            ("1", true),
            ("0", false),
            (" TRUE ", true),
            ("False", false),
            ("true", true),
        ] {
            assert_eq!(bool_var((N, Some(raw)), !want), Ok(want), "{raw:?}");
        }
        assert_eq!(bool_var((N, None), true), Ok(true));
        for raw in ["yes", "2", "", "on", "t"] {
            assert_eq!(
                err_line(bool_var((N, Some(raw)), true)),
                format!("invalid {N}='{raw}': expected 0, 1, true or false")
            );
        }
    }

    #[test]
    fn ints() {
        assert_eq!(int_var((N, Some(" +12 ")), 0, 0, 100), Ok(12));
        assert_eq!(int_var((N, Some("-3")), 0, i64::MIN, i64::MAX), Ok(-3));
        assert_eq!(int_var((N, None), 7, 0, 100), Ok(7));
        assert_eq!(
            err_line(int_var((N, Some("65536")), 0, 0, 65535)),
            "invalid MICTLANX_X='65536': expected an integer between 0 and 65535"
        );
        assert_eq!(
            err_line(int_var((N, Some("0")), 1, 1, i64::MAX)),
            "invalid MICTLANX_X='0': expected an integer >= 1"
        );
        for raw in ["1.5", "1e3", "abc", "", "0x10"] {
            assert!(
                int_var((N, Some(raw)), 0, i64::MIN, i64::MAX).is_err(),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn bounded_ints_fit_their_type() {
        assert_eq!(min_int_var::<u32>((N, Some("7")), 3, 1), Ok(7));
        assert_eq!(min_int_var::<u32>((N, None), 3, 1), Ok(3));
        assert_eq!(
            err_line(min_int_var::<u32>((N, Some("4294967296")), 3, 1)),
            "invalid MICTLANX_X='4294967296': expected an integer >= 1"
        );
        assert_eq!(
            err_line(min_int_var::<u32>((N, Some("0")), 3, 1)),
            "invalid MICTLANX_X='0': expected an integer >= 1"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(size_var((N, Some("512MiB")), 0), Ok(512 * 1024 * 1024));
        assert_eq!(size_var((N, Some("1GB")), 0), Ok(1_000_000_000));
        assert_eq!(size_var((N, None), 9), Ok(9));
        assert_eq!(
            err_line(size_var((N, Some("12xx")), 0)),
            "invalid MICTLANX_X='12xx': expected a size such as 1GB or 512MiB"
        );
    }

    #[test]
    fn timespans_with_bounds() {
        let zero = Duration::ZERO;
        assert_eq!(
            timespan_var((N, Some("500ms")), zero, zero, true),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(
            timespan_var((N, Some("0")), Duration::from_secs(1), zero, false),
            Ok(zero)
        );
        assert!(timespan_var((N, Some("0")), Duration::from_secs(1), zero, true).is_err());
        let min = Duration::from_millis(100);
        assert_eq!(timespan_var((N, Some("100ms")), min, min, true), Ok(min));
        assert_eq!(
            err_line(timespan_var((N, Some("99ms")), min, min, true)),
            "invalid MICTLANX_X='99ms': expected a time span >= 100ms such as 500ms, 5s or 1m"
        );
        assert_eq!(
            err_line(timespan_var((N, Some("0s")), min, zero, true)),
            "invalid MICTLANX_X='0s': expected a time span > 0 such as 500ms, 5s, 10m or 1h"
        );
        assert!(timespan_var((N, Some("2 hrs")), zero, zero, false).is_err());
    }

    #[test]
    fn lists_strings_and_optionals() {
        assert_eq!(list_var((N, Some(" a, ,b ,, ")), &["*"]), vec!["a", "b"]);
        assert_eq!(list_var((N, Some("")), &["*"]), Vec::<String>::new());
        assert_eq!(list_var((N, None), &["*"]), vec!["*"]);
        assert_eq!(string_var((N, Some("")), "d"), "");
        assert_eq!(string_var((N, None), "d"), "d");
        assert_eq!(optional_var((N, Some("  "))), None);
        assert_eq!(optional_var((N, Some("/x.pem"))), Some("/x.pem"));
    }

    #[test]
    fn log_levels_formats_policies() {
        let cases = [
            ("TRACE", "trace"),
            ("debug", "debug"),
            ("Info", "info"),
            ("WARN", "warn"),
            ("warning", "warn"),
            ("ERROR", "error"),
        ];
        for (raw, want) in cases {
            assert_eq!(log_level_var((N, Some(raw)), "info"), Ok(want));
        }
        assert_eq!(
            err_line(log_level_var((N, Some("CRITICAL")), "info")),
            "invalid MICTLANX_X='CRITICAL': expected one of TRACE, DEBUG, INFO, WARN, ERROR"
        );
        assert_eq!(log_format_var((N, Some("JSON"))), Ok(LogFormat::Json));
        assert_eq!(log_format_var((N, None)), Ok(LogFormat::Text));
        assert!(log_format_var((N, Some("yaml"))).is_err());
        assert_eq!(cache_policy_var((N, Some("lru_sm"))), Ok(CachePolicy::Lru));
        assert_eq!(cache_policy_var((N, Some("Lfu"))), Ok(CachePolicy::Lfu));
        assert_eq!(cache_policy_var((N, Some("LRU"))), Ok(CachePolicy::Lru));
        assert_eq!(
            err_line(cache_policy_var((N, Some("FIFO")))),
            "invalid MICTLANX_X='FIFO': expected one of LRU, LFU, LRU_SM"
        );
    }

    #[test]
    fn rotation_mapping() {
        let cases = [
            ("h", 24, Rotation::Daily),
            ("H", 1, Rotation::Hourly),
            ("h", 23, Rotation::Hourly),
            ("m", 1, Rotation::Minutely),
            ("min", 59, Rotation::Minutely),
            ("M", 60, Rotation::Hourly),
            ("m", 1440, Rotation::Daily),
            ("d", 1, Rotation::Daily),
            ("midnight", 1, Rotation::Daily),
            ("s", 10, Rotation::Daily),
            ("w0", 1, Rotation::Daily),
        ];
        for (when, interval, want) in cases {
            assert_eq!(rotation(when, interval), want, "{when} {interval}");
        }
    }
}
