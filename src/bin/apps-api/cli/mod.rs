//! The `apps-api` command-line tool over the library's facade: every operation, the library's
//! errors, retries and redaction, tables or JSON, and exit codes a script can act on.

mod args;
mod output;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use apps_api::cloudflare::magic::{MagicAppChanges, NewMagicApp};
use apps_api::cloudflare::turn::TurnCredentials;
use apps_api::cloudflare::CloudflareClient;
use apps_api::hover::{HoverAppChanges, HoverClient, NewHoverApp};
use apps_api::{
    AccountId, CallsAppId, Error, HoverAppId, MagicAppId, Secret, TurnKeyId, TurnUsername,
};
use clap::{CommandFactory, Parser};
use serde_json::{json, Value};

use args::{Calls, Cli, Command, Global, Hover, Magic, MagicFields, Turn, TurnKeys};
use output::SecretSink;

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are not errors; everything else is a usage error (2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                output::USAGE
            } else {
                output::OK
            });
        }
    };
    ignore_file_size_signal();
    if let Command::Completions { shell } = &cli.command {
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "apps-api", &mut script);
        output::emit(&String::from_utf8_lossy(&script));
        return exit(output::OK);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Fake { args } = cli.command {
        return runtime.block_on(apps_api::fake::run_standalone(args));
    }
    let global = cli.global.clone();
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = command(cli.command, &global) => Ok(outcome),
            code = interrupted() => Err(code),
        }
    });
    let code = match outcome {
        Ok(Ok(Done::Ran)) => output::OK,
        Ok(Ok(Done::Prepared(request))) => {
            output::dry_run(&request, global.json);
            output::OK
        }
        Ok(Err(Failure::Api(error))) => {
            output::report(&error);
            output::exit_code(&error)
        }
        // Already said on stderr, with the secret.
        Ok(Err(Failure::SecretNotStored)) => output::OTHER,
        Err(code) => return ExitCode::from(code),
    };
    // A signal that arrived while a create was in flight is honoured now, its result written.
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => exit(code),
        signal_code => {
            output::flush();
            ExitCode::from(signal_code)
        }
    }
}

/// Writes what the command printed; a failed write turns success into exit code 1.
fn exit(code: u8) -> ExitCode {
    match (output::flush(), code) {
        (false, output::OK) => ExitCode::from(output::OTHER),
        (_, code) => ExitCode::from(code),
    }
}

/// Set once a request that returns a one-time secret may have been sent: from then on the
/// first Ctrl-C or SIGTERM waits for its result to be written.
static SECRET_IN_FLIGHT: AtomicBool = AtomicBool::new(false);

/// The exit code of a signal that arrived while a one-time secret was in flight (0: none).
static INTERRUPTED: AtomicU8 = AtomicU8::new(0);

/// Ends when the command must stop: at the first Ctrl-C (exit code 130) or SIGTERM (143), or,
/// once a one-time secret may be in flight, at the second. The first then only says that the
/// command finishes writing what the create returned.
async fn interrupted() -> u8 {
    // Streams made once: a signal between two `ctrl_c()` futures would be missed. A closed
    // terminal (SIGHUP) or SIGQUIT would kill the process as surely as SIGTERM.
    #[cfg(unix)]
    let mut streams = {
        use tokio::signal::unix::{signal, SignalKind};
        [
            (signal(SignalKind::interrupt()).ok(), 130),
            (signal(SignalKind::terminate()).ok(), 143),
            (signal(SignalKind::hangup()).ok(), 129),
            (signal(SignalKind::quit()).ok(), 131),
        ]
    };
    loop {
        #[cfg(unix)]
        let code = {
            let [int, term, hup, quit] = &mut streams;
            tokio::select! {
                Some(()) = async { int.0.as_mut()?.recv().await } => int.1,
                Some(()) = async { term.0.as_mut()?.recv().await } => term.1,
                Some(()) = async { hup.0.as_mut()?.recv().await } => hup.1,
                Some(()) = async { quit.0.as_mut()?.recv().await } => quit.1,
            // No signal handling to be had: nothing interrupts the command but the default.
            else => std::future::pending::<u8>().await,
            }
        };
        #[cfg(not(unix))]
        let code = {
            let _ = tokio::signal::ctrl_c().await;
            130
        };
        if !SECRET_IN_FLIGHT.load(Ordering::SeqCst) {
            return code;
        }
        if INTERRUPTED.swap(code, Ordering::SeqCst) != 0 {
            eprintln!(
                "error: interrupted again: the create was abandoned; it may have taken effect, \
                 and the one-time secret it returned is lost (list the apps to check)"
            );
            return code;
        }
        eprintln!(
            "interrupted: finishing the create first, so that its one-time secret is not lost \
             (interrupt again to abandon it)"
        );
    }
}

/// A write past a file-size limit (`ulimit -f`) kills the process with SIGXFSZ by default,
/// after the create and before its secret is stored; ignored, the write fails with an error
/// and the secret goes to stderr instead.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: setting a standard signal's disposition to "ignore" before any other thread runs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// How a command failed: as the library said, or after a create whose secret file could not
/// be written.
enum Failure {
    Api(Error),
    SecretNotStored,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Api(error)
    }
}

/// What a command came to.
enum Done {
    Ran,
    /// With `--dry-run`: the request it would have sent.
    Prepared(apps_api::PreparedRequest),
}

/// Runs a command, or with `--dry-run` prepares its request and sends nothing.
async fn command(command: Command, global: &Global) -> Result<Done, Failure> {
    if !global.dry_run {
        return run(command, global).await.map(|()| Done::Ran);
    }
    match apps_api::dry_run(run(command, global)).await {
        Ok(request) => Ok(Done::Prepared(request)),
        // It ended before it had a request to prepare (an argument refused).
        Err(outcome) => outcome.map(|()| Done::Ran),
    }
}

async fn run(command: Command, global: &Global) -> Result<(), Failure> {
    match command {
        Command::Calls(command) => calls(command, global).await,
        Command::Magic(command) => magic(command, global).await,
        Command::Hover(command) => hover(command, global).await,
        Command::TurnKeys(command) => turn_keys(command, global).await,
        Command::Turn(command) => turn(command, global).await,
        Command::Fake { .. } | Command::Completions { .. } => Ok(()),
    }
}

/// The Cloudflare client and account, from the environment with the flags' overrides.
fn cloudflare(global: &Global) -> Result<(CloudflareClient, AccountId), Error> {
    let mut builder = CloudflareClient::builder_from_env()?;
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url);
    }
    if let Some(account) = &global.account {
        builder = builder.default_account(account.as_str());
    }
    let client = builder.build()?;
    let account = client.default_account().map_err(|_| {
        Error::Config("CLOUDFLARE_ACCOUNT_ID is not set (or pass --account)".into())
    })?;
    Ok((client, account))
}

fn hover_client(global: &Global) -> Result<HoverClient, Error> {
    let mut builder = HoverClient::builder_from_env()?;
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url);
    }
    builder.build()
}

/// Runs a command whose answer may carry one-time secrets: the secret file (if any) is made
/// before the request is sent and removed if the command fails.
async fn with_secrets<F, Fut>(
    path: Option<&std::path::Path>,
    global: &Global,
    run: F,
) -> Result<(), Failure>
where
    F: FnOnce(SecretSink) -> Fut,
    Fut: std::future::Future<Output = (SecretSink, Result<(), Error>)>,
{
    // A dry run sends nothing, so no secret can come back: no file, no check of stdout.
    let path = path.filter(|_| !global.dry_run);
    let sink = SecretSink::open(path, !global.dry_run)?;
    SECRET_IN_FLIGHT.store(true, Ordering::SeqCst);
    let (sink, outcome) = run(sink).await;
    match outcome {
        // The sink, dropped, removes a file that received nothing.
        Err(error) => Err(Failure::Api(error)),
        Ok(()) if sink.failure().is_some() => Err(Failure::SecretNotStored),
        Ok(()) => Ok(()),
    }
}

async fn calls(command: Calls, global: &Global) -> Result<(), Failure> {
    let (cf, account) = cloudflare(global)?;
    let calls = cf.calls(account);
    let single = |app: &apps_api::cloudflare::calls::CallsApp| {
        output::item(global.json, app, output::CALLS_HEADERS, output::calls_row)
    };
    match command {
        Calls::List => output::items(
            global.json,
            &calls.list().await?,
            output::CALLS_HEADERS,
            output::calls_row,
        ),
        Calls::Get { app_id } => single(&calls.get(&CallsAppId::parse(app_id)?).await?),
        Calls::Update { app_id, name } => single(
            &calls
                .update(&CallsAppId::parse(app_id)?, name.as_deref())
                .await?,
        ),
        Calls::Delete { app_id } => single(&calls.delete(&CallsAppId::parse(app_id)?).await?),
        Calls::Create { name, secret } => {
            return with_secrets(
                secret.secret_file.as_deref(),
                global,
                |mut sink| async move {
                    let outcome = async {
                        let created = calls.create(name.as_deref()).await?;
                        sink.write(&json!({"secret": created.secret.expose()}));
                        let secret = (!sink.to_file()).then_some(&created.secret);
                        print_created(
                            global,
                            output::value(&created.app),
                            "app",
                            &[("secret", secret)],
                            || {
                                output::table(
                                    output::CALLS_HEADERS,
                                    &[output::calls_row(&created.app)],
                                )
                            },
                        );
                        Ok(())
                    }
                    .await;
                    (sink, outcome)
                },
            )
            .await;
        }
    }
    Ok(())
}

/// Prints what a create returned: the item under `key` and each secret beside it (JSON), or
/// the table and each secret labelled (text). Secrets that went to a file are `None` here.
fn print_created(
    global: &Global,
    item: Value,
    key: &str,
    secrets: &[(&str, Option<&Secret>)],
    table: impl FnOnce(),
) {
    match &item["id"] {
        Value::String(id) => output::secrets_belong_to(id),
        Value::Number(id) => output::secrets_belong_to(&id.to_string()),
        _ => {}
    }
    if global.json {
        let mut document = json!({ key: item });
        for (name, secret) in secrets {
            if let Some(secret) = secret {
                document[*name] = json!(secret.expose());
                output::holds_secret(name, secret.expose());
            }
        }
        output::json(&document);
    } else {
        table();
        for (name, secret) in secrets {
            if let Some(secret) = secret {
                output::labelled_secret(name, secret.expose());
            }
        }
    }
}

fn magic_body(fields: &MagicFields) -> MagicAppChanges {
    let mut changes = MagicAppChanges::new();
    if let Some(name) = &fields.name {
        changes = changes.name(name);
    }
    if let Some(app_type) = &fields.app_type {
        changes = changes.app_type(app_type);
    }
    if !fields.hostnames.is_empty() {
        changes = changes.hostnames(fields.hostnames.clone());
    }
    if !fields.ip_subnets.is_empty() {
        changes = changes.ip_subnets(fields.ip_subnets.clone());
    }
    if !fields.source_subnets.is_empty() {
        changes = changes.source_subnets(fields.source_subnets.clone());
    }
    changes
}

async fn magic(command: Magic, global: &Global) -> Result<(), Failure> {
    let (cf, account) = cloudflare(global)?;
    let magic = cf.magic(account);
    let single = |app: &apps_api::cloudflare::magic::MagicApp| {
        let item = output::magic_account_item(app);
        output::item(
            global.json,
            &item,
            output::MAGIC_HEADERS,
            output::magic_item_row,
        )
    };
    match command {
        Magic::List => output::items(
            global.json,
            &magic.list().await?,
            output::MAGIC_HEADERS,
            output::magic_item_row,
        ),
        Magic::Create(fields) => {
            let (Some(name), Some(app_type)) = (&fields.name, &fields.app_type) else {
                return Err(
                    Error::InvalidArgument("magic create needs --name and --type".into()).into(),
                );
            };
            let mut new = NewMagicApp::new(name, app_type);
            if !fields.hostnames.is_empty() {
                new = new.hostnames(fields.hostnames.clone());
            }
            if !fields.ip_subnets.is_empty() {
                new = new.ip_subnets(fields.ip_subnets.clone());
            }
            if !fields.source_subnets.is_empty() {
                new = new.source_subnets(fields.source_subnets.clone());
            }
            single(&magic.create(&new).await?);
        }
        Magic::Update { app_id, fields } => single(
            &magic
                .update(&MagicAppId::parse(app_id)?, &magic_body(&fields))
                .await?,
        ),
        Magic::Patch { app_id, fields } => single(
            &magic
                .patch(&MagicAppId::parse(app_id)?, &magic_body(&fields))
                .await?,
        ),
        Magic::Delete { app_id } => single(&magic.delete(&MagicAppId::parse(app_id)?).await?),
    }
    Ok(())
}

async fn hover(command: Hover, global: &Global) -> Result<(), Failure> {
    let hover = hover_client(global)?;
    let apps = hover.apps();
    let single = |app: &apps_api::hover::HoverApp| {
        output::item(global.json, app, output::HOVER_HEADERS, output::hover_row)
    };
    match command {
        Hover::Create {
            name,
            package_name,
            webhook_url,
            secret,
        } => {
            return with_secrets(
                secret.secret_file.as_deref(),
                global,
                |mut sink| async move {
                    let outcome = async {
                        let mut new = NewHoverApp::new(name, package_name);
                        if let Some(url) = webhook_url {
                            new = new.webhook_url(url);
                        }
                        let app = apps.create(&new).await?;
                        sink.write(&json!({
                            "token": app.token.as_ref().map(Secret::expose),
                            "webhook_secret": app.webhook_secret.as_ref().map(Secret::expose),
                        }));
                        let shown = |secret: &Option<Secret>| {
                            if sink.to_file() {
                                None
                            } else {
                                secret.clone()
                            }
                        };
                        let (token, webhook_secret) =
                            (shown(&app.token), shown(&app.webhook_secret));
                        print_created(
                            global,
                            output::value(&app),
                            "app",
                            &[
                                ("token", token.as_ref()),
                                ("webhook_secret", webhook_secret.as_ref()),
                            ],
                            || output::table(output::HOVER_HEADERS, &[output::hover_row(&app)]),
                        );
                        Ok(())
                    }
                    .await;
                    (sink, outcome)
                },
            )
            .await;
        }
        Hover::Get { id } => single(&apps.get(&HoverAppId::parse(id)?).await?),
        Hover::Update {
            id,
            name,
            package_name,
            webhook_url,
            clear_webhook_url,
        } => {
            let mut changes = HoverAppChanges::new();
            if let Some(name) = name {
                changes = changes.name(name);
            }
            if let Some(package) = package_name {
                changes = changes.package_name(package);
            }
            if let Some(url) = webhook_url {
                changes = changes.webhook_url(url);
            }
            if clear_webhook_url {
                changes = changes.clear_webhook_url();
            }
            single(&apps.update(&HoverAppId::parse(id)?, &changes).await?)
        }
        Hover::Archive { id } => {
            let archived = apps.archive(&HoverAppId::parse(id)?).await?;
            output::item(global.json, &archived, &["ID", "ARCHIVED"], |a| {
                vec![a.id.to_string(), a.archived.to_string()]
            });
        }
        Hover::Restore { id } => single(&apps.restore(&HoverAppId::parse(id)?).await?),
    }
    Ok(())
}

async fn turn_keys(command: TurnKeys, global: &Global) -> Result<(), Failure> {
    let (cf, account) = cloudflare(global)?;
    let keys = cf.turn_keys(account);
    let single = |key: &apps_api::cloudflare::turn_keys::TurnKey| {
        output::item(
            global.json,
            key,
            output::TURN_KEY_HEADERS,
            output::turn_key_row,
        )
    };
    match command {
        TurnKeys::List => output::items(
            global.json,
            &keys.list().await?,
            output::TURN_KEY_HEADERS,
            output::turn_key_row,
        ),
        TurnKeys::Get { key_id } => single(&keys.get(&TurnKeyId::parse(key_id)?).await?),
        TurnKeys::Update { key_id, name } => single(
            &keys
                .update(&TurnKeyId::parse(key_id)?, name.as_deref())
                .await?,
        ),
        TurnKeys::Delete { key_id } => single(&keys.delete(&TurnKeyId::parse(key_id)?).await?),
        TurnKeys::Create { name, secret } => {
            return with_secrets(
                secret.secret_file.as_deref(),
                global,
                |mut sink| async move {
                    let outcome = async {
                        let created = keys.create(name.as_deref()).await?;
                        sink.write(&json!({"key": created.key.expose()}));
                        let key = (!sink.to_file()).then_some(&created.key);
                        print_created(
                            global,
                            output::value(&created.turn_key),
                            "turn_key",
                            &[("key", key)],
                            || {
                                output::table(
                                    output::TURN_KEY_HEADERS,
                                    &[output::turn_key_row(&created.turn_key)],
                                )
                            },
                        );
                        Ok(())
                    }
                    .await;
                    (sink, outcome)
                },
            )
            .await;
        }
    }
    Ok(())
}

/// The TURN key's token: from `--key-file`, else `CLOUDFLARE_TURN_KEY` (never a flag's value,
/// which other users of the machine could read in the process list).
fn turn_key_token(key_file: Option<&std::path::Path>) -> Result<Secret, Error> {
    if let Some(path) = key_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!("cannot read the key file {}: {e}", path.display()))
        })?;
        // The file `turn-keys create --secret-file` writes, or the bare token.
        let token = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| text.trim().to_string());
        return Ok(Secret::new(token));
    }
    match std::env::var("CLOUDFLARE_TURN_KEY") {
        Ok(token) if !token.trim().is_empty() => Ok(Secret::new(token.trim())),
        _ => Err(Error::Config(
            "CLOUDFLARE_TURN_KEY is not set (or pass --key-file)".into(),
        )),
    }
}

/// The TURN username to revoke: from `--username-file` (the JSON `turn credentials` writes,
/// with `--secret-file` or `--json`, or the bare username), else from stdin, which must not be
/// a terminal (it would echo the username). Never an argument: the username names the
/// allocation, and argv is readable by every user of the machine (`ps`, `/proc/*/cmdline`).
/// At most 64 KiB are read.
async fn turn_username(file: Option<std::path::PathBuf>) -> Result<String, Error> {
    const LIMIT: u64 = 64 * 1024;
    let read = tokio::task::spawn_blocking(move || {
        use std::io::{IsTerminal, Read};
        let mut text = String::new();
        let read = match &file {
            Some(path) => std::fs::File::open(path)
                .and_then(|f| f.take(LIMIT).read_to_string(&mut text))
                .map_err(|e| format!("cannot read the username file {}: {e}", path.display())),
            None if std::io::stdin().is_terminal() => Err(
                "give the TURN username on stdin from a pipe or a file (`< creds.json`), or with \
                 --username-file; it is not read from a terminal, which would show it"
                    .to_string(),
            ),
            None => std::io::stdin()
                .lock()
                .take(LIMIT)
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the username from stdin: {e}")),
        };
        read.map(|_| text)
    })
    .await
    .map_err(|e| Error::Config(format!("cannot read the username: {e}")))?;
    let text = read.map_err(Error::Config)?;
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        v["iceServers"]
            .as_array()?
            .iter()
            .find_map(|s| s["username"].as_str().map(str::to_owned))
    });
    let username = from_json.unwrap_or_else(|| text.trim().to_string());
    if username.is_empty() {
        return Err(Error::InvalidArgument(
            "no TURN username: give it on stdin or with --username-file".into(),
        ));
    }
    Ok(username)
}

fn turn_client(
    key_id: String,
    key_file: Option<&std::path::Path>,
    global: &Global,
) -> Result<TurnCredentials, Error> {
    let key_id = TurnKeyId::parse(key_id)?;
    let mut builder = TurnCredentials::builder(key_id, turn_key_token(key_file)?);
    let base_url = global.base_url.clone().or_else(|| {
        std::env::var("CLOUDFLARE_REALTIME_BASE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
    });
    if let Some(url) = base_url {
        builder = builder.base_url(url);
    }
    builder.build()
}

async fn turn(command: Turn, global: &Global) -> Result<(), Failure> {
    match command {
        Turn::Credentials {
            key_id,
            ttl,
            key_file,
            keep_port_53,
            secret,
        } => {
            let turn = turn_client(key_id, key_file.as_deref(), global)?;
            with_secrets(
                secret.secret_file.as_deref(),
                global,
                |mut sink| async move {
                    let outcome = async {
                        let mut ice = turn.ice_servers(ttl).await?;
                        if !keep_port_53 {
                            ice = ice.without_port_53();
                        }
                        sink.write(&output::ice_json(&ice));
                        if sink.to_file() {
                            if global.json {
                                output::json(&json!({"expires_at": ice.expires_at}));
                            } else {
                                output::line(&format!("expires at {}", ice.expires_at));
                            }
                        } else if global.json {
                            // The credential is what this command is for: it is the output.
                            if let Some(server) =
                                ice.ice_servers.iter().find(|s| s.username.is_some())
                            {
                                for (label, value) in [
                                    ("username", &server.username),
                                    ("credential", &server.credential),
                                ] {
                                    if let Some(value) = value {
                                        output::holds_secret(label, value.expose());
                                    }
                                }
                            }
                            output::json(&output::ice_json(&ice));
                        } else {
                            for server in &ice.ice_servers {
                                for url in &server.urls {
                                    output::line(url);
                                }
                            }
                            if let Some(server) =
                                ice.ice_servers.iter().find(|s| s.username.is_some())
                            {
                                for (label, value) in [
                                    ("username", &server.username),
                                    ("credential", &server.credential),
                                ] {
                                    if let Some(value) = value {
                                        output::labelled_secret(label, value.expose());
                                    }
                                }
                            }
                            output::line("");
                            output::line(&format!("expires at {}", ice.expires_at));
                        }
                        Ok(())
                    }
                    .await;
                    (sink, outcome)
                },
            )
            .await
        }
        Turn::Revoke {
            key_id,
            username_file,
            key_file,
        } => {
            let turn = turn_client(key_id, key_file.as_deref(), global)?;
            let username = turn_username(username_file).await?;
            turn.revoke(&TurnUsername::parse(username)?).await?;
            if global.json {
                output::json(&json!({"revoked": true}));
            } else {
                output::line("revoked");
            }
            Ok(())
        }
    }
}
