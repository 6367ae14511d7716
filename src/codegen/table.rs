//! The operation table: each operation of the specs and the facts its spec states about it,
//! read and checked here, written as Rust for `src/operations.rs`.

use std::path::Path;

use serde_json::Value;

use super::{error, load_value, Api, SpecError};

/// One operation of a spec, as the operation table lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The operationId.
    pub id: String,
    /// The HTTP method, upper case.
    pub method: String,
    /// The path template.
    pub path: String,
    /// The spec file.
    pub spec: &'static str,
    /// The spec's summary of it.
    pub summary: String,
    /// The path of the spec's first server, which every path template follows
    /// (`/client/v4`; empty for a server at its host's root).
    pub base_path: String,
    /// The credential it takes, as the variant of `operations::Credential`.
    pub credential: &'static str,
    /// The shape of its answers (`info.x-envelope`), as the variant of `operations::Envelope`.
    pub envelope: &'static str,
    /// When it may be sent again (`x-replay`), as the variant of `operations::Replay`.
    pub replay: &'static str,
    /// Whether a path parameter is sensitive (`x-sensitive: true`).
    pub sensitive_path: bool,
    /// Each path parameter and the kind of ID it carries (`x-id`), as the variant of
    /// `operations::IdKind`, in the order the path has them.
    pub ids: Vec<(String, &'static str)>,
}

impl Operation {
    /// The name of its constant: the operationId in upper snake case.
    pub fn constant(&self) -> String {
        self.id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    }
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One value of a vendor extension, and what it becomes in the operation table.
type Word = (&'static str, &'static str);

/// `x-envelope`'s values.
const ENVELOPES: &[Word] = &[
    ("cloudflare", "Cloudflare"),
    ("plain", "Plain"),
    ("json-api", "JsonApi"),
];

/// `x-replay`'s values (absent: by the method).
const REPLAYS: &[Word] = &[
    ("safe", "Safe"),
    ("not-after-sent", "NotAfterSent"),
    ("once", "Once"),
];

/// `x-id`'s values: the kinds of ID a path parameter carries.
const ID_KINDS: &[Word] = &[
    ("account", "Account"),
    ("calls-app", "CallsApp"),
    ("turn-key", "TurnKey"),
    ("turn-username", "TurnUsername"),
    ("session", "Session"),
    ("magic-app", "MagicApp"),
    ("site", "Site"),
    ("app-config", "AppConfig"),
    ("hover-app", "HoverApp"),
];

/// The credentials a security requirement may name (each scheme's `x-credential`), and what
/// the set an operation accepts is; an operation with `security: []` takes none.
const CREDENTIALS: &[(&[&str], &str)] = &[
    (&[], "None"),
    (&["api-token"], "ApiToken"),
    (&["api-key", "api-token"], "ApiTokenOrKey"),
    (&["app-secret"], "AppSecret"),
    (&["turn-key"], "TurnKey"),
    (&["hover-jwt"], "HoverJwt"),
];

/// The variant `value` names in `words`, or an error naming the extension and what it takes.
fn word(
    file: &Path,
    at: &str,
    extension: &str,
    value: Option<&Value>,
    words: &[Word],
) -> Result<Option<&'static str>, SpecError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let found = value
        .as_str()
        .and_then(|v| words.iter().find(|(word, _)| *word == v));
    match found {
        Some((_, variant)) => Ok(Some(variant)),
        None => {
            let known: Vec<&str> = words.iter().map(|(word, _)| *word).collect();
            Err(error(
                file,
                Some(format!("{at}/{extension}")),
                format!("{extension} is {value}, not one of {}", known.join(", ")),
            ))
        }
    }
}

/// Where the paths of spec `value` are served: its first server's path.
fn base_path(file: &Path, value: &Value) -> Result<String, SpecError> {
    let url = value
        .pointer("/servers/0/url")
        .and_then(Value::as_str)
        .ok_or_else(|| error(file, Some("/servers".into()), "the spec names no server"))?;
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
    Ok(path.trim_end_matches('/').to_string())
}

/// The credential `operation` (at `at`) accepts: its `security`, else the spec's.
fn credential(
    file: &Path,
    value: &Value,
    operation: &Value,
    at: &str,
) -> Result<&'static str, SpecError> {
    let requirements = operation
        .get("security")
        .or_else(|| value.get("security"))
        .and_then(Value::as_array)
        .ok_or_else(|| error(file, Some(at.into()), "no security requirement applies"))?;
    let mut kinds: Vec<&str> = Vec::new();
    for requirement in requirements {
        for scheme in requirement.as_object().into_iter().flat_map(|r| r.keys()) {
            let pointer = format!("/components/securitySchemes/{scheme}/x-credential");
            let kind = value
                .pointer(&pointer)
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    error(
                        file,
                        Some(pointer.clone()),
                        "the scheme has no x-credential",
                    )
                })?;
            kinds.push(kind);
        }
    }
    kinds.sort_unstable();
    kinds.dedup();
    CREDENTIALS
        .iter()
        .find(|(set, _)| *set == kinds.as_slice())
        .map(|(_, variant)| *variant)
        .ok_or_else(|| {
            error(
                file,
                Some(at.into()),
                format!("no credential kind accepts exactly {kinds:?}"),
            )
        })
}

/// The path parameters of `operation` and its path `item`, references followed.
fn path_parameters<'a>(value: &'a Value, item: &'a Value, operation: &'a Value) -> Vec<&'a Value> {
    let listed = |node: &'a Value| node.get("parameters").and_then(Value::as_array);
    let resolved = |parameter: &'a Value| {
        parameter
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| value.pointer(pointer))
            .unwrap_or(parameter)
    };
    // An operation's own parameters come first: they override its path's of the same name.
    [operation, item]
        .into_iter()
        .filter_map(listed)
        .flatten()
        .map(resolved)
        .filter(|parameter| parameter.get("in").and_then(Value::as_str) == Some("path"))
        .collect()
}

/// Each parameter of `path` (at `at`) and the variant of the kind of ID it carries.
fn id_kinds(
    file: &Path,
    at: &str,
    path: &str,
    parameters: &[&Value],
) -> Result<Vec<(String, &'static str)>, SpecError> {
    let names = path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name));
    names
        .map(|name| {
            let parameter = parameters
                .iter()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(name));
            let extension = parameter.and_then(|p| p.get("x-id"));
            let kind = word(file, at, "x-id", extension, ID_KINDS)?.ok_or_else(|| {
                error(
                    file,
                    Some(at.into()),
                    format!("path parameter {name} has no x-id (the kind of ID it carries)"),
                )
            })?;
            Ok((name.to_string(), kind))
        })
        .collect()
}

/// Where each vendor extension the table reads may be written, and nothing else: a misspelled
/// one (`x-replays`) would otherwise be a fact silently left out.
const EXTENSIONS: &[(&str, &[&str])] = &[
    ("info", &["x-envelope"]),
    ("security scheme", &["x-credential"]),
    ("operation", &["x-replay"]),
    ("parameter", &["x-id", "x-sensitive"]),
];

/// Fails on the first `x-` key of an info, security scheme, operation or parameter object that
/// the table does not read there.
fn known_extensions_only(file: &Path, value: &Value) -> Result<(), SpecError> {
    let check = |kind: &str, at: String, node: &Value| -> Result<(), SpecError> {
        let allowed = EXTENSIONS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[][..], |(_, keys)| *keys);
        let keys = node.as_object().into_iter().flat_map(|o| o.keys());
        match keys
            .filter(|k| k.starts_with("x-"))
            .find(|k| !allowed.contains(&k.as_str()))
        {
            Some(key) => Err(error(
                file,
                Some(format!("{at}/{key}")),
                format!(
                    "{key} is not an extension the operation table reads on {kind} objects ({})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    };
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    let entries = |pointer: &str| -> Vec<(String, Value)> {
        value
            .pointer(pointer)
            .and_then(Value::as_object)
            .map(|o| o.iter().map(|(k, v)| (escape(k), v.clone())).collect())
            .unwrap_or_default()
    };
    check("info", "/info".into(), &value["info"])?;
    for (name, scheme) in entries("/components/securitySchemes") {
        check(
            "security scheme",
            format!("/components/securitySchemes/{name}"),
            &scheme,
        )?;
    }
    for (name, parameter) in entries("/components/parameters") {
        check(
            "parameter",
            format!("/components/parameters/{name}"),
            &parameter,
        )?;
    }
    for (path, item) in entries("/paths") {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (key, child) in item {
            let at = format!("/paths/{path}/{key}");
            let parameters = if key == "parameters" {
                Some(child)
            } else if METHODS.contains(&key.as_str()) {
                check("operation", at.clone(), child)?;
                child.get("parameters")
            } else {
                None
            };
            let listed = parameters.and_then(Value::as_array).into_iter().flatten();
            for (i, parameter) in listed.enumerate() {
                check("parameter", format!("{at}/parameters/{i}"), parameter)?;
            }
        }
    }
    Ok(())
}

/// The operations of `apis`, spec by spec and path by path; an operation without an
/// operationId, an operationId (or its constant's name) that two operations share, or a fact
/// the table needs that the spec lacks or misspells, is an error.
pub fn operations(apis: &[&Api]) -> Result<Vec<Operation>, SpecError> {
    let mut out: Vec<Operation> = Vec::new();
    for api in apis {
        let file = Path::new(api.spec);
        let value = load_value(file)?;
        let Some(paths) = value.get("paths").and_then(Value::as_object) else {
            continue;
        };
        known_extensions_only(file, &value)?;
        let base_path = base_path(file, &value)?;
        let envelope = word(
            file,
            "/info",
            "x-envelope",
            value.pointer("/info/x-envelope"),
            ENVELOPES,
        )?
        .ok_or_else(|| error(file, Some("/info".into()), "the spec has no x-envelope"))?;
        for (path, item_value) in paths {
            let Some(item) = item_value.as_object() else {
                continue;
            };
            for (method, operation) in item {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let at = format!(
                    "/paths/{}/{method}",
                    path.replace('~', "~0").replace('/', "~1")
                );
                let id = operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        error(file, Some(at.clone()), "the operation has no operationId")
                    })?;
                let replay = word(file, &at, "x-replay", operation.get("x-replay"), REPLAYS)?;
                let parameters = path_parameters(&value, item_value, operation);
                let mut sensitive_path = false;
                for parameter in &parameters {
                    match parameter.get("x-sensitive") {
                        None => {}
                        Some(Value::Bool(sensitive)) => sensitive_path |= sensitive,
                        Some(other) => {
                            return Err(error(
                                file,
                                Some(at.clone()),
                                format!("x-sensitive is {other}, not true or false"),
                            ))
                        }
                    }
                }
                let ids = id_kinds(file, &at, path, &parameters)?;
                let operation = Operation {
                    id: id.to_string(),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    spec: api.spec,
                    summary: operation
                        .get("summary")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    base_path: base_path.clone(),
                    credential: credential(file, &value, operation, &at)?,
                    envelope,
                    replay: replay.unwrap_or("ByMethod"),
                    sensitive_path,
                    ids,
                };
                if let Some(twin) = out.iter().find(|o| o.constant() == operation.constant()) {
                    return Err(error(
                        file,
                        Some(at),
                        format!(
                            "operationId {id:?} is taken already (or names the same constant) by \
                             {} {} in {}",
                            twin.method, twin.path, twin.spec
                        ),
                    ));
                }
                out.push(operation);
            }
        }
    }
    Ok(out)
}

/// The operation table as Rust: a constant per operation, and `ALL`.
pub fn operation_table(operations: &[Operation]) -> String {
    let mut out = String::new();
    for op in operations {
        out.push_str(&format!(
            "#[doc = {doc:?}]\npub const {name}: Operation = Operation {{ id: {id:?}, method: {method:?}, path: {path:?}, spec: {spec:?}, base_path: {base_path:?}, credential: Credential::{credential}, envelope: Envelope::{envelope}, replay: Replay::{replay}, sensitive_path: {sensitive_path}, ids: &[{ids}] }};\n",
            doc = format!("`{} {}`: {} (`{}`, `{}`).", op.method, op.path, op.summary, op.id, op.spec),
            name = op.constant(),
            id = op.id,
            method = op.method,
            path = op.path,
            spec = op.spec,
            base_path = op.base_path,
            credential = op.credential,
            envelope = op.envelope,
            replay = op.replay,
            sensitive_path = op.sensitive_path,
            ids = op
                .ids
                .iter()
                .map(|(name, kind)| format!("({name:?}, IdKind::{kind})"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    out.push_str("/// Every operation this build has (the specs of its features).\npub const ALL: &[Operation] = &[");
    for op in operations {
        out.push_str(&op.constant());
        out.push_str(", ");
    }
    out.push_str("];\n");
    out
}
