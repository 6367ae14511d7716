//! The generated clients' wiring, written once for every API: each client's module, its
//! progenitor hooks (the transport's), and for an API whose answers come in Cloudflare's
//! envelope (`info.x-envelope: cloudflare`), the unwrapping of each envelope schema.

use std::path::Path;

use serde_json::Value;

use super::{error, load_value, Api, SpecError};

/// The Rust that `src/generated.rs` includes: a module per API (behind its feature), its
/// hooks, and its envelopes.
pub fn clients(apis: &[Api]) -> Result<String, SpecError> {
    let mut out = String::new();
    for api in apis {
        let module = api.out_file.trim_end_matches(".rs");
        let cfg = format!("#[cfg(feature = {:?})]\n", api.feature);
        out.push_str(&format!(
            "{cfg}pub(crate) mod {module} {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/{}\"));\n}}\n",
            api.out_file
        ));
        out.push_str(&format!(
            "{cfg}crate::core::hooks::transport_hooks!(crate::generated::{module}::Client);\n"
        ));
        let file = Path::new(api.spec);
        let value = load_value(file)?;
        if value.pointer("/info/x-envelope").and_then(Value::as_str) == Some("cloudflare") {
            let (single, list) = envelopes(file, &value, api, module)?;
            out.push_str(&format!(
                "{cfg}crate::core::envelope::cloudflare_types!(crate::generated::{module}::types {{\n    single: [{}],\n    list: [{}]\n}});\n",
                single.join(", "),
                list.join(", ")
            ));
        }
    }
    Ok(out)
}

/// The schemas the operations' success answers name, once each, in the order first named.
fn success_schemas(value: &Value) -> Vec<&str> {
    let follow = |node: &'_ Value| -> Option<String> {
        node.get("$ref")?
            .as_str()?
            .strip_prefix('#')
            .map(str::to_string)
    };
    let mut names: Vec<&str> = Vec::new();
    let paths = value.get("paths").and_then(Value::as_object);
    let operations = paths
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values());
    for operation in operations {
        let responses = operation.get("responses").and_then(Value::as_object);
        for (status, response) in responses.into_iter().flatten() {
            if !status.starts_with('2') {
                continue;
            }
            let response = follow(response)
                .and_then(|pointer| value.pointer(&pointer))
                .unwrap_or(response);
            let schema = response.pointer("/content/application~1json/schema");
            let name = schema
                .and_then(|s| s.get("$ref"))
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"));
            if let Some(name) = name.filter(|name| !names.contains(name)) {
                names.push(name);
            }
        }
    }
    names
}

/// The envelopes the success answers of a Cloudflare spec come in (objects with `success`,
/// `errors`, `messages` and `result`), each as `Envelope => Result` (single) or
/// `Envelope => Item` (list).
fn envelopes(
    file: &Path,
    value: &Value,
    api: &Api,
    module: &str,
) -> Result<(Vec<String>, Vec<String>), SpecError> {
    let (mut single, mut list) = (Vec::new(), Vec::new());
    for name in success_schemas(value) {
        let schema = value.pointer(&format!("/components/schemas/{name}"));
        let Some(properties) = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        if !["success", "errors", "messages", "result"]
            .iter()
            .all(|key| properties.contains_key(*key))
        {
            continue;
        }
        let result = &properties["result"];
        let (target, is_list) = match result.get("items") {
            Some(items) => (items, true),
            None => (result, false),
        };
        // A nullable reference is written `allOf: [$ref]` in OpenAPI 3.0.
        let target = match target.get("allOf").and_then(Value::as_array) {
            Some(only) if only.len() == 1 => &only[0],
            _ => target,
        };
        let item = target
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .ok_or_else(|| {
                error(
                    file,
                    Some(format!("/components/schemas/{name}/properties/result")),
                    "an envelope's result must name a schema ($ref)",
                )
            })?;
        let rust = api
            .replacements
            .iter()
            .find(|(schema, _)| *schema == item)
            .map_or_else(
                || format!("crate::generated::{module}::types::{item}"),
                |(_, path)| (*path).to_string(),
            );
        if is_list {
            list.push(format!("{name} => {rust}"));
        } else {
            single.push(format!("{name} => {rust}"));
        }
    }
    Ok((single, list))
}
