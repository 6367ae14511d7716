//! What the tool prints: aligned tables for people, one JSON document for scripts (field names
//! documented in the README and stable), one-time secrets labelled or written to a file, and
//! errors with their exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use apps_api::cloudflare::calls::CallsApp;
use apps_api::cloudflare::magic::{MagicApp, MagicListItem, ManagedApp};
use apps_api::cloudflare::turn::IceServers;
use apps_api::cloudflare::turn_keys::TurnKey;
use apps_api::hover::HoverApp;
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
        _ => OTHER,
    }
}

/// How many items of a server's list a message names before "and N more".
pub const FEW: usize = 5;

/// The first [`FEW`] of `shown` (items already made safe) joined, then how many more `all`
/// holds: a message built from a server's list stays one short line however long the list.
pub fn first_few(shown: &[String], all: usize) -> String {
    let named = shown
        .iter()
        .take(FEW)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    match all.saturating_sub(shown.len().min(FEW)) {
        0 => named,
        more => format!("{named}; and {more} more"),
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
    apps_api::text::escape_controls(text)
}

/// The widest a table cell is shown, in characters (`--json` has the full value).
pub const CELL_CHARS: usize = 64;

/// What a command prints on stdout, kept until the command is over and written once by
/// [`flush`]: so that a write that fails is known (and reported, exit code 1) and the
/// one-time secrets in it can still be shown on stderr, and only they.
#[derive(Default)]
struct Pending {
    text: String,
    secrets: Vec<(String, String)>,
    /// What the secrets belong to (the created item's ID), said with them.
    owner: Option<String>,
}

static PENDING: std::sync::Mutex<Pending> = std::sync::Mutex::new(Pending {
    text: String::new(),
    secrets: Vec::new(),
    owner: None,
});

fn pending() -> std::sync::MutexGuard<'static, Pending> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Adds `text` to what goes to stdout.
pub fn emit(text: &str) {
    pending().text.push_str(text);
}

/// Records what the one-time secrets in the output belong to (the created item's ID), to say
/// with them if stdout cannot take them.
pub fn secrets_belong_to(id: &str) {
    pending().owner = Some(id.to_string());
}

/// Records that what goes to stdout holds this one-time secret: if stdout cannot take it, it
/// goes to stderr instead, labelled.
pub fn holds_secret(label: &str, value: &str) {
    pending()
        .secrets
        .push((label.to_string(), value.to_string()));
}

/// Writes what the command printed to stdout. If that fails (a closed pipe, a full disk), says
/// so on stderr with the one-time secrets the output held (and nothing else of it), and returns
/// `false`: the command then ends with exit code 1.
pub fn flush() -> bool {
    let Pending {
        text,
        secrets,
        owner,
    } = std::mem::take(&mut *pending());
    let mut stdout = std::io::stdout().lock();
    let Err(error) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    else {
        return true;
    };
    let mut report = format!("error: could not write the output to stdout: {error}\n");
    if !secrets.is_empty() {
        let of = owner
            .map(|id| format!(" (id {})", safe(&id)))
            .unwrap_or_default();
        report.push_str(&format!(
            "the request succeeded{of}; its one-time secrets, shown only this once, store them \
             now:\n"
        ));
        for (label, value) in &secrets {
            report.push_str(&secret_line(label, value));
        }
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
    false
}

/// Fails when stdout is closed, `/dev/null` (the Rust runtime reopens a closed stdout as
/// `/dev/null`, so a write there "succeeds"), `/dev/zero` or `/dev/full`: a one-time secret
/// printed there is lost. Checked before a create is sent.
pub fn check_stdout_keeps_secrets() -> Result<(), Error> {
    if stdout_discards() {
        return Err(Error::InvalidArgument(
            "stdout is closed or a device that discards what it is given (/dev/null, /dev/zero, \
             /dev/full), so the one-time secret this create returns would be lost; nothing was \
             sent (give --secret-file PATH, or send stdout to a file or a pipe)"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn stdout_discards() -> bool {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let fd = std::io::stdout().as_raw_fd();
    // A pipe whose reader is gone reports an error condition.
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a timeout of zero.
    let polled = unsafe { libc::poll(&mut poll, 1, 0) };
    if polled < 0 || poll.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
        return true;
    }
    let Ok(stdout) = std::io::stdout()
        .as_fd_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
    else {
        return true;
    };
    stdout.file_type().is_char_device()
        && ["/dev/null", "/dev/zero", "/dev/full"]
            .iter()
            .filter_map(|device| std::fs::metadata(device).ok())
            .any(|device| device.rdev() == stdout.rdev())
}

#[cfg(not(unix))]
fn stdout_discards() -> bool {
    false
}

/// A duplicate of stdout's descriptor, to look at its file without closing it.
#[cfg(unix)]
trait AsFdOwned {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd>;
}

#[cfg(unix)]
impl AsFdOwned for std::io::Stdout {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned()
    }
}

/// A line of text on stdout, made safe for a terminal.
pub fn line(text: &str) {
    emit(&(safe(text) + "\n"));
}

/// `text` cut to [`CELL_CHARS`] characters, with `…` when cut.
pub fn cell(text: &str) -> String {
    if text.chars().count() <= CELL_CHARS {
        return text.to_string();
    }
    text.chars().take(CELL_CHARS - 1).collect::<String>() + "…"
}

/// A table with aligned columns (elastic tabstops), printed on stdout. Cells are made safe
/// (which also keeps a tab or newline from breaking the columns) and cut to [`CELL_CHARS`].
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut out = tabwriter::TabWriter::new(Vec::new()).padding(2);
    let line = |cells: Vec<String>| cells.join("\t") + "\n";
    let _ = out.write_all(line(headers.iter().map(|h| h.to_string()).collect()).as_bytes());
    for row in rows {
        let _ = out.write_all(line(row.iter().map(|c| cell(&safe(c))).collect()).as_bytes());
    }
    if let Ok(bytes) = out.into_inner() {
        emit(&String::from_utf8_lossy(&bytes));
    }
}

/// A JSON document on stdout. serde escapes only U+0000 to U+001F; every other character a
/// terminal would act on or hide (DEL, C1 controls such as CSI, bidi overrides, zero-width and
/// tag characters) is written as `\uXXXX` too: still valid JSON, the same value once parsed.
pub fn json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    emit(&(escape_json_text(&text) + "\n"));
}

/// Serialised JSON with the characters [`json`] names escaped. They can only be inside
/// strings (JSON's own syntax is ASCII), where `\uXXXX` means the same character.
pub fn escape_json_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        // C0 controls are serde's to escape (inside strings); outside them, `\n` and `\t` are
        // the layout of pretty JSON.
        if c > '\u{1f}' && apps_api::text::is_hidden(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One item, as its JSON (the library's serialisation: the field names README.md documents)
/// or as a table of one row.
pub fn item<T: serde::Serialize>(
    as_json: bool,
    item: &T,
    headers: &[&str],
    row: fn(&T) -> Vec<String>,
) {
    if as_json {
        json(&value(item));
    } else {
        table(headers, &[row(item)]);
    }
}

/// Items, as a JSON array or a table.
pub fn items<T: serde::Serialize>(
    as_json: bool,
    items: &[T],
    headers: &[&str],
    row: fn(&T) -> Vec<String>,
) {
    if as_json {
        json(&value(items));
    } else {
        let rows: Vec<_> = items.iter().map(row).collect();
        table(headers, &rows);
    }
}

/// An item as JSON: the library's serialisation of it.
pub fn value<T: serde::Serialize + ?Sized>(item: &T) -> Value {
    serde_json::to_value(item).unwrap_or(Value::Null)
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

/// An account app as a list item prints it (`"kind": "account"` in JSON).
pub fn magic_account_item(app: &MagicApp) -> MagicListItem {
    MagicListItem::Account(app.clone())
}

pub fn magic_item_row(item: &MagicListItem) -> Vec<String> {
    match item {
        MagicListItem::Account(app) => magic_row(app),
        MagicListItem::Managed(app) => managed_row(app),
        _ => vec!["-".into(); MAGIC_HEADERS.len()],
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

// ----- TURN credentials -----

/// The `RTCConfiguration` (`{"iceServers": [...]}`, credentials included) and `expires_at`.
pub fn ice_json(ice: &IceServers) -> Value {
    let mut value = serde_json::to_value(ice).unwrap_or(Value::Null);
    value["expires_at"] = json!(ice.expires_at);
    value
}

// ----- Dry runs -----

/// `{"dry_run": {"operation", "method", "url", "headers": {...}, "body"}}` (the library's
/// serialisation of the request) or the request as text: method and URL, headers, then the
/// body.
pub fn dry_run(request: &PreparedRequest, as_json: bool) {
    if as_json {
        json(&json!({ "dry_run": value(request) }));
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
/// created and its secret lost), or the labelled output. A file that never received its
/// secrets (the command failed or was interrupted) is removed when the sink is dropped.
pub struct SecretSink {
    file: Option<(PathBuf, std::fs::File)>,
    /// The file holds the secrets.
    written: bool,
    /// Why the secrets could not be written after all (they went to stderr instead).
    failed: Option<String>,
}

impl SecretSink {
    /// Opens `path` for the secrets, refusing to overwrite anything; without a path, checks
    /// that stdout can hold them (when `check_stdout`).
    pub fn open(path: Option<&Path>, check_stdout: bool) -> Result<Self, Error> {
        let Some(path) = path else {
            if check_stdout {
                check_stdout_keeps_secrets()?;
            }
            return Ok(Self {
                file: None,
                written: false,
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
            written: false,
            failed: None,
        })
    }

    /// Whether the secrets go to a file (and so appear nowhere in the output).
    pub fn to_file(&self) -> bool {
        self.file.is_some()
    }

    /// Writes `secrets` (a JSON object) to the file, or does nothing without one. The create
    /// has happened: if the file cannot be written (a full disk, a file-size limit), the
    /// secrets go to stderr, labelled, rather than be lost, the half-written file is removed,
    /// and the command ends with exit code 1.
    pub fn write(&mut self, secrets: &Value) {
        let Some((path, file)) = &mut self.file else {
            return;
        };
        let text = serde_json::to_string_pretty(secrets).unwrap_or_default() + "\n";
        match file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
        {
            Ok(()) => {
                self.written = true;
                eprintln!("secret written to {} (mode 0600)", path.display());
            }
            Err(e) => {
                let _ = std::fs::remove_file(&*path);
                let mut report = format!(
                    "error: the secret file {} could not be written ({e}); the request \
                     succeeded, so here is what it returned, shown only this once, store it \
                     now:\n",
                    path.display(),
                );
                for (label, value) in secrets.as_object().into_iter().flatten() {
                    if let Some(value) = value.as_str() {
                        report.push_str(&secret_line(label, value));
                    } else if !value.is_null() {
                        report.push_str(&secret_line(label, &value.to_string()));
                    }
                }
                let _ = std::io::stderr().write_all(report.as_bytes());
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
}

impl Drop for SecretSink {
    fn drop(&mut self) {
        if let (Some((path, _)), false) = (&self.file, self.written) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Prints a one-time secret for people: once, labelled, on stdout after the table.
pub fn labelled_secret(label: &str, value: &str) {
    holds_secret(label, value);
    emit("\n");
    emit(&secret_line(label, value));
}

/// A one-time secret, labelled, exactly as it is: as itself, or, when it holds characters a
/// terminal would act on or hide, as a JSON string that says so (never altered silently).
pub fn secret_line(label: &str, value: &str) -> String {
    if value.chars().any(apps_api::text::is_hidden) {
        let quoted = escape_json_text(&serde_json::to_string(value).unwrap_or_default());
        format!(
            "{label} (shown only this once, store it now; written as a JSON string because it \
             holds control characters): {quoted}\n"
        )
    } else {
        format!("{label} (shown only this once, store it now): {value}\n")
    }
}
