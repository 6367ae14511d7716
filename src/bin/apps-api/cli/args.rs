//! The command line, as clap parses it. Every command's `--help` ends with an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Manage Cloudflare Calls apps, TURN keys and credentials, Cloudflare Magic account apps and
/// Hover apps from the shell; or serve a fake of all of them.
#[derive(Parser, Debug)]
#[command(
    name = "apps-api",
    version,
    after_help = "\
Configuration comes from the environment, as the library's from_env() reads it:
  CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL), CLOUDFLARE_ACCOUNT_ID,
  CLOUDFLARE_BASE_URL, CLOUDFLARE_REALTIME_BASE_URL, CLOUDFLARE_TURN_KEY,
  CLOUDFLARE_CALLS_APP_ID + CLOUDFLARE_CALLS_APP_SECRET (sfu),
  HOVER_API_TOKEN (or HOVER_EMAIL + HOVER_PASSWORD), HOVER_BASE_URL.
--account, --app-id and --base-url override them.

Output: a table by default; with --json, one JSON document on stdout and nothing else.
Errors go to stderr. Exit codes: 0 ok, 1 other API or transport error, 2 usage or
configuration, 3 authentication, 4 not found, 5 rate limited or timed out.

Examples:
  apps-api calls list
  apps-api calls create --name prod --secret-file prod.secret
  apps-api magic patch APP_ID --hostname a.example --ip-subnet 192.0.2.0/24 --json
  apps-api turn credentials KEY_ID --ttl 1h
  apps-api sfu session SESSION_ID
  apps-api fake --port 8787"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every API command takes (`fake`, `proxy` and `completions` take none of them).
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Print one JSON document on stdout instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print the request that would be sent (credentials redacted) and send nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// The API's base URL (instead of CLOUDFLARE_BASE_URL, CLOUDFLARE_REALTIME_BASE_URL or
    /// HOVER_BASE_URL, whichever the command uses).
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,
    /// The Cloudflare account, set by the commands of an account's APIs ([`OnAccount`]).
    #[arg(skip)]
    pub account: Option<String>,
}

/// The commands of an API that is not an account's (Hover, TURN credentials, the SFU), with
/// the flags they take.
#[derive(Args, Debug)]
pub struct On<T: Subcommand> {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: T,
}

/// The commands of a Cloudflare account's API, with the flags they take.
#[derive(Args, Debug)]
pub struct OnAccount<T: Subcommand> {
    #[command(flatten)]
    pub global: Global,
    /// The Cloudflare account (instead of CLOUDFLARE_ACCOUNT_ID).
    #[arg(long, global = true, value_name = "ACCOUNT_ID")]
    pub account: Option<String>,
    #[command(subcommand)]
    pub command: T,
}

impl<T: Subcommand> OnAccount<T> {
    /// The command (made into `R` by `into`), and its flags with the account among them.
    pub fn split<R>(self, into: impl FnOnce(T) -> R) -> (R, Global) {
        let global = Global {
            account: self.account,
            ..self.global
        };
        (into(self.command), global)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Cloudflare Calls (Realtime SFU) apps.
    Calls(OnAccount<Calls>),
    /// Cloudflare Magic account apps.
    Magic(OnAccount<Magic>),
    /// Hover apps.
    Hover(On<Hover>),
    /// Cloudflare Calls TURN keys (with the account token).
    #[command(name = "turn-keys")]
    TurnKeys(OnAccount<TurnKeys>),
    /// Short-lived TURN credentials (with a TURN key's own token).
    Turn(On<Turn>),
    /// Realtime SFU sessions of one Calls app (with the app's secret, not the account token):
    /// what a session publishes and pulls, for debugging.
    #[command(after_help = "\
The app is CLOUDFLARE_CALLS_APP_ID (or --app-id), its secret CLOUDFLARE_CALLS_APP_SECRET (the
one `apps-api calls create` shows once; never a flag), the base URL
CLOUDFLARE_REALTIME_BASE_URL (or --base-url; default https://rtc.live.cloudflare.com/v1).

Examples:
  apps-api sfu new-session --correlation-id debug-1
  apps-api sfu session 2a45361d5fd7cc14eface0587c276c94 --json")]
    Sfu(On<Sfu>),
    /// Serve fake Cloudflare and Hover APIs on 127.0.0.1 until Ctrl-C, and print their base
    /// URLs and the credentials they accept (made up unless given).
    #[command(after_help = "\
Example:
  apps-api fake --port 8787 --cloudflare-token test-token
  curl -H 'Authorization: Bearer test-token' \\
    http://127.0.0.1:8787/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/calls/apps
  curl -X POST http://127.0.0.1:8787/__fake/faults \\
    -d '{\"operation\": \"calls-apps-list\", \"count\": 1, \"fault\": {\"status\": 503}}'")]
    Fake(FakeArgs),
    /// Serve the SFU proxy for browser apps (sessions owned by their creators, ICE servers,
    /// the SFU's JSON) until Ctrl-C, for backends not written in Rust and for development.
    #[command(after_help = "\
The app is CLOUDFLARE_CALLS_APP_ID and CLOUDFLARE_CALLS_APP_SECRET, the SFU
CLOUDFLARE_REALTIME_BASE_URL (default https://rtc.live.cloudflare.com/v1; the fake's for local
development). With CLOUDFLARE_TURN_KEY_ID and CLOUDFLARE_TURN_KEY the ICE servers carry a TURN
credential, shared and refreshed; without, STUN only. Session tokens are signed with
APPS_API_PROXY_KEY (32 bytes or more), or a key made up at start (tokens then end with the
process).

Example:
  apps-api proxy --prefix /partytracks --port 8080 --static ./public")]
    Proxy(ProxyArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  apps-api completions bash > /etc/bash_completion.d/apps-api"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The standalone fake's settings.
#[derive(Args, Debug, Clone)]
pub struct FakeArgs {
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The Cloudflare API token it accepts.
    #[arg(long)]
    pub cloudflare_token: Option<String>,
    /// The Cloudflare account email it accepts with the global key (Magic only).
    #[arg(long, requires = "cloudflare_key")]
    pub cloudflare_email: Option<String>,
    /// The Cloudflare global API key it accepts (Magic only).
    #[arg(long, requires = "cloudflare_email")]
    pub cloudflare_key: Option<String>,
    /// The Hover login email it accepts.
    #[arg(long)]
    pub hover_email: Option<String>,
    /// The Hover login password it accepts.
    #[arg(long)]
    pub hover_password: Option<String>,
    /// How long the Hover JWTs it issues live, in seconds (default 7200).
    #[arg(long, value_name = "SECONDS")]
    pub hover_token_ttl: Option<u64>,
    /// Limit the Cloudflare API per credential, as Cloudflare does: REQUESTS/WINDOW, e.g.
    /// 30/6s or 1200/5m (default: no limit).
    #[arg(long, value_name = "QUOTA")]
    pub rate_limit: Option<apps_api::Quota>,
    /// The UDP port on 127.0.0.1 its SFU carries real media on (0: any free port), so that
    /// browsers and other WebRTC peers can call each other through it.
    #[arg(long, default_value_t = 0, conflicts_with = "no_media")]
    pub media_port: u16,
    /// Carry no media: any SDP is answered with SDP, nothing listens on UDP.
    #[arg(long)]
    pub no_media: bool,
}

/// The standalone SFU proxy's settings.
#[derive(Args, Debug, Clone)]
pub struct ProxyArgs {
    /// The path the proxy is served under.
    #[arg(long, default_value = "/partytracks")]
    pub prefix: String,
    /// The port (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on (127.0.0.1 unless asked: serving other hosts is a choice).
    #[arg(long, default_value = "127.0.0.1")]
    pub listen: std::net::IpAddr,
    /// Serve this folder's files at `/` beside the proxy (a page in development).
    #[arg(long = "static", value_name = "DIR")]
    pub static_dir: Option<PathBuf>,
    /// How long a session token lives (e.g. 12h, 1d).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "1d")]
    pub token_lifetime: std::time::Duration,
    /// Reached only through this many reverse proxies, each appending to X-Forwarded-For: the
    /// per-caller limit then reads the caller's address there (0: the peer's).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub behind_proxies: usize,
    /// How long each shared TURN credential lives (with a TURN key).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "1h")]
    pub turn_ttl: std::time::Duration,
}

/// Where a one-time secret goes instead of stdout.
#[derive(Args, Debug, Clone)]
pub struct SecretFile {
    /// Write the one-time secret(s) to this new file (mode 0600; never overwritten) and print
    /// no secret anywhere.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Calls {
    /// List the account's apps.
    #[command(after_help = "Example:\n  apps-api calls list --json")]
    List,
    /// Show one app.
    #[command(after_help = "Example:\n  apps-api calls get 2a95132c15732412d22c1476fa83f27a")]
    Get { app_id: String },
    /// Create an app; its secret is shown this once.
    #[command(
        after_help = "Example:\n  apps-api calls create --name prod --secret-file prod.secret"
    )]
    Create {
        /// A short description, not shown to end users.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        secret: SecretFile,
    },
    /// Replace an app's editable fields (PUT).
    #[command(
        after_help = "Example:\n  apps-api calls update 2a95132c15732412d22c1476fa83f27a --name staging"
    )]
    Update {
        app_id: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete an app.
    #[command(after_help = "Example:\n  apps-api calls delete 2a95132c15732412d22c1476fa83f27a")]
    Delete { app_id: String },
}

/// The fields of a Magic app, as flags (repeat the list ones).
#[derive(Args, Debug, Clone, Default)]
pub struct MagicFields {
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Category, e.g. "Development".
    #[arg(long = "type", value_name = "TYPE")]
    pub app_type: Option<String>,
    /// An FQDN of the app (repeat for more).
    #[arg(long = "hostname", value_name = "FQDN")]
    pub hostnames: Vec<String>,
    /// An IPv4 subnet of the app, in CIDR notation (repeat for more).
    #[arg(long = "ip-subnet", value_name = "CIDR")]
    pub ip_subnets: Vec<String>,
    /// A source subnet of the app, IPv4 or IPv6 CIDR (repeat for more).
    #[arg(long = "source-subnet", value_name = "CIDR")]
    pub source_subnets: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum Magic {
    /// List the account's apps and the apps Cloudflare manages.
    #[command(after_help = "Example:\n  apps-api magic list")]
    List,
    /// Create an account app (name, type and at least one list).
    #[command(
        after_help = "Example:\n  apps-api magic create --name Dashboard --type Development --hostname dash.example.com"
    )]
    Create(MagicFields),
    /// Replace an app (PUT): lists not given are cleared.
    #[command(
        after_help = "Example:\n  apps-api magic update APP_ID --name Dashboard --type Development --hostname dash.example.com"
    )]
    Update {
        app_id: String,
        #[command(flatten)]
        fields: MagicFields,
    },
    /// Change only the fields given (PATCH).
    #[command(
        after_help = "Example:\n  apps-api magic patch APP_ID --hostname a.example --ip-subnet 192.0.2.0/24"
    )]
    Patch {
        app_id: String,
        #[command(flatten)]
        fields: MagicFields,
    },
    /// Delete an account app; refused while a site app config uses it, unless --force.
    #[command(after_help = "Example:\n  apps-api magic delete APP_ID")]
    Delete {
        app_id: String,
        /// Delete it even if site app configs use it (the API decides what becomes of them).
        #[arg(long)]
        force: bool,
    },
    /// List the account's Magic sites.
    #[command(after_help = "Example:\n  apps-api magic sites")]
    Sites,
    /// A site's app configs: what an app does at a site (break out, or be prioritised).
    #[command(subcommand, name = "site-apps")]
    SiteApps(SiteApps),
    /// The site app configs that use an app, on every site of the account.
    #[command(
        after_help = "Examples:\n  apps-api magic usage APP_ID\n  apps-api magic usage cloudflare --managed"
    )]
    Usage {
        app_id: String,
        /// APP_ID is a managed app's ID (e.g. cloudflare), not an account app's.
        #[arg(long)]
        managed: bool,
    },
}

/// The fields of a site app config, as flags.
#[derive(Args, Debug, Clone, Default)]
pub struct AppConfigFields {
    /// The account app it applies to.
    #[arg(
        long = "account-app",
        value_name = "APP_ID",
        conflicts_with = "managed_app"
    )]
    pub account_app: Option<String>,
    /// The managed app it applies to (e.g. cloudflare).
    #[arg(long = "managed-app", value_name = "APP_ID")]
    pub managed_app: Option<String>,
    /// Break the app's traffic out to the Internet directly (true or false).
    #[arg(long, value_name = "BOOL")]
    pub breakout: Option<bool>,
    /// Priority of the app's traffic: 0 (default) or 1 (prioritised).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub priority: Option<i64>,
    /// A WAN interface ID to prefer for breakout, highest priority first (repeat for more).
    #[arg(long = "preferred-wan", value_name = "WAN_ID")]
    pub preferred_wans: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum SiteApps {
    /// List a site's app configs.
    #[command(after_help = "Example:\n  apps-api magic site-apps list SITE_ID")]
    List { site_id: String },
    /// Create an app config (one app, and --breakout or --priority).
    #[command(
        after_help = "Examples:\n  apps-api magic site-apps create SITE_ID --account-app APP_ID --breakout true\n  apps-api magic site-apps create SITE_ID --managed-app cloudflare --priority 1"
    )]
    Create {
        site_id: String,
        #[command(flatten)]
        fields: AppConfigFields,
    },
    /// Replace an app config (PUT): fields not given go back to their defaults.
    #[command(
        after_help = "Example:\n  apps-api magic site-apps update SITE_ID CONFIG_ID --priority 1"
    )]
    Update {
        site_id: String,
        config_id: String,
        #[command(flatten)]
        fields: AppConfigFields,
    },
    /// Change only the fields given (PATCH); naming an app of the other kind switches to it.
    #[command(
        after_help = "Example:\n  apps-api magic site-apps patch SITE_ID CONFIG_ID --managed-app cloudflare"
    )]
    Patch {
        site_id: String,
        config_id: String,
        #[command(flatten)]
        fields: AppConfigFields,
    },
    /// Delete an app config.
    #[command(after_help = "Example:\n  apps-api magic site-apps delete SITE_ID CONFIG_ID")]
    Delete { site_id: String, config_id: String },
}

#[derive(Subcommand, Debug)]
pub enum Hover {
    /// Create an app; its token (and webhook secret) are shown this once.
    #[command(
        after_help = "Example:\n  apps-api hover create --name 'Example App' --package com.example.app"
    )]
    Create {
        #[arg(long)]
        name: String,
        /// The Android package name.
        #[arg(long = "package")]
        package_name: String,
        #[arg(long)]
        webhook_url: Option<String>,
        #[command(flatten)]
        secret: SecretFile,
    },
    /// Show one app (without its secrets).
    #[command(after_help = "Example:\n  apps-api hover get 43120")]
    Get { id: String },
    /// Change the fields given (PATCH).
    #[command(after_help = "Example:\n  apps-api hover update 43120 --clear-webhook-url")]
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "package")]
        package_name: Option<String>,
        #[arg(long, conflicts_with = "clear_webhook_url")]
        webhook_url: Option<String>,
        /// Remove the webhook URL.
        #[arg(long)]
        clear_webhook_url: bool,
    },
    /// Archive an app (undo with restore).
    #[command(after_help = "Example:\n  apps-api hover archive 43120")]
    Archive { id: String },
    /// Restore an archived app.
    #[command(after_help = "Example:\n  apps-api hover restore 43120")]
    Restore { id: String },
}

#[derive(Subcommand, Debug)]
pub enum TurnKeys {
    /// List the account's TURN keys.
    #[command(after_help = "Example:\n  apps-api turn-keys list")]
    List,
    /// Show one TURN key.
    #[command(after_help = "Example:\n  apps-api turn-keys get 2a95132c15732412d22c1476fa83f27a")]
    Get { key_id: String },
    /// Create a TURN key; its token is shown this once.
    #[command(
        after_help = "Example:\n  apps-api turn-keys create --name prod --secret-file turn.key"
    )]
    Create {
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        secret: SecretFile,
    },
    /// Rename a TURN key (PUT).
    #[command(
        after_help = "Example:\n  apps-api turn-keys update 2a95132c15732412d22c1476fa83f27a --name staging"
    )]
    Update {
        key_id: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete a TURN key (the credentials it minted stop working).
    #[command(
        after_help = "Example:\n  apps-api turn-keys delete 2a95132c15732412d22c1476fa83f27a"
    )]
    Delete { key_id: String },
}

#[derive(Subcommand, Debug)]
pub enum Turn {
    /// Mint ICE servers with a TURN credential (the key's token from CLOUDFLARE_TURN_KEY or
    /// --key-file; the account token is not used).
    #[command(
        after_help = "Example:\n  CLOUDFLARE_TURN_KEY=… apps-api turn credentials 2a95132c15732412d22c1476fa83f27a --ttl 1h --json"
    )]
    Credentials {
        key_id: String,
        /// How long the credential lives: 1s to 48h (e.g. 90s, 30m, 1h).
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
        /// Read the key's token from this file instead of CLOUDFLARE_TURN_KEY.
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
        /// Keep the port-53 URLs (browsers block them).
        #[arg(long)]
        keep_port_53: bool,
        #[command(flatten)]
        secret: SecretFile,
    },
    /// Revoke a credential by its username, read from stdin or --username-file (never an
    /// argument: the process list shows arguments to every user of the machine).
    #[command(
        after_help = "Examples:\n  CLOUDFLARE_TURN_KEY=… apps-api turn revoke 2a95132c15732412d22c1476fa83f27a --username-file creds.json\n  printf '%s\\n' \"$USERNAME\" | apps-api turn revoke 2a95132c15732412d22c1476fa83f27a"
    )]
    Revoke {
        key_id: String,
        /// Read the username from this file (the JSON `turn credentials --secret-file` writes,
        /// or the bare username) instead of stdin.
        #[arg(long, value_name = "PATH")]
        username_file: Option<PathBuf>,
        /// Read the key's token from this file instead of CLOUDFLARE_TURN_KEY.
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
    },
}

/// The Calls app whose SFU a command uses.
#[derive(Args, Debug, Clone)]
pub struct SfuApp {
    /// The Calls app's ID (instead of CLOUDFLARE_CALLS_APP_ID); its secret still comes from
    /// CLOUDFLARE_CALLS_APP_SECRET.
    #[arg(long, value_name = "APP_ID")]
    pub app_id: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Sfu {
    /// Show a session's tracks (location, mid, name, publishing session of a pulled track,
    /// status; closed ones stay, inactive) and data channels.
    #[command(
        after_help = "Example:\n  apps-api sfu session 2a45361d5fd7cc14eface0587c276c94 --json"
    )]
    Session {
        /// The session's ID (as `sfu new-session` or the app's endpoint got it).
        session_id: String,
        #[command(flatten)]
        app: SfuApp,
    },
    /// Create an empty session and print its ID (never sent twice: a lost answer leaves a
    /// session that expires unused).
    #[command(
        name = "new-session",
        after_help = "Example:\n  apps-api sfu new-session --correlation-id debug-1"
    )]
    NewSession {
        /// A label for Cloudflare's diagnostics (correlationId).
        #[arg(long, value_name = "LABEL")]
        correlation_id: Option<String>,
        /// The session's peer is ICE-lite (another SFU, a server): thirdparty=true.
        #[arg(long)]
        third_party: bool,
        #[command(flatten)]
        app: SfuApp,
    },
}
