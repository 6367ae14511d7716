//! What the tool prints: aligned tables for people, one JSON document for scripts (field names
//! documented in the README and stable), one-time secrets labelled or written to a file, and
//! errors with their exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use apps_api::cloudflare::calls::CallsApp;
use apps_api::cloudflare::magic::{MagicApp, MagicListItem, ManagedApp};
use apps_api::cloudflare::turn::{IceServers, TurnKey};
use apps_api::hover::{Archived, HoverApp};
use apps_api::{Error, PreparedRequest};
use serde_json::{json, Value};

/// Exit codes, as documented in `--help` and the README.
pub const OK: u8 = 0;
pub const OTHER: u8 = 1;
pub const USAGE: u8 = 2;
pub const AUTH: u8 = 3;
pub const NOT_FOUND: u8 = 4;
pub const RATE_LIMITED_OR_TIMED_OUT: u8 = 5;

/// The exit code for an error.
pub fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Auth(_) => AUTH,
        Error::NotFound(_) => NOT_FOUND,
        Error::RateLimited(_) | Error::Timeout { .. } => RATE_LIMITED_OR_TIMED_OUT,
        Error::InvalidArgument(_) | Error::Config(_) => USAGE,
        Error::DryRun(_) => OK,
        _ => OTHER,
    }
}

/// Prints an error on stderr as the library's `Display` says it (one line, `cf-ray` included).
pub fn report(error: &Error) {
    eprintln!("error: {error}");
}

/// Server text made safe for a terminal: control characters (escape sequences that move the
/// cursor, set the title or write the clipboard) and invisible ones (bidi overrides, zero-width
/// characters) written as escapes. The library does this for error text; table cells and
/// printed values come from models, so the tool does it for them.
pub fn safe(text: &str) -> String {
    // The same escapes as the library's error text: one list of what to escape.
    apps_api::__cli::escape_controls(text)
}

/// Writes `text` to stdout; if stdout is closed (a pipe whose reader left), to stderr, so
/// that nothing, least of all a one-time secret, is lost to a panic on a broken pipe.
pub fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
}

/// A line of text on stdout, made safe for a terminal.
pub fn line(text: &str) {
    emit(&(safe(text) + "\n"));
}

/// A table with aligned columns (elastic tabstops), printed on stdout. Cells are made safe
/// (which also keeps a tab or newline from breaking the columns).
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut out = tabwriter::TabWriter::new(Vec::new()).padding(2);
    let line = |cells: Vec<String>| cells.join("\t") + "\n";
    let _ = out.write_all(line(headers.iter().map(|h| h.to_string()).collect()).as_bytes());
    for row in rows {
        let _ = out.write_all(line(row.iter().map(|c| safe(c)).collect()).as_bytes());
    }
    if let Ok(bytes) = out.into_inner() {
        emit(&String::from_utf8_lossy(&bytes));
    }
}

/// A JSON document on stdout (serde escapes every control character).
pub fn json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    emit(&(text + "\n"));
}

fn time(value: Option<chrono::DateTime<chrono::Utc>>) -> String {
    value.map_or("-".into(), |t| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

fn text(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}

// ----- Calls apps -----

pub const CALLS_HEADERS: &[&str] = &["ID", "NAME", "CREATED", "MODIFIED"];

pub fn calls_row(app: &CallsApp) -> Vec<String> {
    vec![
        text(app.id.as_ref().map(|id| id.as_str())),
        text(app.name.as_deref()),
        time(app.created),
        time(app.modified),
    ]
}

/// `{"id", "name", "created", "modified"}`.
pub fn calls_json(app: &CallsApp) -> Value {
    json!({"id": app.id, "name": app.name, "created": app.created, "modified": app.modified})
}

// ----- TURN keys -----

pub const TURN_KEY_HEADERS: &[&str] = &["ID", "NAME", "CREATED", "MODIFIED"];

pub fn turn_key_row(key: &TurnKey) -> Vec<String> {
    vec![
        text(key.id.as_ref().map(|id| id.as_str())),
        text(key.name.as_deref()),
        time(key.created),
        time(key.modified),
    ]
}

/// `{"id", "name", "created", "modified"}`.
pub fn turn_key_json(key: &TurnKey) -> Value {
    json!({"id": key.id, "name": key.name, "created": key.created, "modified": key.modified})
}

// ----- Magic apps -----

pub const MAGIC_HEADERS: &[&str] = &[
    "ID",
    "KIND",
    "NAME",
    "TYPE",
    "HOSTNAMES",
    "IP_SUBNETS",
    "SOURCE_SUBNETS",
];

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

pub fn magic_row(app: &MagicApp) -> Vec<String> {
    vec![
        app.id.to_string(),
        "account".into(),
        text(app.name.as_deref()),
        text(app.app_type.as_deref()),
        list(&app.hostnames),
        list(&app.ip_subnets),
        list(&app.source_subnets),
    ]
}

fn managed_row(app: &ManagedApp) -> Vec<String> {
    vec![
        app.id.clone(),
        "managed".into(),
        text(app.name.as_deref()),
        text(app.app_type.as_deref()),
        list(&app.hostnames),
        list(&app.ip_subnets),
        list(&app.source_subnets),
    ]
}

pub fn magic_item_row(item: &MagicListItem) -> Vec<String> {
    match item {
        MagicListItem::Account(app) => magic_row(app),
        MagicListItem::Managed(app) => managed_row(app),
        _ => vec!["-".into(); MAGIC_HEADERS.len()],
    }
}

/// `{"id", "kind": "account", "name", "type", "hostnames", "ip_subnets", "source_subnets"}`.
pub fn magic_json(app: &MagicApp) -> Value {
    json!({
        "id": app.id,
        "kind": "account",
        "name": app.name,
        "type": app.app_type,
        "hostnames": app.hostnames,
        "ip_subnets": app.ip_subnets,
        "source_subnets": app.source_subnets,
    })
}

/// As [`magic_json`], `"kind": "managed"` for the apps Cloudflare manages.
pub fn magic_item_json(item: &MagicListItem) -> Value {
    match item {
        MagicListItem::Account(app) => magic_json(app),
        MagicListItem::Managed(app) => json!({
            "id": app.id,
            "kind": "managed",
            "name": app.name,
            "type": app.app_type,
            "hostnames": app.hostnames,
            "ip_subnets": app.ip_subnets,
            "source_subnets": app.source_subnets,
        }),
        _ => Value::Null,
    }
}

// ----- Hover apps -----

pub const HOVER_HEADERS: &[&str] = &["ID", "NAME", "PACKAGE", "WEBHOOK_URL", "ARCHIVED_AT"];

pub fn hover_row(app: &HoverApp) -> Vec<String> {
    vec![
        app.id.to_string(),
        app.name.clone(),
        app.package_name.clone(),
        text(app.webhook_url.as_deref()),
        time(app.archived_at),
    ]
}

/// The app without its secrets (`token`, `webhook_secret`), which only create shows:
/// `{"id", "name", "package_name", "icon", "webhook_url", "organization_id", "created_at",
/// "updated_at", "archived_at", "transactions_count", "is_tester", "apk_url"}`.
pub fn hover_json(app: &HoverApp) -> Value {
    json!({
        "id": app.id,
        "name": app.name,
        "package_name": app.package_name,
        "icon": app.icon,
        "webhook_url": app.webhook_url,
        "organization_id": app.organization_id,
        "created_at": app.created_at,
        "updated_at": app.updated_at,
        "archived_at": app.archived_at,
        "transactions_count": app.transactions_count,
        "is_tester": app.is_tester,
        "apk_url": app.apk_url,
    })
}

/// `{"id", "archived"}`.
pub fn archived_json(archived: &Archived) -> Value {
    json!({"id": archived.id, "archived": archived.archived})
}

// ----- TURN credentials -----

/// The `RTCConfiguration` (`{"iceServers": [...]}`, credentials included) and `expires_at`.
pub fn ice_json(ice: &IceServers) -> Value {
    let mut value = serde_json::to_value(ice).unwrap_or(Value::Null);
    value["expires_at"] = json!(ice.expires_at);
    value
}

// ----- Dry runs -----

/// `{"dry_run": {"operation", "method", "url", "headers": {...}, "body"}}` or the request as
/// text: method and URL, headers, then the body.
pub fn dry_run(request: &PreparedRequest, as_json: bool) {
    if as_json {
        let headers: serde_json::Map<String, Value> = request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect();
        let body = request
            .body
            .as_deref()
            .map(|b| serde_json::from_str(b).unwrap_or_else(|_| json!(b)));
        json(&json!({"dry_run": {
            "operation": request.operation,
            "method": request.method,
            "url": request.url,
            "headers": headers,
            "body": body,
        }}));
        return;
    }
    line(&format!("{} {}", request.method, request.url));
    for (name, value) in &request.headers {
        line(&format!("{name}: {value}"));
    }
    if let Some(body) = &request.body {
        line("");
        line(body);
    }
    eprintln!("(dry run: nothing was sent)");
}

// ----- One-time secrets -----

/// Where a command's one-time secrets go: a new file of mode 0600, opened before the request
/// is sent (so a file that exists, or cannot be made, stops the command before anything is
/// created and its secret lost), or the labelled output.
pub struct SecretSink {
    file: Option<(PathBuf, std::fs::File)>,
    /// Why the secrets could not be written after all (they went to stderr instead).
    failed: Option<String>,
}

impl SecretSink {
    /// Opens `path` for the secrets, refusing to overwrite anything.
    pub fn open(path: Option<&Path>) -> Result<Self, Error> {
        let Some(path) = path else {
            return Ok(Self {
                file: None,
                failed: None,
            });
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| {
            Error::InvalidArgument(format!(
                "cannot create the secret file {}: {e} (it is never overwritten)",
                path.display()
            ))
        })?;
        Ok(Self {
            file: Some((path.to_path_buf(), file)),
            failed: None,
        })
    }

    /// Whether the secrets go to a file (and so appear nowhere in the output).
    pub fn to_file(&self) -> bool {
        self.file.is_some()
    }

    /// Writes `secrets` (a JSON object) to the file, or does nothing without one. The create
    /// has happened: if the file cannot be written (a full disk), the secrets go to stderr,
    /// labelled, rather than be lost, the half-written file is removed, and the command ends
    /// with exit code 1.
    pub fn write(&mut self, secrets: &Value) {
        let Some((path, file)) = &mut self.file else {
            return;
        };
        let text = serde_json::to_string_pretty(secrets).unwrap_or_default() + "\n";
        match file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
        {
            Ok(()) => eprintln!("secret written to {} (mode 0600)", path.display()),
            Err(e) => {
                let _ = std::fs::remove_file(&*path);
                eprintln!(
                    "error: the secret file {} could not be written ({e}); the request \
                     succeeded, so here is what it returned, shown only this once, store it \
                     now:\n{}",
                    path.display(),
                    safe(&text)
                );
                self.failed = Some(format!(
                    "the secret file {} could not be written",
                    path.display()
                ));
            }
        }
    }

    /// Why the secrets could not be written, if they could not.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// After a failed command: the file holds nothing, so it is removed.
    pub fn discard(self) {
        if let Some((path, file)) = self.file {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Prints a one-time secret for people: once, labelled, on stdout after the table.
pub fn labelled_secret(label: &str, value: &str) {
    line("");
    line(&format!(
        "{label} (shown only this once, store it now): {value}"
    ));
}
