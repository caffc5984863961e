//! Lax pydantic-like input typing and the FastAPI 422 list (`docs/router-api.md` §3.5): the error items, the
//! `Errors` collector and scalar coercions. Bodies: `body.rs`; object fields: `fields.rs`; arrays: `lists.rs`;
//! headers and query parameters: `params.rs`; the object size limit: `object_size.rs`.

use serde_json::{json, Value};

use mictlanx_http::error::ApiError;

mod body;
mod fields;
mod lists;
// security
mod object_size;
mod params;

pub use body::{json_body, json_body_opt, LaxJson, OptionalLaxJson, MAX_JSON_BODY};
pub use fields::Fields;
pub use lists::{list_of_objects, list_of_strings};
pub use object_size::{declared_body, object_size};
pub use params::{
    header_flag, header_size, header_str, query_all, query_bool, query_int, query_str,
};

/// One element of the 422 list: `{"type","loc","msg","input"}`.
pub fn error_item(kind: &str, loc: Vec<Value>, msg: &str, input: Value) -> Value {
    json!({ "type": kind, "loc": loc, "msg": msg, "input": input })
}

/// A 422 answer with a single error.
pub(crate) fn single(kind: &str, loc: Vec<Value>, msg: &str, input: Value) -> ApiError {
    ApiError::unprocessable(vec![error_item(kind, loc, msg, input)])
}

/// Collects 422 errors from several sources (headers, query, body) in order, so one answer lists them all.
#[derive(Debug, Default)]
pub struct Errors {
    items: Vec<Value>,
    fatal: Option<ApiError>,
}

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `result`'s 422 items (or any other error, which then wins) and returns its value or `fallback`.
    pub fn take<T>(&mut self, result: Result<T, ApiError>, fallback: T) -> T {
        match result {
            Ok(value) => value,
            Err(e) => {
                self.absorb(e);
                fallback
            }
        }
    }

    /// Records one error: the items of a 422 list, or any other error as the answer to give.
    pub fn absorb(&mut self, error: ApiError) {
        match error.detail() {
            Value::Array(items) if error.status().as_u16() == 422 => {
                self.items.extend(items.iter().cloned())
            }
            _ => {
                self.fatal.get_or_insert(error);
            }
        }
    }

    pub(crate) fn push(&mut self, item: Value) {
        self.items.push(item);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.fatal.is_none()
    }

    /// `Ok` when nothing was recorded; otherwise the first non-422 error, or one 422 with every item.
    pub fn finish(self) -> Result<(), ApiError> {
        match (self.fatal, self.items.is_empty()) {
            (Some(fatal), _) => Err(fatal),
            (None, true) => Ok(()),
            (None, false) => Err(ApiError::unprocessable(self.items)),
        }
    }
}

pub(crate) const INT_PARSING: (&str, &str) = (
    "int_parsing",
    "Input should be a valid integer, unable to parse string as an integer",
);
pub(crate) const INT_FROM_FLOAT: (&str, &str) = (
    "int_from_float",
    "Input should be a valid integer, got a number with a fractional part",
);
pub(crate) const INT_TYPE: (&str, &str) = ("int_type", "Input should be a valid integer");
pub(crate) const BOOL_PARSING: (&str, &str) = (
    "bool_parsing",
    "Input should be a valid boolean, unable to interpret input",
);
pub(crate) const BOOL_TYPE: (&str, &str) = ("bool_type", "Input should be a valid boolean");
pub(crate) const STRING_TYPE: (&str, &str) = ("string_type", "Input should be a valid string");

/// An integer from a string: optional sign and ASCII digits, surrounding whitespace allowed.
pub(crate) fn int_from_str(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i64>().ok()
}

/// Lax integer: a JSON integer, a number with zero fraction, or an integer string.
pub(crate) fn coerce_int(value: &Value) -> Result<i64, (&'static str, &'static str)> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(i);
            }
            match n.as_f64() {
                Some(f) if f.fract() != 0.0 => Err(INT_FROM_FLOAT),
                Some(f) if f.abs() < 9.2e18 => Ok(f as i64),
                _ => Err(INT_PARSING),
            }
        }
        Value::String(s) => int_from_str(s).ok_or(INT_PARSING),
        _ => Err(INT_TYPE),
    }
}

/// Lax boolean: JSON booleans, integers 0/1, or `0 1 true false t f yes no y n on off` (case-insensitive).
pub(crate) fn coerce_bool(value: &Value) -> Result<bool, (&'static str, &'static str)> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(BOOL_PARSING),
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" | "y" | "on" => Ok(true),
            "0" | "false" | "f" | "no" | "n" | "off" => Ok(false),
            _ => Err(BOOL_PARSING),
        },
        _ => Err(BOOL_TYPE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn detail(err: ApiError) -> Value {
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        err.detail().clone()
    }

    #[test]
    fn lax_integers() {
        for (input, want) in [
            (json!(3), 3),
            (json!(3.0), 3),
            (json!(" 12 "), 12),
            (json!("+5"), 5),
            (json!("-7"), -7),
        ] {
            assert_eq!(coerce_int(&input), Ok(want), "{input}");
        }
        for input in [
            json!("1e3"),
            json!("1.5"),
            json!("0x10"),
            json!(""),
            json!("1_000"),
            json!("+"),
        ] {
            assert_eq!(coerce_int(&input), Err(INT_PARSING), "{input}");
        }
        assert_eq!(coerce_int(&json!(1.5)), Err(INT_FROM_FLOAT));
        assert_eq!(coerce_int(&json!(true)), Err(INT_TYPE));
        assert_eq!(coerce_int(&json!([1])), Err(INT_TYPE));
    }

    #[test]
    fn lax_booleans() {
        for (input, want) in [
            (json!(true), true),
            (json!(0), false),
            (json!(1), true),
            (json!("YES"), true),
            (json!("off"), false),
            (json!("t"), true),
            (json!("N"), false),
            (json!("on"), true),
            (json!("False"), false),
        ] {
            assert_eq!(coerce_bool(&input), Ok(want), "{input}");
        }
        for input in [json!(2), json!("maybe"), json!(0.5)] {
            assert_eq!(coerce_bool(&input), Err(BOOL_PARSING), "{input}");
        }
        assert_eq!(coerce_bool(&json!({})), Err(BOOL_TYPE));
    }

    #[test]
    fn errors_collect_in_order_and_non_422_wins() {
        let mut errors = Errors::new();
        assert!(errors.is_empty());
        let start = errors.take(query_int(Some("start=x"), "start", 0), 0);
        let end = errors.take(query_int(Some("end=y"), "end", 100), 100);
        assert_eq!((start, end), (0, 100));
        let list = detail(errors.finish().unwrap_err());
        let locs: Vec<&Value> = list.as_array().unwrap().iter().map(|e| &e["loc"]).collect();
        assert_eq!(locs, [&json!(["query", "start"]), &json!(["query", "end"])]);

        let mut errors = Errors::new();
        errors.absorb(ApiError::bad_request("nope"));
        errors.absorb(single(
            "missing",
            vec![json!("body")],
            "Field required",
            Value::Null,
        ));
        assert_eq!(
            errors.finish().unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(Errors::new().finish(), Ok(()));
    }
}
