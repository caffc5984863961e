//! What the validation really accepts, written into `/openapi.json` after utoipa built it: the lax typing
//! of `docs/router-api.md` §3.5 (integer strings, boolean words, `null` = default), the id rules of §3.6 (a
//! value must keep at least one character after sanitizing), the header grammars of §3.4, and the JSON
//! error bodies (`{"detail": ...}`, the 422 list). utoipa's derive cannot express `anyOf` unions or
//! patterns computed from one rule, so they live here, next to each other, rather than in every handler.

use serde_json::{json, Map, Value};

/// A value whose `sanitize` is non-empty: at least one letter or digit, and the separators before the
/// first one (and after the last one) are not a lone `_` (`_x` and `x_` sanitize to nothing, `-x`, `__x`
/// and `x--` do not). `other` is the class of dropped characters (a path segment also excludes `/`).
fn sanitizable(other: &str) -> String {
    let edge = format!("{other}*(?:(?:[-_]{other}*){{2,}}|-{other}*)?");
    format!("^{edge}[A-Za-z0-9](?:[^/]*[A-Za-z0-9])?{edge}$")
}

/// A path segment that sanitizes to a non-empty id (`bucket_id`, `key`, `ball_id`).
pub fn path_id_pattern() -> String {
    // The class of dropped characters: all but letters, digits, `_` and `-` (last, so it is literal).
    sanitizable("[^A-Za-z0-9_/-]")
}

/// The same rule for an id inside a JSON body, where `/` is just another dropped character.
pub fn body_id_pattern() -> String {
    sanitizable("[^A-Za-z0-9_-]").replace("[^/]*", "[\\s\\S]*")
}

/// An integer string of `int_from_str`: optional sign, ASCII digits (at most 18, so it fits in i64),
/// surrounding white space.
const INT_STRING: &str = r"^\s*[+-]?[0-9]{1,18}\s*$";
/// The same for values that must be ≥ 0 (`-0` is 0).
const NON_NEGATIVE_INT_STRING: &str = r"^\s*(?:\+?[0-9]{1,18}|-0{1,18})\s*$";
/// The same for values that must be ≥ 1.
const POSITIVE_INT_STRING: &str = r"^\s*\+?0{0,17}[1-9][0-9]{0,17}\s*$";
/// A port 0–65535 written as a string.
const PORT_STRING: &str = r"^\s*(?:\+?0{0,5}(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])|-0{1,5})\s*$";
/// `coerce_bool` words (case-insensitive), white space around them allowed.
const BOOL_STRING: &str = r"^\s*(?:[01]|[Tt](?:[Rr][Uu][Ee])?|[Ff](?:[Aa][Ll][Ss][Ee])?|[Yy](?:[Ee][Ss])?|[Nn][Oo]?|[Oo][Nn]|[Oo][Ff][Ff])\s*$";
/// `Force` / `Force-Get`: an integer (non-zero = true) or `true`/`false`.
const FLAG_HEADER: &str = r"^\s*(?:[+-]?[0-9]{1,18}|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\s*$";

/// `Chunk-Size` (A.2): a number, then nothing or a unit word starting with `b`, `k`, `m`, `g`, `t`, `p`
/// or `e`; the digits allowed before each unit keep the value below 2^64 whatever the fraction.
fn size_header_pattern() -> String {
    let number = |digits: u8| format!("[0-9]{{1,{digits}}}(?:\\.[0-9]+)?");
    let unit = |digits: u8, letters: &str| format!("{}[ \\t]*[{letters}][^0-9]*", number(digits));
    let forms = [
        format!("{}[ \\t]*", number(19)),
        unit(19, "Bb"),
        unit(16, "Kk"),
        unit(13, "Mm"),
        unit(10, "Gg"),
        unit(7, "Tt"),
        unit(4, "Pp"),
        unit(1, "Ee"),
    ];
    format!("^[ \\t]*(?:{})$", forms.join("|"))
}

fn string_pattern(pattern: &str) -> Value {
    json!({"type": "string", "pattern": pattern})
}

/// A lax integer: a JSON integer in `[min, i64::MAX]`, or a string of one.
fn lax_int(min: i64, strings: &str) -> Value {
    json!({"anyOf": [
        {"type": "integer", "minimum": min, "maximum": i64::MAX},
        string_pattern(strings),
    ]})
}

fn lax_bool() -> Value {
    json!({"anyOf": [
        {"type": "boolean"},
        {"type": "integer", "enum": [0, 1]},
        string_pattern(BOOL_STRING),
    ]})
}

fn nullable(mut schema: Value, default: Value) -> Value {
    match schema.get_mut("anyOf").and_then(Value::as_array_mut) {
        Some(options) => options.push(json!({"type": "null"})),
        None => schema = json!({"anyOf": [schema, {"type": "null"}]}),
    }
    schema["default"] = default;
    schema
}

/// The schema of a path, query or header parameter, by name (`None` = keep utoipa's).
fn parameter_schema(name: &str, path: &str) -> Option<Value> {
    Some(match name {
        "bucket_id" | "ball_id" | "key" => {
            // A literal segment of an earlier route shadows these values (docs/router-api.md §4), so the
            // request never reaches this operation. A lookahead, not `not: {const}`: a fuzzer turns a
            // `const` straight into the one request that another route answers with a 200.
            let shadowed = match (name, path) {
                ("key", "/api/v4/buckets/{bucket_id}/{key}") => Some("metadata"),
                ("key", "/api/v4/buckets/{bucket_id}/metadata/{key}") => Some("size"),
                ("ball_id", "/api/v4/buckets/{bucket_id}/{ball_id}/merge") => Some("metadata"),
                _ => None,
            };
            let pattern = path_id_pattern();
            match shadowed {
                Some(word) => string_pattern(&format!("^(?!{word}$){}", &pattern[1..])),
                None => string_pattern(&pattern),
            }
        }
        // The metadata read accepts these headers and ignores them.
        "Force-Get" | "Chunk-Size" if path == "/api/v4/buckets/{bucket_id}/metadata/{key}" => {
            json!({"type": "string"})
        }
        "task_id" if path == "/api/v4/buckets/data/{task_id}" => {
            json!({"type": "string", "minLength": 1, "pattern": "^(?!metadata$)[^/]+$"})
        }
        "task_id" | "peer_id" => json!({"type": "string", "minLength": 1, "pattern": "^[^/]+$"}),
        "Force" => json!({"type": "string", "pattern": FLAG_HEADER, "default": "1"}),
        "Force-Get" => json!({"type": "string", "pattern": FLAG_HEADER}),
        "Chunk-Size" => {
            json!({"type": "string", "pattern": size_header_pattern(), "default": "10mb"})
        }
        "attachment" => json!({"type": "string", "pattern": BOOL_STRING, "default": "false"}),
        "start" => json!({"type": "string", "pattern": INT_STRING, "default": "0"}),
        "end" => json!({"type": "string", "pattern": INT_STRING, "default": "100"}),
        _ => return None,
    })
}

fn set_properties(schema: &mut Value, properties: &[(&str, Value)]) {
    for (name, value) in properties {
        // Only fields the derive wrote are retyped (indexing would add missing ones).
        let Some(old) = member(schema, &["properties", name]) else {
            continue;
        };
        let mut value = value.clone();
        // Keep the descriptions and examples the derive wrote.
        for keep in ["description", "example", "examples"] {
            if let Some(v) = old.get(keep) {
                value[keep] = v.clone();
            }
        }
        *old = value;
    }
}

/// The body schemas, retyped to what the lax validator accepts.
fn bodies(schemas: &mut Map<String, Value>) {
    let text = json!({"type": "string"});
    let body_id = string_pattern(&body_id_pattern());
    let optional_fields = [
        (
            "tags",
            nullable(
                json!({"type": "object", "additionalProperties": {"type": "string"}}),
                json!({}),
            ),
        ),
        (
            "content_type",
            nullable(text.clone(), json!("application/octet-stream")),
        ),
        ("is_disabled", nullable(lax_bool(), json!(false))),
        (
            "replication_factor",
            nullable(lax_int(1, POSITIVE_INT_STRING), json!(1)),
        ),
        ("size", lax_int(0, NON_NEGATIVE_INT_STRING)),
    ];
    if let Some(put) = schemas.get_mut("PutMetadataDto") {
        set_properties(put, &optional_fields);
        let ids = [
            ("bucket_id", body_id.clone()),
            ("key", body_id.clone()),
            ("ball_id", body_id.clone()),
        ];
        set_properties(put, &ids);
        put["required"] = json!([
            "bucket_id",
            "key",
            "ball_id",
            "checksum",
            "size",
            "producer_id"
        ]);
        // The update body is the same model, but its bucket_id and key are not used for addressing.
        let mut update = put.clone();
        set_properties(
            &mut update,
            &[("bucket_id", text.clone()), ("key", text.clone())],
        );
        update["description"] = json!(
            "The body of an update: the same fields as a metadata upload; `bucket_id` and `key` must be \
             present but the path decides which object is updated."
        );
        schemas.insert("UpdateMetadataDto".into(), update);
    }
    if let Some(peer) = schemas.get_mut("PeerPayload") {
        let port = json!({"anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 65535},
            string_pattern(PORT_STRING),
        ]});
        set_properties(peer, &[("port", port)]);
        peer["required"] = json!(["protocol", "peer_id", "hostname", "port"]);
    }
}

/// The error bodies every route can answer.
fn error_schemas(schemas: &mut Map<String, Value>) {
    schemas.insert(
        "ErrorDetail".into(),
        json!({
            "type": "object",
            "description": "Every error answer: `detail` is a short text, except for the 422 list and the code-666 object.",
            "required": ["detail"],
            "properties": {"detail": {"anyOf": [{"type": "string"}, {"type": "object"}, {"type": "array"}]}},
            "example": {"detail": "No available peers"}
        }),
    );
    schemas.insert(
        "ValidationError".into(),
        json!({
            "type": "object",
            "description": "One problem with the input, in the order the fields were read.",
            "required": ["type", "loc", "msg", "input"],
            "properties": {
                "type": {"type": "string", "examples": ["missing", "int_parsing", "value_error"]},
                "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                "msg": {"type": "string"},
                "input": {},
                "ctx": {"type": "object"}
            }
        }),
    );
    schemas.insert(
        "HTTPValidationError".into(),
        json!({
            "type": "object",
            "description": "422: every problem with the input at once.",
            "required": ["detail"],
            "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}},
            "example": {"detail": [{"type": "int_parsing", "loc": ["header", "force-get"],
                "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "yes"}]}
        }),
    );
}

/// Error answers without a body schema get the JSON error shape (the 422 list for 422).
fn error_responses(operation: &mut Value) {
    let Some(responses) = member(operation, &["responses"]).and_then(Value::as_object_mut) else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        let schema = if status == "422" {
            "HTTPValidationError"
        } else {
            "ErrorDetail"
        };
        // Keep an example an attribute gave (the code-666 body), add the shape.
        let media = &mut response["content"]["application/json"];
        if media.get("schema").is_none() {
            media["schema"] = json!({"$ref": format!("#/components/schemas/{schema}")});
        }
    }
}

/// `v[a][b]…` without inserting anything (serde_json's `IndexMut` would add `null` members).
fn member<'a>(v: &'a mut Value, names: &[&str]) -> Option<&'a mut Value> {
    names.iter().try_fold(v, |v, name| v.get_mut(*name))
}

/// Bytes are bytes: utoipa renders `Vec<u8>` as a JSON array of integers, so binary request and response
/// bodies get a binary string, and the multipart upload its one file field `data`.
fn binary_bodies(operation: &mut Value) {
    let binary = json!({"type": "string", "format": "binary"});
    let schemas = [
        ("application/octet-stream", binary.clone()),
        ("*/*", binary.clone()),
        (
            "multipart/form-data",
            json!({"type": "object", "required": ["data"], "properties": {"data": binary}}),
        ),
    ];
    let retype = |content: &mut Value| {
        for (kind, schema) in &schemas {
            if let Some(media) = content.get_mut(*kind) {
                media["schema"] = schema.clone();
            }
        }
    };
    if let Some(content) = member(operation, &["requestBody", "content"]) {
        retype(content);
    }
    if let Some(responses) = member(operation, &["responses"]).and_then(Value::as_object_mut) {
        responses
            .values_mut()
            .filter_map(|r| member(r, &["content"]))
            .for_each(retype);
    }
}

/// Applies every rule above to the document.
pub fn apply(doc: &mut Value) {
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        bodies(schemas);
        error_schemas(schemas);
    } else {
        let mut schemas = Map::new();
        error_schemas(&mut schemas);
        doc["components"]["schemas"] = Value::Object(schemas);
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if let Some(parameters) =
                member(operation, &["parameters"]).and_then(Value::as_array_mut)
            {
                for p in parameters {
                    let name = p["name"].as_str().unwrap_or_default().to_string();
                    if let Some(schema) = parameter_schema(&name, path) {
                        p["schema"] = schema;
                    }
                }
            }
            // No body is an empty list; a body, `null` included, must be a list of strings.
            if method == "delete" && path == "/api/v4/xpeers" {
                if let Some(body) = member(operation, &["requestBody"]) {
                    body["required"] = json!(false);
                    body["content"]["application/json"]["schema"] =
                        json!({"type": "array", "items": {"type": "string"}});
                }
            }
            if method == "post" && path == "/api/v4/u/buckets/{bucket_id}/{key}" {
                if let Some(media) =
                    member(operation, &["requestBody", "content", "application/json"])
                {
                    media["schema"] = json!({"$ref": "#/components/schemas/UpdateMetadataDto"});
                }
            }
            binary_bodies(operation);
            error_responses(operation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::sanitize;
    use crate::validate::header_flag;
    use axum::http::{HeaderMap, HeaderValue};
    use mictlanx_proto::units::parse_size;
    use proptest::prelude::*;

    fn re(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    fn flag_ok(value: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert("force", HeaderValue::from_str(value).unwrap());
        header_flag(&h, "force", false).is_ok()
    }

    #[test]
    fn the_id_patterns_accept_the_spec_vectors_that_sanitize_to_something() {
        let (path, body) = (re(&path_id_pattern()), re(&body_id_pattern()));
        for s in [
            "My@Invalid#String!",
            "valid-name_123",
            "---multiple--dashes---",
            "a__b",
            "a-_b",
            "-a-",
            "__a__",
            "x-",
            "ñandú",
            "a.b.c",
            "a b",
            "b@k",
            "report_c_0",
            "0",
        ] {
            assert!(path.is_match(s) && body.is_match(s), "{s}");
        }
        for s in ["!@#$", "_x", "x_", "-", "", "_!a", "a!_", "ú"] {
            assert!(!path.is_match(s) && !body.is_match(s), "{s}");
        }
        assert!(
            !path.is_match("a/b") && body.is_match("a/b"),
            "a segment has no /"
        );
        for p in [path_id_pattern(), body_id_pattern(), size_header_pattern()] {
            assert!(
                !p.contains("(?=") && !p.contains("(?!"),
                "no lookaround: {p}"
            );
        }
    }

    proptest! {
        #[test]
        fn the_body_id_pattern_is_exactly_sanitize_non_empty(s in "[a_\\-!/ é0]{0,8}") {
            prop_assert_eq!(re(&body_id_pattern()).is_match(&s), !sanitize(&s).is_empty(), "{:?}", s);
        }

        #[test]
        fn the_path_id_pattern_is_sanitize_non_empty_without_slashes(s in "[a_\\-! é0]{0,8}") {
            prop_assert_eq!(re(&path_id_pattern()).is_match(&s), !sanitize(&s).is_empty(), "{:?}", s);
        }

        #[test]
        fn what_the_size_pattern_allows_parses(s in "[ 0-9.]{0,6}[ bBkKmMgGtTpPeEzsx]{0,4}") {
            if re(&size_header_pattern()).is_match(&s) {
                prop_assert!(parse_size(&s).is_ok(), "{:?}", s);
            }
        }

        #[test]
        fn the_flag_pattern_is_exactly_what_force_accepts(s in "[ +\\-0-9tTrRuUeEfFaAlLsSx]{0,6}") {
            prop_assert_eq!(re(FLAG_HEADER).is_match(&s), flag_ok(&s), "{:?}", s);
        }
    }

    /// The empty string once broke one of the properties above (a case proptest found and shrank); it is
    /// checked here on every run, so the regression file need not live at the top of the repository.
    #[test]
    fn the_empty_string_follows_every_pattern_rule() {
        assert_eq!(
            re(&body_id_pattern()).is_match(""),
            !sanitize("").is_empty()
        );
        assert_eq!(
            re(&path_id_pattern()).is_match(""),
            !sanitize("").is_empty()
        );
        if re(&size_header_pattern()).is_match("") {
            assert!(parse_size("").is_ok());
        }
        assert_eq!(re(FLAG_HEADER).is_match(""), flag_ok(""));
    }

    #[test]
    fn the_size_pattern_takes_the_spec_examples() {
        let size = re(&size_header_pattern());
        for s in [
            "256kb",
            "1MB",
            "1m",
            "10mb",
            "1GB",
            "1KiB",
            "100 KIB",
            "1 gib",
            "1 mebibyte",
            "42",
            "0",
            "5B",
            "1 bytes",
            "1.5 kb",
            "4.35kb",
            "0.1kb",
            "1 kilobyte",
            "2 megabytes",
            "1 Ki",
            "1k",
            "1 kbs",
            "1.5",
            "1 t",
        ] {
            assert!(size.is_match(s), "{s}");
            assert!(parse_size(s).is_ok(), "{s}");
        }
        for s in [
            "", "abc", "kb", "1e3", "-5", ".5kb", "1 x", "1 2", "1,000", "null",
        ] {
            assert!(!size.is_match(s), "{s}");
            assert!(parse_size(s).is_err(), "{s}");
        }
    }

    #[test]
    fn the_integer_and_boolean_patterns_follow_the_lax_rules() {
        use crate::validate::{coerce_bool, coerce_int};
        let int = re(INT_STRING);
        for s in [" 12 ", "+5", "-7", "0"] {
            assert!(int.is_match(s) && coerce_int(&json!(s)).is_ok(), "{s}");
        }
        for s in ["1e3", "1.5", "0x10", "", "1_000", "+"] {
            assert!(!int.is_match(s) && coerce_int(&json!(s)).is_err(), "{s}");
        }
        let boolean = re(BOOL_STRING);
        for s in ["YES", "off", "t", "N", "on", "False", "1", " 0 "] {
            assert!(boolean.is_match(s) && coerce_bool(&json!(s)).is_ok(), "{s}");
        }
        for s in ["2", "maybe", "", "tr"] {
            assert!(
                !boolean.is_match(s) && coerce_bool(&json!(s)).is_err(),
                "{s}"
            );
        }
        let port = re(PORT_STRING);
        for (s, ok) in [
            ("0", true),
            ("65535", true),
            ("65536", false),
            ("+80", true),
            ("-0", true),
            ("-1", false),
        ] {
            assert_eq!(port.is_match(s), ok, "{s}");
        }
        assert!(re(POSITIVE_INT_STRING).is_match("01") && !re(POSITIVE_INT_STRING).is_match("0"));
        assert!(
            re(NON_NEGATIVE_INT_STRING).is_match("-0")
                && !re(NON_NEGATIVE_INT_STRING).is_match("-1")
        );
    }

    #[test]
    fn errors_get_the_json_shape() {
        let mut op = json!({"responses": {"200": {"description": "ok"}, "404": {"description": "x"},
            "422": {"description": "bad"}}});
        error_responses(&mut op);
        assert!(op["responses"]["200"].get("content").is_none());
        assert_eq!(
            op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorDetail"
        );
        assert_eq!(
            op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/HTTPValidationError"
        );
    }
}
