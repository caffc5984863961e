//! Human units (`docs/router-api.md` A.2–A.4): `parse_size` ("10mb", "1 KiB"), `parse_timespan` ("500ms", "1h"),
//! `format_size` (decimal, for `BallMetadata.size`), and `parse_bool`, the boolean of both binaries'
//! configuration (`docs/config.md` §1).

use std::time::Duration;

/// A size or time-span string that does not follow A.2 / A.3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("Invalid size: '{0}'")]
    Size(String),
    #[error("Invalid timespan: '{0}'")]
    Timespan(String),
}

/// One token of A.2 step 1: a number (kept as text so integers stay exact) or the trimmed text between numbers.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    Number(&'a str),
    Word(&'a str),
}

fn tokenize(s: &str) -> Vec<Token<'_>> {
    let bytes = s.as_bytes();
    let mut tokens = Vec::new();
    let mut word_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        push_word(&mut tokens, &s[word_start..i]);
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
        tokens.push(Token::Number(&s[start..i]));
        word_start = i;
    }
    push_word(&mut tokens, &s[word_start..]);
    tokens
}

fn push_word<'a>(tokens: &mut Vec<Token<'a>>, piece: &'a str) {
    let piece = piece.trim();
    if !piece.is_empty() {
        tokens.push(Token::Word(piece));
    }
}

/// Splits `s` into (number, optional unit word); `None` unless it is exactly `number [word]`.
fn number_and_word(s: &str) -> Option<(&str, Option<&str>)> {
    match tokenize(s).as_slice() {
        [Token::Number(n)] => Some((n, None)),
        [Token::Number(n), Token::Word(w)] => Some((n, Some(w))),
        _ => None,
    }
}

/// Multiplies a number token by `factor` as a 64-bit float, truncating toward zero; `None` if it overflows u64.
fn scale(number: &str, factor: f64) -> Option<u64> {
    if factor == 1.0 {
        if let Ok(n) = number.parse::<u64>() {
            return Some(n);
        }
    }
    let value = number.parse::<f64>().ok()? * factor;
    // 2^64 is exactly representable; anything at or above it does not fit.
    (value.is_finite() && value < 18_446_744_073_709_551_616.0).then(|| value.trunc() as u64)
}

const SIZE_UNITS: [(char, &str, &str, &str, &str); 8] = [
    ('k', "kib", "kibibyte", "kb", "kilobyte"),
    ('m', "mib", "mebibyte", "mb", "megabyte"),
    ('g', "gib", "gibibyte", "gb", "gigabyte"),
    ('t', "tib", "tebibyte", "tb", "terabyte"),
    ('p', "pib", "pebibyte", "pb", "petabyte"),
    ('e', "eib", "exbibyte", "eb", "exabyte"),
    ('z', "zib", "zebibyte", "zb", "zettabyte"),
    ('y', "yib", "yobibyte", "yb", "yottabyte"),
];

fn size_factor(word: &str) -> Option<f64> {
    let unit = word.to_lowercase();
    if unit.starts_with('b') {
        return Some(1.0);
    }
    let unit = unit.trim_end_matches('s');
    for (n, (letter, bin_sym, bin_name, dec_sym, dec_name)) in SIZE_UNITS.iter().enumerate() {
        let power = i32::try_from(n + 1).ok()?;
        if unit == *bin_sym || unit == *bin_name {
            return Some(1024f64.powi(power));
        }
        if unit == *dec_sym || unit == *dec_name || unit.starts_with(*letter) {
            return Some(1000f64.powi(power));
        }
    }
    None
}

/// Parses a size (A.2): decimal units by default (`1mb` = 10^6), binary with `kib`/`mib`/..., bare number = bytes.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let invalid = || UnitError::Size(s.to_string());
    let (number, word) = number_and_word(s).ok_or_else(invalid)?;
    let factor = match word {
        None => 1.0,
        Some(w) => size_factor(w).ok_or_else(invalid)?,
    };
    scale(number, factor).ok_or_else(invalid)
}

fn timespan_factor(word: &str) -> Option<f64> {
    Some(match word.to_lowercase().as_str() {
        "ns" | "nanosecond" | "nanoseconds" => 1e-9,
        "us" | "microsecond" | "microseconds" => 1e-6,
        "ms" | "millisecond" | "milliseconds" => 1e-3,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        "y" | "year" | "years" => 31_449_600.0,
        _ => return None,
    })
}

/// Parses a time span (A.3): `500ms`, `5s`, `10m`, `1h`, `1d`, ...; a bare number is seconds.
pub fn parse_timespan(s: &str) -> Result<Duration, UnitError> {
    let invalid = || UnitError::Timespan(s.to_string());
    let (number, word) = number_and_word(s).ok_or_else(invalid)?;
    let factor = match word {
        None => 1.0,
        Some(w) => timespan_factor(w).ok_or_else(invalid)?,
    };
    let secs = number.parse::<f64>().map_err(|_| invalid())? * factor;
    if !secs.is_finite() || secs >= 18_446_744_073_709_551_616.0 {
        return Err(invalid());
    }
    // Round the fraction to whole nanoseconds so `100ms` is exactly 0.1 s despite binary floats.
    let whole = secs.trunc();
    let nanos = ((secs - whole) * 1e9).round() as u64;
    let whole = whole as u64;
    if nanos >= 1_000_000_000 {
        return Ok(Duration::new(whole.checked_add(1).ok_or_else(invalid)?, 0));
    }
    Ok(Duration::new(whole, nanos as u32))
}

/// Formats a byte count with decimal units (A.4): `1 byte`, `999 bytes`, `1.02 KB`, `25 MB`.
/// `0`, `1`, `true`, `false`, case-insensitive, surrounding whitespace ignored; anything else is `None`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

pub fn format_size(n: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (1_000_000_000_000_000_000, "EB"),
        (1_000_000_000_000_000, "PB"),
        (1_000_000_000_000, "TB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "KB"),
    ];
    if n == 1 {
        return "1 byte".into();
    }
    let Some((divider, unit)) = UNITS.iter().find(|(d, _)| *d <= n) else {
        return format!("{n} bytes");
    };
    let text = format!("{:.2}", n as f64 / *divider as f64);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bool_vectors() {
        for (raw, want) in [
            ("1", true),
            (" TRUE ", true),
            ("True", true),
            ("0", false),
            ("false", false),
        ] {
            assert_eq!(parse_bool(raw), Some(want), "{raw:?}");
        }
        for raw in ["yes", "2", "", "on", "t", "no"] {
            assert_eq!(parse_bool(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn parse_size_valid_vectors() {
        let cases: &[(&str, u64)] = &[
            ("256kb", 256_000),
            ("1MB", 1_000_000),
            ("1mb", 1_000_000),
            ("1m", 1_000_000),
            ("10mb", 10_000_000),
            ("25MB", 25_000_000),
            ("1GB", 1_000_000_000),
            ("1KiB", 1024),
            ("100 KIB", 102_400),
            ("1 gib", 1_073_741_824),
            ("1 mebibyte", 1_048_576),
            ("42", 42),
            ("0", 0),
            ("5B", 5),
            ("1 bytes", 1),
            ("1.5 kb", 1500),
            ("4.35kb", 4350),
            ("0.1kb", 100),
            (" 10 MB ", 10_000_000),
            ("1 kilobyte", 1000),
            ("2 megabytes", 2_000_000),
            ("1 Ki", 1000),
            ("1k", 1000),
            ("1K", 1000),
            ("1 kbs", 1000),
            ("1.5", 1),
            ("1 t", 1_000_000_000_000),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input), Ok(*want), "parse_size({input:?})");
        }
    }

    #[test]
    fn parse_size_invalid_vectors() {
        for input in ["", "abc", "kb", "1e3", "-5", ".5kb", "1 x", "1 2", "1,000"] {
            assert_eq!(
                parse_size(input),
                Err(UnitError::Size(input.into())),
                "parse_size({input:?})"
            );
        }
    }

    #[test]
    fn parse_size_edges() {
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_size("18446744073709551616").is_err());
        assert!(parse_size("1 yb").is_err(), "10^24 does not fit in u64");
        assert_eq!(parse_size("1 eib"), Ok(1 << 60));
        assert_eq!(parse_size("2 kibibytes"), Ok(2048));
        assert_eq!(
            UnitError::Size("12xx".into()).to_string(),
            "Invalid size: '12xx'"
        );
    }

    #[test]
    fn parse_timespan_valid_vectors() {
        let cases: &[(&str, f64)] = &[
            ("10s", 10.0),
            ("30min", 1800.0),
            ("1.5h", 5400.0),
            ("5sec", 5.0),
            ("1m", 60.0),
            ("2 hours", 7200.0),
            ("100ms", 0.1),
            ("1 w", 604_800.0),
            ("1y", 31_449_600.0),
            ("10", 10.0),
            ("0.5", 0.5),
            ("1 S", 1.0),
            ("1 Hour", 3600.0),
            ("3 d", 259_200.0),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_timespan(input),
                Ok(Duration::from_secs_f64(*want)),
                "parse_timespan({input:?})"
            );
        }
        assert_eq!(parse_timespan("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_timespan("1 ns"), Ok(Duration::from_nanos(1)));
        assert_eq!(parse_timespan("250 us"), Ok(Duration::from_micros(250)));
    }

    #[test]
    fn parse_timespan_invalid_vectors() {
        for input in ["2 hrs", "abc", "", "-1s", "1 2", "5 parsecs"] {
            assert_eq!(
                parse_timespan(input),
                Err(UnitError::Timespan(input.into())),
                "parse_timespan({input:?})"
            );
        }
    }

    #[test]
    fn format_size_vectors() {
        let cases: &[(u64, &str)] = &[
            (0, "0 bytes"),
            (1, "1 byte"),
            (2, "2 bytes"),
            (999, "999 bytes"),
            (1000, "1 KB"),
            (1024, "1.02 KB"),
            (1125, "1.12 KB"),
            (1500, "1.5 KB"),
            (1005, "1 KB"),
            (33_000, "33 KB"),
            (600_000, "600 KB"),
            (999_999, "1000 KB"),
            (1_234_567, "1.23 MB"),
            (2_430_000, "2.43 MB"),
            (25_000_000, "25 MB"),
            (1_000_000_000, "1 GB"),
            (1_005_000_000_000, "1 TB"),
            (u64::MAX, "18.45 EB"),
        ];
        for (n, want) in cases {
            assert_eq!(format_size(*n), *want, "format_size({n})");
        }
    }
}
