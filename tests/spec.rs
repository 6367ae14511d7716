//! Spec checks: every spec loads and generates, every operation is complete, every example
//! validates against its schema, and broken specs fail with a message naming file and place.

#[path = "../src/codegen/mod.rs"]
#[allow(dead_code)]
mod codegen;

#[path = "common/schema.rs"]
mod schema;

use schema::check_example;
use serde_json::{json, Value};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn specs() -> impl Iterator<Item = (&'static str, Value)> {
    codegen::APIS.iter().map(|api| {
        let value =
            codegen::load_value(std::path::Path::new(api.spec)).unwrap_or_else(|e| panic!("{e}"));
        (api.spec, value)
    })
}

fn operations(spec: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone(), op));
            }
        }
    }
    out
}

/// Follows a local `$ref` (one level is all these specs use for responses).
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => spec.pointer(&r[1..]).expect("checked by load_value"),
        None => node,
    }
}

#[test]
fn every_spec_generates() {
    for api in codegen::APIS {
        let code = codegen::generate_file(api).unwrap_or_else(|e| panic!("{e}"));
        assert!(code.contains("pub struct Client"), "{}", api.spec);
    }
}

/// progenitor adds an `api-version` header to every request (from `info.version`); codegen
/// takes it out of the generated source, and a source it cannot take it out of fails the build.
#[test]
fn the_generated_clients_send_no_api_version_header() {
    for api in codegen::APIS {
        let source = codegen::generate_file(api).unwrap();
        assert!(!source.contains("api-version"), "{}", api.spec);
        assert!(source.contains("HeaderMap::new()"), "{}", api.spec);
    }
    let file = std::path::Path::new("x.yaml");
    // As progenitor prints its tokens (spaced), and as rustfmt writes them.
    for statement in [
        "header_map . append (:: reqwest :: header :: HeaderName :: from_static (\"api-version\") , \
         :: reqwest :: header :: HeaderValue :: from_static (Self :: api_version ()) ,) ;",
        "header_map.append(\n    ::reqwest::header::HeaderName::from_static(\"api-version\"),\n    \
         ::reqwest::header::HeaderValue::from_static(Self::api_version()),\n);",
    ] {
        let source = format!("let mut header_map = x; {statement} let y = 1;");
        let cleaned = codegen::without_api_version(file, source).unwrap();
        assert_eq!(cleaned, "let mut header_map = x;  let y = 1;");
    }
    // Anything else naming the header fails, rather than being sent.
    for odd in [
        "let h = ::reqwest::header::HeaderName::from_static(\"api-version\");",
        "header_map.insert(HeaderName::from_static(\"api-version\"), v);",
    ] {
        let error = codegen::without_api_version(file, odd.to_string()).unwrap_err();
        assert!(error.to_string().contains("x.yaml"), "{error}");
        assert!(error.to_string().contains("api-version"), "{error}");
    }
}

/// An operator's spec that declares a header parameter named `api-version` (the header codegen
/// takes out of progenitor's output) fails the build naming the file: it is neither sent
/// silently nor dropped silently.
#[test]
fn a_spec_declaring_an_api_version_header_fails_the_build() {
    let add_header = |value: &mut Value| {
        let operation = value["paths"]
            .as_object_mut()
            .unwrap()
            .values_mut()
            .flat_map(|item| item.as_object_mut().unwrap().values_mut())
            .find(|operation| operation.get("operationId").is_some())
            .unwrap();
        let parameter = json!({"name": "api-version", "in": "header", "required": false,
                               "schema": {"type": "string"}});
        match operation["parameters"].as_array_mut() {
            Some(parameters) => parameters.push(parameter),
            None => operation["parameters"] = json!([parameter]),
        }
    };
    let (spec, error) = with_realtime_spec_changed("header", add_header, |api| {
        (
            api.spec,
            codegen::generate_file(api).unwrap_err().to_string(),
        )
    });
    assert!(error.contains(spec), "{error}");
    assert!(
        error.contains("api-version header is written in a way"),
        "{error}"
    );
}

#[test]
fn every_operation_is_complete() {
    let mut count = 0;
    for (file, spec) in specs() {
        assert_eq!(spec["openapi"], "3.0.3", "{file}");
        assert!(
            spec["servers"].as_array().is_some_and(|s| !s.is_empty()),
            "{file}: servers"
        );
        assert!(
            spec["components"]["securitySchemes"].is_object(),
            "{file}: security schemes"
        );
        let mut ids = std::collections::HashSet::new();
        for (method, path, op) in operations(&spec) {
            count += 1;
            let where_ = format!("{file}: {method} {path}");
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{where_}: operationId"));
            assert!(
                ids.insert(id.to_string()),
                "{where_}: duplicate operationId {id}"
            );
            assert!(op["summary"].is_string(), "{where_}: summary");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{where_}: no success response"
            );
            let error = responses
                .get("4XX")
                .unwrap_or_else(|| panic!("{where_}: no 4XX error response"));
            assert!(resolve(&spec, error)["content"]["application/json"]["schema"].is_object());
            // Path parameters are declared and typed.
            for name in path
                .split('{')
                .skip(1)
                .map(|s| s.split('}').next().unwrap())
            {
                let params = spec["paths"][&path]["parameters"]
                    .as_array()
                    .expect("params");
                assert!(
                    params
                        .iter()
                        .map(|p| resolve(&spec, p))
                        .any(|p| p["name"] == name
                            && p["in"] == "path"
                            && p["required"] == true
                            && p["schema"]["type"] == "string"),
                    "{where_}: path parameter {name}"
                );
            }
        }
    }
    // A floor, not a count: an operation added needs no edit here, one lost fails.
    assert!(
        count >= 29,
        "5 Calls apps + 5 TURN keys + 2 TURN credentials + 5 Magic apps + 6 Magic sites + 6 Hover \
         operations, and {count} found"
    );
}

#[test]
fn every_example_validates_against_its_schema() {
    let mut checked = 0;
    for (file, spec) in specs() {
        for (method, path, op) in operations(&spec) {
            let where_ = format!("{file}: {method} {path}");
            let mut media = Vec::new();
            if let Some(body) = op.get("requestBody") {
                media.push(("request", &body["content"]["application/json"]));
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = resolve(&spec, response);
                if let Some(m) = response
                    .get("content")
                    .and_then(|c| c.get("application/json"))
                {
                    media.push((status.as_str(), m));
                }
            }
            for (what, m) in media {
                if let Some(example) = m.get("example") {
                    checked +=
                        check_example(&spec, &m["schema"], example, &format!("{where_} {what}"));
                } else if what.starts_with('2') || what == "request" {
                    panic!("{where_} {what}: no example");
                }
            }
        }
        for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
            if let Some(example) = schema.get("example") {
                checked += check_example(&spec, schema, example, &format!("{file}: schema {name}"));
            }
        }
        for (name, param) in spec["components"]["parameters"].as_object().unwrap() {
            if let Some(example) = param.get("example") {
                checked += check_example(
                    &spec,
                    &param["schema"],
                    example,
                    &format!("{file}: parameter {name}"),
                );
            }
        }
    }
    assert!(checked >= 30, "only {checked} examples checked");
}

#[test]
fn constraints_are_enforced_by_the_validator() {
    // The check above must be able to fail: a body breaking each documented rule is rejected.
    let (_, magic) = specs().find(|(f, _)| f.contains("magic")).unwrap();
    let create = json!({"$ref": "#/components/schemas/MagicAppCreateRequest"});
    let update = json!({"$ref": "#/components/schemas/MagicAppUpdateRequest"});
    // Each rejected for the rule it breaks, not for any reason (a schema that cannot be
    // built, a panic), and a good body accepted.
    for (schema, bad, rule) in [
        (&create, json!({"name": "a", "type": "b"}), "anyOf"),
        (
            &create,
            json!({"name": "a", "hostnames": []}),
            "\"type\" is a required property",
        ),
        (
            &create,
            json!({"name": "a", "type": "b", "ip_subnets": ["1.1.1.1"]}),
            "does not match",
        ),
        (
            &create,
            json!({"name": "a", "type": "b", "ip_subnets": ["::1/128"]}),
            "does not match",
        ),
        (&update, json!({}), "anyOf"),
    ] {
        let errors = schema::validation_errors(&magic, schema, &bad).unwrap();
        assert!(
            errors.iter().any(|e| e.contains(rule)),
            "{bad} should break {rule}: {errors:?}"
        );
    }
    let good = json!({"name": "a", "type": "b", "ip_subnets": ["192.0.2.0/24"]});
    assert_eq!(
        schema::validation_errors(&magic, &create, &good),
        Ok(vec![])
    );
}

fn broken(name: &str) -> String {
    let path: &'static str = Box::leak(format!("tests/fixtures/broken/{name}").into_boxed_str());
    let api = codegen::Api {
        spec: path,
        feature: "none",
        out_file: "x.rs",
        replacements: &[],
    };
    match codegen::generate_file(&api) {
        Ok(_) => panic!("{name} generated code"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_specs_fail_with_file_and_place() {
    let m = broken("bad-yaml.yaml");
    assert!(
        m.starts_with("spec tests/fixtures/broken/bad-yaml.yaml at line 11"),
        "{m}"
    );
    assert!(m.contains("invalid YAML"), "{m}");

    let m = broken("dangling-ref.yaml");
    assert!(m.contains("dangling-ref.yaml at /paths/~1things/get/responses/200/content/application~1json/schema/$ref"), "{m}");
    assert!(m.contains("#/components/schemas/Thing"), "{m}");

    let m = broken("wrong-shape.yaml");
    assert!(
        m.contains("wrong-shape.yaml at /paths/~1things/get/responses"),
        "{m}"
    );

    let m = broken("two-success-schemas.yaml");
    assert!(
        m.contains("two-success-schemas.yaml: progenitor failed"),
        "{m}"
    );
    assert!(
        m.contains("success (or error) responses use different schemas"),
        "{m}"
    );

    let m = broken("openapi-31.yaml");
    assert!(m.contains("openapi-31.yaml") && m.contains("3.1.0"), "{m}");
}

/// The operation table of `spec` after `change`, or the error that names what is wrong.
fn table_after(
    name: &str,
    change: impl FnOnce(&mut Value),
) -> Result<Vec<codegen::Operation>, String> {
    with_realtime_spec_changed(name, change, |api| {
        codegen::operations(&[api]).map_err(|e| e.to_string())
    })
}

/// Runs `use_it` on an API whose spec is the Realtime spec after `change`, written to a
/// temporary file for the call.
fn with_realtime_spec_changed<T>(
    name: &str,
    change: impl FnOnce(&mut Value),
    use_it: impl FnOnce(&codegen::Api) -> T,
) -> T {
    let mut value =
        codegen::load_value(std::path::Path::new("spec/cloudflare-realtime.yaml")).unwrap();
    change(&mut value);
    let path = std::env::temp_dir().join(format!("apps-api-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, value.to_string()).unwrap();
    let spec: &'static str = Box::leak(path.to_string_lossy().into_owned().into_boxed_str());
    let api = codegen::Api {
        spec,
        feature: "none",
        out_file: "x.rs",
        replacements: &[],
    };
    let result = use_it(&api);
    let _ = std::fs::remove_file(&path);
    result
}

/// The facts the operation table takes from a spec (its server's path, the credential its
/// security names, the envelope, the replay rule, sensitive and ID-carrying path parameters)
/// are read as written, and a spec that lacks or misspells one fails naming the place.
#[test]
fn the_operation_table_reads_each_fact_and_names_what_is_wrong() {
    let table = table_after("as-is", |_| ()).unwrap();
    let revoke = table
        .iter()
        .find(|op| op.id == "turn-revoke-credential")
        .unwrap();
    assert_eq!(
        (
            revoke.base_path.as_str(),
            revoke.credential,
            revoke.envelope,
            revoke.replay
        ),
        ("/v1", "TurnKey", "Plain", "Safe")
    );
    assert!(revoke.sensitive_path);
    let kinds = [
        ("key_id".to_string(), "TurnKey"),
        ("username".to_string(), "TurnUsername"),
    ];
    assert_eq!(revoke.ids, kinds);
    let generate = table
        .iter()
        .find(|op| op.id == "turn-generate-ice-servers")
        .unwrap();
    assert!(!generate.sensitive_path);

    let generate_at = "/paths/~1turn~1keys~1{key_id}~1credentials~1generate-ice-servers/post";
    type Change = Box<dyn FnOnce(&mut Value)>;
    let cases: [(&str, Change, &[&str]); 9] = [
        (
            "misspelled",
            Box::new(|v| {
                v["paths"]["/turn/keys/{key_id}/credentials/generate-ice-servers"]["post"]
                    ["x-replays"] = json!("safe")
            }),
            &[generate_at, "x-replays is not an extension", "x-replay"],
        ),
        (
            "sensitive-yes",
            Box::new(|v| v["components"]["parameters"]["username"]["x-sensitive"] = json!("yes")),
            &["x-sensitive is \"yes\", not true or false"],
        ),
        (
            "misplaced",
            Box::new(|v| v["components"]["parameters"]["username"]["x-replay"] = json!("safe")),
            &[
                "/components/parameters/username/x-replay",
                "parameter objects (x-id, x-sensitive)",
            ],
        ),
        (
            "replay",
            Box::new(|v| {
                v["paths"]["/turn/keys/{key_id}/credentials/generate-ice-servers"]["post"]
                    ["x-replay"] = json!("sometimes")
            }),
            &[
                generate_at,
                "x-replay is \"sometimes\"",
                "safe, not-after-sent, once",
            ],
        ),
        (
            "envelope",
            Box::new(|v| drop(v["info"].as_object_mut().unwrap().remove("x-envelope"))),
            &["at /info", "no x-envelope"],
        ),
        (
            "credential",
            Box::new(|v| {
                drop(
                    v["components"]["securitySchemes"]["turn_key"]
                        .as_object_mut()
                        .unwrap()
                        .remove("x-credential"),
                )
            }),
            &["/components/securitySchemes/turn_key/x-credential"],
        ),
        (
            "id",
            Box::new(|v| {
                drop(
                    v["components"]["parameters"]["username"]
                        .as_object_mut()
                        .unwrap()
                        .remove("x-id"),
                )
            }),
            &["path parameter username has no x-id"],
        ),
        (
            "server",
            Box::new(|v| drop(v.as_object_mut().unwrap().remove("servers"))),
            &["at /servers", "names no server"],
        ),
        (
            "security",
            Box::new(|v| {
                v["components"]["securitySchemes"]["secret"] =
                    json!({"type": "http", "scheme": "bearer", "x-credential": "app-secret"});
                v["paths"]["/turn/keys/{key_id}/credentials/generate-ice-servers"]["post"]
                    ["security"] = json!([{"turn_key": []}, {"secret": []}]);
            }),
            &[
                generate_at,
                "no credential kind accepts exactly [\"app-secret\", \"turn-key\"]",
            ],
        ),
    ];
    for (name, change, expected) in cases {
        let message = table_after(name, change).unwrap_err();
        for part in expected {
            assert!(message.contains(part), "{name}: {message}");
        }
        assert!(message.starts_with("spec "), "{name}: {message}");
    }
}

/// Every operationId the README names (fault injection, the control API's examples) is one
/// of the specs'.
#[test]
fn the_readme_names_only_operations_the_specs_have() {
    let apis: Vec<&codegen::Api> = codegen::APIS.iter().collect();
    let ids: Vec<String> = codegen::operations(&apis)
        .unwrap()
        .into_iter()
        .map(|op| op.id)
        .collect();
    let readme = std::fs::read_to_string("README.md").unwrap();
    let mut named = 0;
    for marker in ["inject_fault(\"", "\"operation\": \""] {
        for rest in readme.split(marker).skip(1) {
            let id = rest.split('"').next().unwrap();
            if id.starts_with('<') {
                continue;
            }
            assert!(ids.iter().any(|known| known == id), "README names {id:?}");
            named += 1;
        }
    }
    assert!(named >= 5, "{named}");
}

/// The clients' wiring has a module and hooks per API, and unwraps every envelope a
/// Cloudflare spec's success answers come in (a replaced item as its replacement), and none of
/// an API whose answers are not Cloudflare's envelope.
#[test]
fn the_clients_wiring_covers_every_api_and_envelope() {
    let wiring = codegen::clients(codegen::APIS).unwrap();
    for api in codegen::APIS {
        let module = api.out_file.trim_end_matches(".rs");
        assert!(
            wiring.contains(&format!("pub(crate) mod {module} {{")),
            "{module}"
        );
        assert!(wiring.contains(&format!(
            "transport_hooks!(crate::generated::{module}::Client)"
        )));
    }
    for (spec, value) in specs() {
        let cloudflare = value["info"]["x-envelope"] == "cloudflare";
        for (_, _, op) in operations(&value) {
            for (status, response) in op["responses"].as_object().unwrap() {
                let schema =
                    &resolve(&value, response)["content"]["application/json"]["schema"]["$ref"];
                let Some(name) = schema
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                else {
                    continue;
                };
                let wired = wiring.contains(&format!("{name} => "));
                let envelope =
                    value["components"]["schemas"][name]["properties"]["success"].is_object();
                if status.starts_with('2') {
                    assert_eq!(wired, cloudflare && envelope, "{spec} {name}");
                }
            }
        }
    }
    assert!(
        wiring.contains("MagicAppListEnvelope => crate::cloudflare::magic::wire::MagicAppListItem")
    );
    assert!(wiring.contains("MagicAppEnvelope => crate::generated::magic::types::MagicAccountApp"));
}

#[test]
fn validation_only_constraints_are_stripped_before_generation() {
    let mut value = json!({
        "a": {"type": "object", "anyOf": [{"required": ["x"]}, {"required": ["y"]}]},
        "b": {"type": "string", "pattern": "^x$"},
        "c": {"oneOf": [{"$ref": "#/x"}, {"$ref": "#/y"}]},
        "d": {"anyOf": [{"type": "string"}, {"required": ["z"]}]}
    });
    codegen::strip_validation_only(&mut value);
    assert!(value["a"].get("anyOf").is_none());
    assert!(value["b"].get("pattern").is_none());
    assert!(value["c"].get("oneOf").is_some());
    assert!(value["d"].get("anyOf").is_some(), "a real anyOf stays");

    // Parameter length limits go (progenitor would make a newtype per operation of each);
    // length limits elsewhere stay.
    let limits = json!({"type": "string", "minLength": 1, "maxLength": 32});
    let mut spec = json!({
        "components": {
            "parameters": {"id": {"in": "path", "schema": limits}},
            "schemas": {"Secret": limits}
        },
        "paths": {"/x/{a}/{b}": {
            "parameters": [{"in": "path", "schema": limits}],
            "get": {"parameters": [{"in": "path", "schema": limits}]}
        }}
    });
    codegen::strip_validation_only(&mut spec);
    for pointer in [
        "/components/parameters/id/schema",
        "/paths/~1x~1{a}~1{b}/parameters/0/schema",
        "/paths/~1x~1{a}~1{b}/get/parameters/0/schema",
    ] {
        let schema = spec.pointer(pointer).unwrap();
        assert!(
            schema.get("maxLength").is_none() && schema.get("minLength").is_none(),
            "{pointer}"
        );
    }
    assert_eq!(spec["components"]["schemas"]["Secret"]["maxLength"], 32);
}

/// SECURITY.md lists no guarantee without a test: every test it names is a test (`#[test]`,
/// `#[tokio::test]`, a proptest case, which carries `#[test]` too) in the module it is named
/// with (`file::name`, or `file::inner_module::name`), and is not ignored.
#[test]
fn security_md_names_only_existing_tests() {
    let doc = std::fs::read_to_string("SECURITY.md").unwrap();
    let mut named = 0;
    for quoted in doc.split('`').skip(1).step_by(2) {
        let segments: Vec<&str> = quoted.split("::").collect();
        let looks_like_a_test = segments.len() >= 2
            && !quoted.contains(' ')
            && segments.iter().all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            });
        if !looks_like_a_test {
            continue;
        }
        named += 1;
        if let Err(why) = find_test(&segments) {
            panic!("SECURITY.md names `{quoted}`: {why}");
        }
    }
    assert!(named >= 40, "only {named} tests named");
}

/// Every `.rs` file under `src/` and `tests/`, with the module name it defines (its stem, or
/// its folder's name for `mod.rs` and `main.rs`).
fn source_files() -> Vec<(String, std::path::PathBuf)> {
    let mut files = Vec::new();
    let mut stack = vec![
        std::path::PathBuf::from("src"),
        std::path::PathBuf::from("tests"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                let module = if stem == "mod" || stem == "main" {
                    dir.file_name().unwrap().to_string_lossy().to_string()
                } else {
                    stem
                };
                files.push((module, path));
            }
        }
    }
    files
}

/// Finds `file_module::(inner_module::)*name` as a test that is not ignored, or says why not.
fn find_test(segments: &[&str]) -> Result<(), String> {
    let (name, modules) = segments.split_last().unwrap();
    let (file_module, inner) = modules.split_first().unwrap();
    let mut why = format!("no file defines module `{file_module}`");
    for (module, path) in source_files() {
        if module != *file_module {
            continue;
        }
        // The inner modules: each opened inline after the one before it (`mod m {`), or in a
        // file of its own beside it (`mod m;`).
        let (outer, mut path) = (path.clone(), path);
        let mut text = std::fs::read_to_string(&path).unwrap();
        let mut from = 0;
        let mut inside = true;
        for module in inner {
            if let Some(at) = text[from..].find(&format!("mod {module} {{")) {
                from += at;
                continue;
            }
            let dir = match path.file_stem().and_then(|s| s.to_str()) {
                Some("mod" | "main" | "lib") => path.parent().unwrap().to_path_buf(),
                _ => path.with_extension(""),
            };
            let file = dir.join(format!("{module}.rs"));
            if text[from..].contains(&format!("mod {module};")) && file.exists() {
                text = std::fs::read_to_string(&file).unwrap();
                path = file;
                from = 0;
            } else {
                inside = false;
                break;
            }
        }
        if !inside {
            why = format!("{} has no module `{}`", outer.display(), inner.join("::"));
            continue;
        }
        let Some(at) = text[from..]
            .find(&format!("fn {name}("))
            .map(|at| from + at)
        else {
            why = format!("{} has no `fn {name}(` in that module", path.display());
            continue;
        };
        // The attributes and comments right above the function.
        let above: Vec<&str> = text[..at]
            .lines()
            .rev()
            .skip(1)
            .map(str::trim)
            .take_while(|line| {
                line.starts_with("#[")
                    || line.starts_with("//")
                    || line.starts_with(")]")
                    || line.starts_with("async")
            })
            .collect();
        let line_of_fn = text[..at].lines().last().unwrap_or("").trim();
        let attributes: Vec<&str> = above
            .iter()
            .copied()
            .chain([line_of_fn])
            .filter(|l| l.starts_with("#["))
            .collect();
        if attributes.iter().any(|a| a.starts_with("#[ignore")) {
            return Err(format!("it is ignored in {}", path.display()));
        }
        if attributes
            .iter()
            .any(|a| *a == "#[test]" || a.starts_with("#[tokio::test"))
        {
            return Ok(());
        }
        why = format!("`fn {name}` in {} is not a test", path.display());
    }
    Err(why)
}

/// Every operation of the specs has a contract test: a test in `tests/contract/` that asserts a
/// client got an answer to it (`assert_ran(&apps_api::operations::X)`). That every operation
/// has a facade method (a driver that runs it) is
/// `properties::every_operation_of_the_specs_has_a_facade_method`'s to show, that the fake serves
/// each one `spec_check::every_answer_to_every_operation_and_fault_validates`'s, and that its
/// requests match its spec `spec_requests::every_request_and_answer_validates_against_the_spec`'s.
#[test]
fn every_operation_has_a_contract_test() {
    let apis: Vec<&codegen::Api> = codegen::APIS.iter().collect();
    let operations = codegen::operations(&apis).unwrap_or_else(|e| panic!("{e}"));
    let mut contract = String::new();
    for entry in std::fs::read_dir("tests/contract").unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            contract.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let missing: Vec<&str> = operations
        .iter()
        .filter(|op| {
            !contract.contains(&format!(
                "assert_ran(&apps_api::operations::{});",
                op.constant()
            ))
        })
        .map(|op| op.id.as_str())
        .collect();
    assert!(missing.is_empty(), "no contract test for {missing:?}");
    assert!(operations.len() >= 29);
}
