//! Typed access to JSON object fields and arrays with pydantic's lax rules (`docs/router-api.md` §3.5): every getter
//! returns a value (the default on error) and records its error, so one 422 lists every problem in field order.
//! Arrays are in `validate/lists.rs`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{coerce_bool, coerce_int, error_item, Errors, STRING_TYPE};
use mictlanx_http::error::ApiError;

const MODEL_ATTRIBUTES_TYPE: (&str, &str) = (
    "model_attributes_type",
    "Input should be a valid dictionary or object to extract fields from",
);
const DICT_TYPE: (&str, &str) = ("dict_type", "Input should be a valid dictionary");

/// Collects the fields of one JSON object (a body or an array element) and their errors.
#[derive(Debug)]
pub struct Fields<'a> {
    whole: &'a Value,
    object: &'a Map<String, Value>,
    loc: Vec<Value>,
    errors: Errors,
}

/// 422 `missing` at `loc` with input `null`: a required body that is absent, empty or `null`.
pub(super) fn missing_value(loc: &[&str]) -> ApiError {
    ApiError::unprocessable(vec![error_item(
        "missing",
        loc_values(loc),
        "Field required",
        Value::Null,
    )])
}

pub(super) fn loc_values(loc: &[&str]) -> Vec<Value> {
    loc.iter().map(|s| json!(s)).collect()
}

impl<'a> Fields<'a> {
    /// Starts reading `value` at `loc` (e.g. `&["body"]`); not an object → 422 `model_attributes_type`.
    /// A JSON `null` body counts as absent (`missing`, as FastAPI does for a required body).
    pub fn new(value: &'a Value, loc: &[&str]) -> Result<Self, ApiError> {
        if value.is_null() {
            return Err(missing_value(loc));
        }
        Self::at(value, loc_values(loc)).map_err(|item| ApiError::unprocessable(vec![item]))
    }

    pub(super) fn at(value: &'a Value, loc: Vec<Value>) -> Result<Self, Value> {
        match value.as_object() {
            Some(object) => Ok(Self {
                whole: value,
                object,
                loc,
                errors: Errors::new(),
            }),
            None => Err(error_item(
                MODEL_ATTRIBUTES_TYPE.0,
                loc,
                MODEL_ATTRIBUTES_TYPE.1,
                value.clone(),
            )),
        }
    }

    /// The raw value of a field; absent and explicit `null` are both `None`.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    fn field_loc(&self, path: &[Value]) -> Vec<Value> {
        self.loc.iter().chain(path).cloned().collect()
    }

    fn fail(&mut self, (kind, msg): (&str, &str), name: &str, input: &Value) {
        let item = error_item(kind, self.field_loc(&[json!(name)]), msg, input.clone());
        self.errors.push(item);
    }

    fn missing(&mut self, name: &str) {
        let item = error_item(
            "missing",
            self.field_loc(&[json!(name)]),
            "Field required",
            self.whole.clone(),
        );
        self.errors.push(item);
    }

    /// A required field (`missing` if absent); explicit `null` is passed on for the type check to reject.
    fn required(&mut self, name: &str) -> Option<&'a Value> {
        let value = self.object.get(name);
        if value.is_none() {
            self.missing(name);
        }
        value
    }

    fn string(&mut self, name: &str, value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.fail(STRING_TYPE, name, other);
                None
            }
        }
    }

    /// A required string (a JSON string only; numbers are not coerced).
    pub fn req_str(&mut self, name: &str) -> String {
        self.required(name)
            .and_then(|v| self.string(name, v))
            .unwrap_or_default()
    }

    /// An optional string; absent or `null` = `default`.
    pub fn opt_str(&mut self, name: &str, default: &str) -> String {
        self.get(name)
            .and_then(|v| self.string(name, v))
            .unwrap_or_else(|| default.to_string())
    }

    fn int(&mut self, name: &str, value: &Value, ge: Option<i64>) -> Option<i64> {
        let n = coerce_int(value)
            .map_err(|e| self.fail(e, name, value))
            .ok()?;
        match ge {
            Some(min) if n < min => {
                let msg = format!("Input should be greater than or equal to {min}");
                let mut item = error_item(
                    "greater_than_equal",
                    self.field_loc(&[json!(name)]),
                    &msg,
                    value.clone(),
                );
                item["ctx"] = json!({ "ge": min });
                self.errors.push(item);
                None
            }
            _ => Some(n),
        }
    }

    /// A required lax integer, optionally `>= ge`; on error returns 0.
    pub fn req_int(&mut self, name: &str, ge: Option<i64>) -> i64 {
        self.required(name)
            .and_then(|v| self.int(name, v, ge))
            .unwrap_or(0)
    }

    /// An optional lax integer, optionally `>= ge`; absent or `null` = `default`.
    pub fn opt_int(&mut self, name: &str, default: i64, ge: Option<i64>) -> i64 {
        self.get(name)
            .and_then(|v| self.int(name, v, ge))
            .unwrap_or(default)
    }

    /// An optional lax boolean; absent or `null` = `default`.
    pub fn opt_bool(&mut self, name: &str, default: bool) -> bool {
        self.get(name)
            .and_then(|v| coerce_bool(v).map_err(|e| self.fail(e, name, v)).ok())
            .unwrap_or(default)
    }

    /// An optional object of strings (`tags`); absent or `null` = empty. A non-string value is a
    /// `string_type` error at `[…, name, key]`.
    pub fn opt_str_map(&mut self, name: &str) -> BTreeMap<String, String> {
        let Some(value) = self.get(name) else {
            return BTreeMap::new();
        };
        let Some(object) = value.as_object() else {
            self.fail(DICT_TYPE, name, value);
            return BTreeMap::new();
        };
        let mut map = BTreeMap::new();
        for (key, v) in object {
            match v {
                Value::String(s) => {
                    map.insert(key.clone(), s.clone());
                }
                other => {
                    let item = error_item(
                        STRING_TYPE.0,
                        self.field_loc(&[json!(name), json!(key)]),
                        STRING_TYPE.1,
                        other.clone(),
                    );
                    self.errors.push(item);
                }
            }
        }
        map
    }

    /// `Ok` if every field was valid, else one 422 listing every error in the order the fields were read.
    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.finish()
    }

    /// The errors collected so far, to merge with header or query errors.
    pub fn into_errors(self) -> Errors {
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    /// Key, size, tags, content type, is_disabled, replication factor.
    type Dto = (String, i64, BTreeMap<String, String>, String, bool, i64);

    /// The `PutMetadataDTO` of `docs/router-api.md` §5.1, read in field order.
    fn put_metadata(body: &Value) -> Result<Dto, ApiError> {
        let mut f = Fields::new(body, &["body"])?;
        let _bucket = f.req_str("bucket_id");
        let key = f.req_str("key");
        let _ball = f.req_str("ball_id");
        let _checksum = f.req_str("checksum");
        let size = f.req_int("size", Some(0));
        let tags = f.opt_str_map("tags");
        let _producer = f.req_str("producer_id");
        let content_type = f.opt_str("content_type", "application/octet-stream");
        let disabled = f.opt_bool("is_disabled", false);
        let rf = f.opt_int("replication_factor", 1, Some(1));
        f.finish()?;
        Ok((key, size, tags, content_type, disabled, rf))
    }

    fn valid() -> Value {
        json!({"bucket_id": "b", "key": "k", "ball_id": "k", "checksum": "c", "size": 3, "producer_id": "p"})
    }

    fn errors_of(body: Value) -> Vec<Value> {
        let err = put_metadata(&body).unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        err.detail().as_array().unwrap().clone()
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = valid();
        body[field] = value;
        body
    }

    #[test]
    fn defaults_nulls_and_unknown_fields() {
        let (key, size, tags, content_type, disabled, rf) = put_metadata(&valid()).unwrap();
        assert_eq!(
            (
                key.as_str(),
                size,
                tags.len(),
                content_type.as_str(),
                disabled,
                rf
            ),
            ("k", 3, 0, "application/octet-stream", false, 1)
        );
        let mut body = valid();
        body["tags"] = Value::Null;
        body["content_type"] = Value::Null;
        body["is_disabled"] = Value::Null;
        body["replication_factor"] = Value::Null;
        body["unknown"] = json!({"ignored": true});
        let (_, _, tags, content_type, disabled, rf) = put_metadata(&body).unwrap();
        assert_eq!(
            (tags.len(), content_type.as_str(), disabled, rf),
            (0, "application/octet-stream", false, 1)
        );
        let mut body = valid();
        body["size"] = json!(" 12 ");
        body["replication_factor"] = json!("3");
        body["is_disabled"] = json!("yes");
        body["tags"] = json!({"a": "1"});
        let (_, size, tags, _, disabled, rf) = put_metadata(&body).unwrap();
        assert_eq!((size, tags["a"].as_str(), disabled, rf), (12, "1", true, 3));
    }

    #[test]
    fn missing_fields_in_field_order_with_the_enclosing_object() {
        let body = json!({"bucket_id": "b", "size": 1});
        let errors = errors_of(body.clone());
        let locs: Vec<&Value> = errors.iter().map(|e| &e["loc"]).collect();
        assert_eq!(
            locs,
            [
                &json!(["body", "key"]),
                &json!(["body", "ball_id"]),
                &json!(["body", "checksum"]),
                &json!(["body", "producer_id"])
            ]
        );
        assert_eq!(
            errors[0],
            json!({"type": "missing", "loc": ["body", "key"], "msg": "Field required", "input": body})
        );
    }

    #[test]
    fn null_body_is_missing() {
        let err = put_metadata(&Value::Null).unwrap_err();
        assert_eq!(
            err.detail(),
            &json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}])
        );
    }

    #[test]
    fn body_must_be_an_object() {
        let err = put_metadata(&json!([1])).unwrap_err();
        assert_eq!(
            err.detail(),
            &json!([{"type": "model_attributes_type", "loc": ["body"],
                     "msg": "Input should be a valid dictionary or object to extract fields from", "input": [1]}])
        );
    }

    #[test]
    fn each_row_of_the_422_table() {
        let int_parsing = "Input should be a valid integer, unable to parse string as an integer";
        let cases = [
            (
                with("size", json!("1e3")),
                json!({"type": "int_parsing", "loc": ["body", "size"], "msg": int_parsing, "input": "1e3"}),
            ),
            (
                with("size", json!("0x10")),
                json!({"type": "int_parsing", "loc": ["body", "size"], "msg": int_parsing, "input": "0x10"}),
            ),
            (
                with("size", json!(1.5)),
                json!({"type": "int_from_float", "loc": ["body", "size"],
                       "msg": "Input should be a valid integer, got a number with a fractional part", "input": 1.5}),
            ),
            (
                with("size", json!(-1)),
                json!({"type": "greater_than_equal", "loc": ["body", "size"],
                       "msg": "Input should be greater than or equal to 0", "input": -1, "ctx": {"ge": 0}}),
            ),
            (
                with("replication_factor", json!("0")),
                json!({"type": "greater_than_equal", "loc": ["body", "replication_factor"],
                       "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": {"ge": 1}}),
            ),
            (
                with("tags", json!({"a": 1})),
                json!({"type": "string_type", "loc": ["body", "tags", "a"], "msg": "Input should be a valid string", "input": 1}),
            ),
            (
                with("key", json!(5)),
                json!({"type": "string_type", "loc": ["body", "key"], "msg": "Input should be a valid string", "input": 5}),
            ),
            (
                with("key", Value::Null),
                json!({"type": "string_type", "loc": ["body", "key"], "msg": "Input should be a valid string", "input": null}),
            ),
            (
                with("is_disabled", json!("maybe")),
                json!({"type": "bool_parsing", "loc": ["body", "is_disabled"],
                       "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"}),
            ),
            (
                with("size", Value::Null),
                json!({"type": "int_type", "loc": ["body", "size"], "msg": "Input should be a valid integer", "input": null}),
            ),
            (
                with("tags", json!(["a"])),
                json!({"type": "dict_type", "loc": ["body", "tags"], "msg": "Input should be a valid dictionary", "input": ["a"]}),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(errors_of(body), vec![want]);
        }
    }

    #[test]
    fn several_errors_are_reported_together() {
        let mut body = with("size", json!("x"));
        body["replication_factor"] = json!(0);
        body["tags"] = json!({"a": 1, "b": "ok", "c": false});
        let types: Vec<String> = errors_of(body)
            .iter()
            .map(|e| format!("{} {}", e["type"], e["loc"]))
            .collect();
        assert_eq!(
            types,
            [
                r#""int_parsing" ["body","size"]"#,
                r#""string_type" ["body","tags","a"]"#,
                r#""string_type" ["body","tags","c"]"#,
                r#""greater_than_equal" ["body","replication_factor"]"#,
            ]
        );
    }
}
