//! Spec loading and client generation, shared by `build.rs`, `tests/spec.rs` and
//! `tests/codegen.rs`.
//!
//! This file is not part of the library: `build.rs` and the tests include it with `#[path]`,
//! so the exact code that builds the crate is the code the broken-spec tests exercise.
//!
//! Each step returns a [`SpecError`] naming the file and, where known, the line or JSON pointer,
//! so a broken spec fails the build with one readable message instead of a panic backtrace.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One API: its spec file, the module it generates and the generation settings it needs.
pub struct Api {
    /// Spec file, relative to the crate root.
    pub spec: &'static str,
    /// The Cargo feature that builds it.
    pub feature: &'static str,
    /// File name written into `OUT_DIR`.
    pub out_file: &'static str,
    /// Named component schemas replaced by hand-written types (`schema`, `rust path`).
    pub replacements: &'static [(&'static str, &'static str)],
}

/// The APIs this crate generates.
pub const APIS: &[Api] = &[
    Api {
        spec: "spec/cloudflare-calls.yaml",
        feature: "cloudflare-calls",
        out_file: "calls.rs",
        replacements: &[
            ("CallsAppSecret", "crate::Secret"),
            ("CallsTurnKeyToken", "crate::Secret"),
        ],
    },
    Api {
        spec: "spec/cloudflare-realtime.yaml",
        feature: "cloudflare-calls",
        out_file: "realtime.rs",
        replacements: &[("TurnCredentialSecret", "crate::Secret")],
    },
    Api {
        spec: "spec/cloudflare-realtime-sfu.yaml",
        feature: "cloudflare-calls",
        out_file: "sfu.rs",
        replacements: &[],
    },
    Api {
        spec: "spec/cloudflare-magic.yaml",
        feature: "cloudflare-magic",
        out_file: "magic.rs",
        // The `oneOf` would become an untagged enum, which serde decodes by buffering each
        // item and trying each variant (2.5x slower than a struct); the hand-written type
        // decodes each item once and tells the two apart by their ID key.
        replacements: &[(
            "MagicAppListItem",
            "crate::cloudflare::magic::wire::MagicAppListItem",
        )],
    },
    Api {
        spec: "spec/hover.yaml",
        feature: "hover",
        out_file: "hover.rs",
        replacements: &[
            ("HoverAppToken", "crate::Secret"),
            ("HoverWebhookSecret", "crate::Secret"),
            ("HoverPassword", "crate::Secret"),
            ("HoverAuthToken", "crate::Secret"),
            // progenitor skips `None` fields, so a generated PATCH body could never send
            // `"webhook_url": null`; the facade's own type can (three-state field).
            ("HoverAppUpdateFields", "crate::hover::HoverAppChanges"),
        ],
    },
];

/// Why a spec could not be turned into code.
#[derive(Debug)]
pub struct SpecError {
    /// The spec file.
    pub file: PathBuf,
    /// Line (1-based) or JSON pointer, when known.
    pub location: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spec {}", self.file.display())?;
        if let Some(location) = &self.location {
            write!(f, " at {location}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for SpecError {}

fn error(file: &Path, location: Option<String>, problem: impl Into<String>) -> SpecError {
    SpecError {
        file: file.to_path_buf(),
        location,
        problem: problem.into(),
    }
}

/// Reads a spec file as a JSON value, checking that it is YAML and that every `$ref` resolves.
pub fn load_value(file: &Path) -> Result<Value, SpecError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| error(file, None, format!("cannot read the file: {e}")))?;
    parse_value(file, &text)
}

/// Parses spec text (YAML or JSON) as a JSON value and checks its `$ref`s.
pub fn parse_value(file: &Path, text: &str) -> Result<Value, SpecError> {
    let value: Value = yaml_serde::from_str(text).map_err(|e| {
        let location = e
            .location()
            .map(|l| format!("line {}, column {}", l.line(), l.column()));
        error(file, location, format!("invalid YAML: {e}"))
    })?;
    check_refs(file, &value, &value, &mut String::new())?;
    Ok(value)
}

/// Fails on the first `$ref` that is not a local JSON pointer into the document.
fn check_refs(file: &Path, root: &Value, node: &Value, at: &mut String) -> Result<(), SpecError> {
    match node {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref") {
                let target = reference
                    .as_str()
                    .and_then(|r| r.strip_prefix('#'))
                    .ok_or_else(|| {
                        error(
                            file,
                            Some(format!("{at}/$ref")),
                            format!(
                                "only local references (#/...) are supported, found {reference}"
                            ),
                        )
                    })?;
                if root.pointer(target).is_none() {
                    return Err(error(
                        file,
                        Some(format!("{at}/$ref")),
                        format!("dangling reference #{target}: nothing is defined there"),
                    ));
                }
            }
            for (key, child) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                check_refs(file, root, child, at)?;
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                check_refs(file, root, child, at)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Removes constraints progenitor cannot express faithfully; the facade enforces them.
///
/// - `anyOf` and `oneOf` whose branches only list `required` properties ("at least one of",
///   "exactly one of"): typify turns them into untagged enums that drop every field but one
///   branch's on a round trip.
/// - `pattern` on strings: typify would validate it with the `regress` crate in every
///   deserialization (responses included); the facade checks request values with `std` parsers.
/// - Length limits on parameters: progenitor would make each constrained path parameter a
///   newtype per operation; the facade's typed IDs (`core/ids.rs`) check the same rules once.
pub fn strip_validation_only(node: &mut Value) {
    strip_parameter_limits(node);
    strip_schema_constraints(node);
}

/// Drops `minLength`/`maxLength` from every parameter's schema (component parameters, and
/// parameters written inline on a path or an operation).
fn strip_parameter_limits(spec: &mut Value) {
    fn strip(parameters: Option<&mut Value>) {
        let Some(Value::Array(list)) = parameters else {
            return;
        };
        for parameter in list {
            strip_one(parameter);
        }
    }
    fn strip_one(parameter: &mut Value) {
        if let Some(Value::Object(schema)) = parameter.get_mut("schema") {
            schema.remove("minLength");
            schema.remove("maxLength");
        }
    }
    if let Some(Value::Object(parameters)) = spec.pointer_mut("/components/parameters") {
        parameters.values_mut().for_each(strip_one);
    }
    if let Some(Value::Object(paths)) = spec.pointer_mut("/paths") {
        for item in paths.values_mut() {
            let Value::Object(item) = item else { continue };
            for (key, child) in item.iter_mut() {
                if key == "parameters" {
                    strip(Some(child));
                } else {
                    strip(child.get_mut("parameters"));
                }
            }
        }
    }
}

fn strip_schema_constraints(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let only_required = |branch: &Value| {
                branch
                    .as_object()
                    .is_some_and(|b| b.keys().all(|k| k == "required"))
            };
            for keyword in ["anyOf", "oneOf"] {
                if map
                    .get(keyword)
                    .and_then(Value::as_array)
                    .is_some_and(|branches| branches.iter().all(only_required))
                {
                    map.remove(keyword);
                }
            }
            if map.get("type").and_then(Value::as_str) == Some("string") {
                map.remove("pattern");
            }
            map.values_mut().for_each(strip_schema_constraints);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_schema_constraints),
        _ => {}
    }
}

/// Converts the checked value into an OpenAPI document, naming the JSON pointer of a bad node.
pub fn to_openapi(file: &Path, value: Value) -> Result<openapiv3::OpenAPI, SpecError> {
    // openapiv3 reads `paths` and component maps through flattened maps, which hide the
    // position of an error; so find the failing entry first and report its pointer.
    for (section, entry_type) in [("/paths", "path item"), ("/components/schemas", "schema")] {
        let Some(entries) = value.pointer(section).and_then(Value::as_object) else {
            continue;
        };
        for (key, entry) in entries {
            let pointer = format!("{section}/{}", key.replace('~', "~0").replace('/', "~1"));
            let outcome = if entry_type == "path item" {
                serde_path_to_error::deserialize::<_, openapiv3::PathItem>(entry).map(drop)
            } else {
                serde_path_to_error::deserialize::<_, openapiv3::Schema>(entry).map(drop)
            };
            if let Err(e) = outcome {
                let inner = e.path().to_string();
                let at = if inner == "." {
                    pointer
                } else {
                    format!("{pointer}/{}", inner.replace('.', "/"))
                };
                return Err(error(
                    file,
                    Some(at),
                    format!("not a valid OpenAPI 3.0 {entry_type}: {}", e.inner()),
                ));
            }
        }
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        error(
            file,
            Some(format!("{}", e.path())),
            format!("not a valid OpenAPI 3.0 document: {}", e.inner()),
        )
    })
}

/// Runs progenitor, catching its panics, and returns formatted Rust source.
pub fn generate(file: &Path, spec: &openapiv3::OpenAPI, api: &Api) -> Result<String, SpecError> {
    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Positional)
        .with_inner_type(
            "std::sync::Arc<crate::core::transport::Transport>"
                .parse()
                .expect("constant type path parses"),
        )
        // A forgotten `impl ClientHooks for Client` is then a compile error, not a silent no-op.
        .with_hooks(progenitor::HooksMode::Expected);
    for (schema, rust_type) in api.replacements {
        settings.with_replacement(schema, rust_type, std::iter::empty());
    }

    // progenitor and typify panic on some bad specs (a dangling reference, two response
    // schemas for one operation): caught, and silenced so that the build prints one message.
    let outcome = silently(|| {
        let mut generator = progenitor::Generator::new(&settings);
        generator.generate_tokens(spec)
    });

    let tokens = match outcome {
        Ok(Ok(tokens)) => tokens,
        Ok(Err(e)) => return Err(error(file, None, format!("progenitor rejected it: {e}"))),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            return Err(error(
                file,
                None,
                format!(
                    "progenitor failed on a construct it does not support ({message}); common \
                     causes: an operation whose success (or error) responses use different \
                     schemas, an unsupported `$ref`, or a missing operationId"
                ),
            ));
        }
    };
    Ok(format_source(tokens.to_string()))
}

thread_local! {
    static SILENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic, with the panic message of this thread silenced. The hook that
/// silences is installed once and passes every other thread's panic to the hook before it, so
/// that tests generating code in parallel neither lose each other's panic messages nor race to
/// swap the process-wide hook back.
fn silently<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !SILENT.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    SILENT.with(|silent| silent.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    SILENT.with(|silent| silent.set(false));
    outcome
}

/// Formats generated source with rustfmt when there is one (`$RUSTFMT`, else `rustfmt` on the
/// path), so the code in `OUT_DIR` reads like code; without one it stays on one line, which
/// compiles the same. rustfmt rather than prettyplease: prettyplease needs syn 2 with all its
/// features, a few seconds more on every user's clean build, for a file few people open.
fn format_source(source: String) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let child = Command::new(rustfmt)
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return source;
    };
    // rustfmt reads all its input before writing, so writing first cannot deadlock.
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(source.as_bytes()));
    match (written, child.wait_with_output()) {
        (Some(Ok(())), Ok(out)) if out.status.success() && !out.stdout.is_empty() => {
            String::from_utf8(out.stdout).unwrap_or(source)
        }
        _ => source,
    }
}

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
    [item, operation]
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
                let sensitive_path = parameters
                    .iter()
                    .any(|p| p.get("x-sensitive").and_then(Value::as_bool) == Some(true));
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

/// The whole pipeline for one API: load, check, strip, convert, generate.
///
/// Paths are relative to the crate root, which is the working directory of build scripts and
/// tests alike, so messages name the file as the user sees it.
pub fn generate_file(api: &Api) -> Result<String, SpecError> {
    let file = Path::new(api.spec);
    let mut value = load_value(file)?;
    strip_validation_only(&mut value);
    let spec = to_openapi(file, value)?;
    generate(file, &spec, api)
}
