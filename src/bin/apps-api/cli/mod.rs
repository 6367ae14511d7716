//! The `apps-api` command-line tool over the library's facade: every operation, the library's
//! errors, retries and redaction, tables or JSON, and exit codes a script can act on.

mod args;
mod cloudflare;
mod hover;
mod magic_sites;
mod output;
mod proxy;
mod sfu;
mod signals;
mod turn;

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use apps_api::cloudflare::CloudflareClient;
use apps_api::hover::HoverClient;
use apps_api::{AccountId, Error, Secret};
use clap::{CommandFactory, Parser};
use serde_json::{json, Value};

use args::{Cli, Command, Global};
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
    signals::ignore_file_size_signal();
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
    let (api, global) = match cli.command {
        Command::Fake(args) => return runtime.block_on(serve_fake(args)),
        Command::Proxy(args) => return runtime.block_on(proxy::serve(args)),
        Command::Completions { .. } => return exit(output::OK),
        Command::Calls(on) => on.split(Api::Calls),
        Command::Magic(on) => on.split(Api::Magic),
        Command::TurnKeys(on) => on.split(Api::TurnKeys),
        Command::Hover(on) => (Api::Hover(on.command), on.global),
        Command::Turn(on) => (Api::Turn(on.command), on.global),
        Command::Sfu(on) => (Api::Sfu(on.command), on.global),
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = command(api, &global) => Ok(outcome),
            code = signals::interrupted() => Err(code),
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
    match signals::INTERRUPTED.load(Ordering::SeqCst) {
        0 => exit(code),
        signal_code => {
            output::flush();
            ExitCode::from(signal_code)
        }
    }
}

/// The standalone fake: serves until Ctrl-C, after printing how to reach it.
async fn serve_fake(args: args::FakeArgs) -> ExitCode {
    let mut config = apps_api::fake::FakeConfig::new().port(args.port);
    if let Some(token) = args.cloudflare_token {
        config = config.cloudflare_token(token);
    }
    if let (Some(email), Some(key)) = (args.cloudflare_email, args.cloudflare_key) {
        config = config.cloudflare_key(email, key);
    }
    if let Some(email) = args.hover_email {
        config.hover_email = Some(email);
    }
    if let Some(password) = args.hover_password {
        config.hover_password = Some(password.into());
    }
    if let Some(quota) = args.rate_limit {
        config = config.rate_limit(quota);
    }
    if let Some(seconds) = args.hover_token_ttl {
        config = config.hover_token_ttl(std::time::Duration::from_secs(seconds));
    }
    if !args.no_media {
        config = config.media(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            args.media_port,
        )));
    }
    let fake = match apps_api::fake::FakeServer::start_with(config).await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match fake.media_address() {
        Some(media) => println!("Media (WebRTC): udp {media} (real SDP only; --no-media for none)"),
        None => println!("Media: none (any SDP is answered with SDP)"),
    }
    print!("{}", fake.banner());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

/// Writes what the command printed; a failed write turns success into exit code 1.
fn exit(code: u8) -> ExitCode {
    match (output::flush(), code) {
        (false, output::OK) => ExitCode::from(output::OTHER),
        (_, code) => ExitCode::from(code),
    }
}

/// How a command failed: as the library said, or after a create whose secret file could not
/// be written.
pub enum Failure {
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

/// A command of one of the APIs, its flags taken out.
enum Api {
    Calls(args::Calls),
    Magic(args::Magic),
    TurnKeys(args::TurnKeys),
    Hover(args::Hover),
    Turn(args::Turn),
    Sfu(args::Sfu),
}

/// Runs a command, or with `--dry-run` prepares its request and sends nothing.
async fn command(command: Api, global: &Global) -> Result<Done, Failure> {
    if !global.dry_run {
        return run(command, global).await.map(|()| Done::Ran);
    }
    match apps_api::dry_run(run(command, global)).await {
        Ok(request) => Ok(Done::Prepared(request)),
        // It ended before it had a request to prepare (an argument refused).
        Err(outcome) => outcome.map(|()| Done::Ran),
    }
}

async fn run(command: Api, global: &Global) -> Result<(), Failure> {
    match command {
        Api::Calls(command) => cloudflare::calls(command, global).await,
        Api::Magic(command) => cloudflare::magic(command, global).await,
        Api::TurnKeys(command) => cloudflare::turn_keys(command, global).await,
        Api::Hover(command) => hover::hover(command, global).await,
        Api::Turn(command) => turn::turn(command, global).await,
        Api::Sfu(command) => sfu::sfu(command, global).await,
    }
}

/// The Cloudflare client and account, from the environment with the flags' overrides.
pub fn cloudflare(global: &Global) -> Result<(CloudflareClient, AccountId), Error> {
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

pub fn hover_client(global: &Global) -> Result<HoverClient, Error> {
    let mut builder = HoverClient::builder_from_env()?;
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url);
    }
    builder.build()
}

/// Runs a command whose answer may carry one-time secrets: the secret file (if any) is made
/// before the request is sent and removed if the command fails.
pub async fn with_secrets<F, Fut>(
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
    signals::SECRET_IN_FLIGHT.store(true, Ordering::SeqCst);
    let (sink, outcome) = run(sink).await;
    match outcome {
        // The sink, dropped, removes a file that received nothing.
        Err(error) => Err(Failure::Api(error)),
        Ok(()) if sink.failure().is_some() => Err(Failure::SecretNotStored),
        Ok(()) => Ok(()),
    }
}

/// Prints what a create returned: the item under `key` and each secret beside it (JSON), or
/// the table and each secret labelled (text). Secrets that went to a file are `None` here.
pub fn print_created(
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
