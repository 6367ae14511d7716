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

mod clients;
mod table;
// build.rs and the tests that include this file each use some of these.
#[allow(unused_imports)]
pub use {
    clients::clients,
    table::{operation_table, operations, Operation},
};

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
            "crate::core::request::Call"
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
    Ok(format_source(without_api_version(
        file,
        tokens.to_string(),
    )?))
}

/// The generated source without the `api-version` header progenitor adds to every request
/// (from `info.version`; no API here defines the header): each request then builds no header
/// map of its own. Matched without regard to whitespace (progenitor's tokens are printed with
/// spaces, rustfmt's output without); a header it cannot take out fails the build, rather than
/// being sent.
pub fn without_api_version(file: &Path, source: String) -> Result<String, SpecError> {
    const MARKER: &str = "\"api-version\"";
    const STATEMENT: &str = "header_map.append(::reqwest::header::HeaderName::from_static(";
    let unknown = || {
        error(
            file,
            None,
            "progenitor's api-version header is written in a way codegen does not know",
        )
    };
    let squeezed = |text: &str| -> String { text.split_whitespace().collect() };
    let mut out = String::with_capacity(source.len());
    let mut rest = source.as_str();
    while let Some(at) = rest.find(MARKER) {
        let start = rest[..at].rfind("header_map").ok_or_else(unknown)?;
        let end = rest[at..]
            .find(';')
            .map(|end| at + end + 1)
            .ok_or_else(unknown)?;
        if squeezed(&rest[start..at]) != STATEMENT {
            return Err(unknown());
        }
        out.push_str(&rest[..start]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    // The map is then empty unless the operation has header parameters.
    let capacity_one = [
        ":: reqwest :: header :: HeaderMap :: with_capacity (1usize)",
        "::reqwest::header::HeaderMap::with_capacity(1usize)",
    ];
    for form in capacity_one {
        out = out.replace(form, "::reqwest::header::HeaderMap::new()");
    }
    Ok(out)
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
