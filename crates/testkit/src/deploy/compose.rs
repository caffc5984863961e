//! Reading docker compose files as the Compose specification defines them (merge keys, short and long
//! syntaxes), without Docker.

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::read_repo_file;

/// A compose file parsed with its `<<: *anchor` merge keys applied (nested ones too).
pub fn load(relative: &str) -> Value {
    let text = read_repo_file(relative);
    let mut doc: Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"));
    // One pass resolves one level: an anchor that itself merges another (`x-peer` merging `x-image`)
    // needs a second pass.
    for _ in 0..8 {
        let before = doc.clone();
        doc.apply_merge()
            .unwrap_or_else(|e| panic!("{relative}: bad merge key: {e}"));
        if doc == before {
            return doc;
        }
    }
    panic!("{relative}: merge keys nested too deeply")
}

/// `services` by name.
pub fn services(doc: &Value) -> BTreeMap<String, Value> {
    let services = doc
        .get("services")
        .and_then(Value::as_mapping)
        .expect("a `services` mapping");
    services
        .iter()
        .map(|(name, service)| (scalar(name), service.clone()))
        .collect()
}

/// A scalar as text (compose accepts numbers and booleans where strings are meant).
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

/// A string or a list of strings as a list of words (`command`, `healthcheck.test`, ...).
pub fn words(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(scalar).collect(),
        other => scalar(other)
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    }
}

/// `environment` in map or `KEY=value` list form.
pub fn environment(service: &Value) -> BTreeMap<String, String> {
    match service.get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(map)) => map.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| {
                let item = scalar(item);
                let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        Some(other) => panic!("unexpected environment {other:?}"),
    }
}

/// The program a service runs: the first word of `command`, or `None` for the image's default CMD.
pub fn program(service: &Value) -> Option<String> {
    service
        .get("command")
        .map(words)
        .and_then(|w| w.into_iter().next())
}

/// `healthcheck.test` as the command it runs (the `CMD`/`CMD-SHELL` marker removed).
pub fn healthcheck(service: &Value) -> Vec<String> {
    let test = service
        .get("healthcheck")
        .and_then(|h| h.get("test"))
        .map(words)
        .unwrap_or_default();
    match test.first().map(String::as_str) {
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => test[1..]
            .iter()
            .flat_map(|s| s.split_whitespace().map(str::to_string))
            .collect(),
        _ => test,
    }
}

/// Container ports of `ports` (short `[ip:][host:]container[/proto]` or long `target:` syntax).
pub fn container_ports(service: &Value) -> Vec<u16> {
    let Some(Value::Sequence(ports)) = service.get("ports") else {
        return Vec::new();
    };
    ports
        .iter()
        .map(|port| {
            let text = match port.get("target") {
                Some(target) => scalar(target),
                None => scalar(port),
            };
            let container = text.rsplit(':').next().unwrap_or_default();
            let container = container.split('/').next().unwrap_or_default();
            container
                .parse()
                .unwrap_or_else(|e| panic!("bad port {text:?}: {e}"))
        })
        .collect()
}

/// `volumes` entries as `(source, target)` (short `source:target[:mode]` or long syntax).
pub fn volumes(service: &Value) -> Vec<(String, String)> {
    let Some(Value::Sequence(volumes)) = service.get("volumes") else {
        return Vec::new();
    };
    volumes
        .iter()
        .map(
            |volume| match (volume.get("source"), volume.get("target")) {
                (Some(source), Some(target)) => (scalar(source), scalar(target)),
                _ => {
                    let text = scalar(volume);
                    let mut parts = text.split(':');
                    let source = parts.next().unwrap_or_default().to_string();
                    let target = parts.next().unwrap_or_default().to_string();
                    (source, target)
                }
            },
        )
        .collect()
}

/// Names listed under `networks` (list or mapping form).
pub fn networks(service: &Value) -> Vec<String> {
    match service.get("networks") {
        Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
        Some(Value::Mapping(map)) => map.keys().map(scalar).collect(),
        _ => Vec::new(),
    }
}

/// Keys of a top-level mapping such as `volumes` or `networks`.
pub fn top_level_names(doc: &Value, key: &str) -> Vec<String> {
    doc.get(key)
        .and_then(Value::as_mapping)
        .map(|map| map.keys().map(scalar).collect())
        .unwrap_or_default()
}

/// `extra_hosts` entries (`host:ip` or `host=ip`).
pub fn extra_hosts(service: &Value) -> Vec<String> {
    match service.get("extra_hosts") {
        Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(k, v)| format!("{}:{}", scalar(k), scalar(v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Replaces every `${NAME:-default}` / `${NAME-default}` by its default and `${NAME}` by nothing: the
/// value a deployment gets when the user sets nothing.
pub fn with_defaults(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 2..start + end];
        if let Some((_, default)) = inner.split_once(":-").or_else(|| inner.split_once('-')) {
            out.push_str(default);
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}
