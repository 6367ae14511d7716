//! OpenAPI 3.0 schemas as JSON Schema, to validate examples and the fake's answers.

use serde_json::{json, Map, Value};

/// Rewrites an OpenAPI 3.0 schema into JSON Schema: `nullable` becomes a union with null and
/// component references point into `definitions`.
pub fn to_json_schema(node: &Value) -> Value {
    match node {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "nullable" | "example" => {}
                    "$ref" => {
                        let r = value
                            .as_str()
                            .unwrap()
                            .replace("#/components/schemas/", "#/definitions/");
                        out.insert(key.clone(), Value::String(r));
                    }
                    _ => {
                        out.insert(key.clone(), to_json_schema(value));
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    _ => return json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

/// What is wrong with `example` as an instance of `schema` (empty: it validates), or why the
/// schema cannot be built.
pub fn validation_errors(
    spec: &Value,
    schema: &Value,
    example: &Value,
) -> Result<Vec<String>, String> {
    let mut root = to_json_schema(schema);
    let definitions = to_json_schema(&spec["components"]["schemas"]);
    if let Value::Object(map) = &mut root {
        map.insert("definitions".into(), definitions);
    } else {
        root = json!({"allOf": [root], "definitions": definitions});
    }
    let validator = jsonschema::validator_for(&root).map_err(|e| e.to_string())?;
    Ok(validator
        .iter_errors(example)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect())
}

pub fn check_example(spec: &Value, schema: &Value, example: &Value, where_: &str) -> usize {
    let errors =
        validation_errors(spec, schema, example).unwrap_or_else(|e| panic!("{where_}: {e}"));
    assert!(
        errors.is_empty(),
        "{where_}: example does not validate: {errors:?}"
    );
    1
}

/// The schema of an operation's answer with `status` (an exact code, else its `NXX` range).
#[allow(dead_code)]
pub fn response_schema<'a>(spec: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let responses = &spec["paths"][path][method.to_lowercase()]["responses"];
    let response = responses
        .get(status.to_string())
        .or_else(|| responses.get(format!("{}XX", status / 100)))
        .unwrap_or_else(|| panic!("{method} {path} documents no {status} answer"));
    let response = match response.get("$ref").and_then(Value::as_str) {
        Some(r) => spec.pointer(&r[1..]).expect("reference resolves"),
        None => response,
    };
    &response["content"]["application/json"]["schema"]
}

/// Where an operation lives in a spec: its path template and method.
#[allow(dead_code)]
pub fn find_operation<'a>(spec: &'a Value, operation_id: &str) -> Option<(&'a str, &'a str)> {
    let paths = spec["paths"].as_object()?;
    for (template, item) in paths {
        for (method, operation) in item.as_object()? {
            if operation.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                return Some((template.as_str(), method.as_str()));
            }
        }
    }
    None
}

/// The schema of an operation's request body, if it has one.
#[allow(dead_code)]
pub fn request_schema<'a>(spec: &'a Value, path: &str, method: &str) -> Option<&'a Value> {
    spec["paths"][path][method.to_lowercase()]["requestBody"]["content"]["application/json"]
        .get("schema")
}

/// The example of an operation's request body, if it has one.
#[allow(dead_code)]
pub fn request_example<'a>(spec: &'a Value, path: &str, method: &str) -> Option<&'a Value> {
    spec["paths"][path][method.to_lowercase()]["requestBody"]["content"]["application/json"]
        .get("example")
}

/// The schema of a path parameter (written on the path item, by reference or inline).
#[allow(dead_code)]
pub fn path_parameter<'a>(spec: &'a Value, path: &str, name: &str) -> &'a Value {
    &parameter(spec, path, name)["schema"]
}

/// A path parameter as its spec writes it (on the path item, by reference or inline).
#[allow(dead_code)]
pub fn parameter<'a>(spec: &'a Value, path: &str, name: &str) -> &'a Value {
    let parameters = spec["paths"][path]["parameters"]
        .as_array()
        .expect("path parameters");
    for parameter in parameters {
        let parameter = match parameter.get("$ref").and_then(Value::as_str) {
            Some(r) => spec.pointer(&r[1..]).expect("reference resolves"),
            None => parameter,
        };
        if parameter["name"] == name {
            return parameter;
        }
    }
    panic!("{path} has no parameter {name}")
}

/// An operation's success answer (its first `2..` response, by reference or inline) with its
/// status (a `2XX` range read as 200).
#[allow(dead_code)]
pub fn success_response<'a>(spec: &'a Value, path: &str, method: &str) -> (u16, &'a Value) {
    let responses = spec["paths"][path][method.to_lowercase()]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} documents no answers"));
    let (code, response) = responses
        .iter()
        .find(|(code, _)| code.starts_with('2'))
        .unwrap_or_else(|| panic!("{method} {path} documents no success answer"));
    let response = match response.get("$ref").and_then(Value::as_str) {
        Some(r) => spec.pointer(&r[1..]).expect("reference resolves"),
        None => response,
    };
    (
        code.replace("XX", "00").parse().expect("a status"),
        response,
    )
}
