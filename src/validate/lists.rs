//! JSON arrays with pydantic's lax rules (`docs/router-api.md` §3.5): `list_type` when not an array, element errors
//! at `[…loc, i, …]`, all reported in one 422.

use serde_json::{json, Value};

use super::fields::{loc_values, missing_value, Fields};
use super::{error_item, Errors, STRING_TYPE};
use mictlanx_http::error::ApiError;

const LIST_TYPE: (&str, &str) = ("list_type", "Input should be a valid list");

/// An array of objects at `loc`: not an array → `list_type`; each element is read by `read` with the location
/// `[…loc, i]` (not an object → `model_attributes_type`); every element's errors are reported together.
pub fn list_of_objects<T>(
    value: &Value,
    loc: &[&str],
    mut read: impl FnMut(&mut Fields<'_>) -> T,
) -> Result<Vec<T>, ApiError> {
    let items = as_list(value, loc)?;
    let mut errors = Errors::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut item_loc = loc_values(loc);
        item_loc.push(json!(i));
        match Fields::at(item, item_loc) {
            Ok(mut fields) => {
                out.push(read(&mut fields));
                errors.take(fields.finish(), ());
            }
            Err(error) => errors.push(error),
        }
    }
    errors.finish().map(|()| out)
}

/// An array of strings at `loc`: not an array → `list_type`; a non-string element → `string_type` at `[…loc, i]`.
pub fn list_of_strings(value: &Value, loc: &[&str]) -> Result<Vec<String>, ApiError> {
    let items = as_list(value, loc)?;
    let mut errors = Errors::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => out.push(s.clone()),
            other => {
                let mut item_loc = loc_values(loc);
                item_loc.push(json!(i));
                errors.push(error_item(
                    STRING_TYPE.0,
                    item_loc,
                    STRING_TYPE.1,
                    other.clone(),
                ));
            }
        }
    }
    errors.finish().map(|()| out)
}

/// The array at `loc`; `null` (an absent body) is `missing`, any other non-array `list_type`.
fn as_list<'v>(value: &'v Value, loc: &[&str]) -> Result<&'v Vec<Value>, ApiError> {
    if value.is_null() {
        return Err(missing_value(loc));
    }
    value.as_array().ok_or_else(|| {
        ApiError::unprocessable(vec![error_item(
            LIST_TYPE.0,
            loc_values(loc),
            LIST_TYPE.1,
            value.clone(),
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_of_objects() {
        let read = |f: &mut Fields<'_>| (f.req_str("peer_id"), f.req_int("port", None));
        let ok = list_of_objects(
            &json!([{"peer_id": "a", "port": "25000"}, {"peer_id": "b", "port": 1}]),
            &["body"],
            read,
        )
        .unwrap();
        assert_eq!(ok, vec![("a".to_string(), 25000), ("b".to_string(), 1)]);
        assert_eq!(
            list_of_objects(&json!([]), &["body"], read).unwrap(),
            vec![]
        );
        let err = list_of_objects(&json!([{"peer_id": "a"}, 7]), &["body"], read).unwrap_err();
        assert_eq!(
            err.detail(),
            &json!([
                {"type": "missing", "loc": ["body", 0, "port"], "msg": "Field required", "input": {"peer_id": "a"}},
                {"type": "model_attributes_type", "loc": ["body", 1],
                 "msg": "Input should be a valid dictionary or object to extract fields from", "input": 7}
            ])
        );
        let err = list_of_objects(&json!({"peer_id": "a"}), &["body"], read).unwrap_err();
        assert_eq!(
            err.detail(),
            &json!([{"type": "list_type", "loc": ["body"], "msg": "Input should be a valid list", "input": {"peer_id": "a"}}])
        );
    }

    #[test]
    fn lists_of_strings() {
        assert_eq!(
            list_of_strings(&json!(["a", "b"]), &["body"]).unwrap(),
            vec!["a", "b"]
        );
        let err = list_of_strings(&json!(["a", 1]), &["body"]).unwrap_err();
        assert_eq!(
            err.detail(),
            &json!([{"type": "string_type", "loc": ["body", 1], "msg": "Input should be a valid string", "input": 1}])
        );
        let err = list_of_strings(&Value::Null, &["body"]).unwrap_err();
        assert_eq!(err.detail()[0]["type"], "missing");
        let err = list_of_strings(&json!("a"), &["body"]).unwrap_err();
        assert_eq!(err.detail()[0]["type"], "list_type");
    }
}
