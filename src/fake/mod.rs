//! An in-memory fake of all three APIs on a real HTTP server (axum), for tests and demos
//! without credentials or network. Feature `fake`.
//!
//! It behaves as the specs and the providers' documents describe: generated IDs, the Calls
//! `secret` only in the create answer, PUT replaces and PATCH merges (Magic), Magic's
//! validation answered with error envelopes, 404 envelopes for unknown IDs, JSON:API bodies,
//! archive/restore, login issuing JWTs, 401 without valid credentials, and each account seeing
//! only its own apps. Cloudflare is served under `/client/v4` and Hover under `/api`, as on the
//! real hosts.
//!
//! ```no_run
//! # async fn run() -> Result<(), apps_api::Error> {
//! use apps_api::fake::{Fault, FakeServer};
//! let fake = FakeServer::start().await?;
//! let cf = fake.cloudflare_client()?;
//! fake.inject_fault("calls-apps-list", 1, Fault::Status(503))?;
//! let apps = cf.calls(fake.account_id()).list().await?; // retried past the 503
//! # Ok(()) }
//! ```

mod handlers;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cloudflare::{CloudflareClient, Credentials};
use crate::hover::HoverClient;
use crate::{Error, Secret};

/// A failure the fake answers with instead of serving a request, for testing your own error
/// handling.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status (a provider-shaped error body; 204 has none).
    Status(u16),
    /// Answer 429 with this `Retry-After` (whole seconds, rounded up).
    RateLimited {
        /// How long the client is asked to wait.
        retry_after: Duration,
    },
    /// Answer 200 with a body that is not valid JSON.
    MalformedBody,
    /// Wait this long, then serve the request normally.
    Stall(Duration),
}

/// The operation IDs the fake serves (the specs' `operationId`s).
pub const OPERATIONS: [&str; 16] = [
    "calls-apps-list",
    "calls-apps-create-a-new-app",
    "calls-apps-retrieve-app-details",
    "calls-apps-update-app-details",
    "calls-apps-delete-app",
    "magic-account-apps-list-apps",
    "magic-account-apps-add-app",
    "magic-account-apps-update-app",
    "magic-account-apps-patch-app",
    "magic-account-apps-delete-app",
    "authenticate",
    "create-app",
    "get-app",
    "update-app",
    "archive-app",
    "restore-app",
];

/// The credentials the fake accepts. Any field left `None` is made up at start.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct FakeConfig {
    /// Port on 127.0.0.1 (0 or `None`: any free port).
    pub port: Option<u16>,
    /// The Cloudflare API token it accepts (`Authorization: Bearer …`).
    pub cloudflare_token: Option<Secret>,
    /// The Hover login email it accepts.
    pub hover_email: Option<String>,
    /// The Hover login password it accepts.
    pub hover_password: Option<Secret>,
}

impl FakeConfig {
    /// Made-up credentials, any free port.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listen on this port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Accept this Cloudflare token.
    pub fn cloudflare_token(mut self, token: impl Into<Secret>) -> Self {
        self.cloudflare_token = Some(token.into());
        self
    }

    /// Accept this Hover email and password.
    pub fn hover_login(mut self, email: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.hover_email = Some(email.into());
        self.hover_password = Some(password.into());
        self
    }
}

/// A running fake; stops when dropped.
pub struct FakeServer {
    address: SocketAddr,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Shared state: credentials, the store, and queued faults.
pub(crate) struct State {
    pub(crate) cloudflare_token: Secret,
    pub(crate) hover_email: String,
    pub(crate) hover_password: Secret,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<HashMap<&'static str, VecDeque<Fault>>>,
}

/// Everything the fake remembers.
#[derive(Default)]
pub(crate) struct Store {
    /// (account, uid) → app.
    pub(crate) calls: BTreeMap<(String, String), CallsRecord>,
    /// (account, account_app_id) → app.
    pub(crate) magic: BTreeMap<(String, String), MagicRecord>,
    /// id → app.
    pub(crate) hover: BTreeMap<i64, HoverRecord>,
    pub(crate) next_hover_id: i64,
    pub(crate) hover_tokens: HashSet<String>,
}

pub(crate) struct CallsRecord {
    pub(crate) name: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
}

#[derive(Clone)]
pub(crate) struct MagicRecord {
    pub(crate) name: String,
    pub(crate) app_type: String,
    pub(crate) hostnames: Option<Vec<String>>,
    pub(crate) ip_subnets: Option<Vec<String>>,
    pub(crate) source_subnets: Option<Vec<String>>,
}

pub(crate) struct HoverRecord {
    pub(crate) name: String,
    pub(crate) package_name: String,
    pub(crate) token: String,
    pub(crate) webhook_url: Option<String>,
    pub(crate) webhook_secret: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) archived_at: Option<DateTime<Utc>>,
}

/// The organization every fake Hover app belongs to.
pub(crate) const ORGANIZATION_ID: i64 = 62;

/// Random lowercase hex of `chars` characters (IDs, tokens; not for real secrets).
pub(crate) fn hex(chars: usize) -> String {
    let mut out = String::with_capacity(chars);
    while out.len() < chars {
        out.push_str(&format!("{:032x}", fastrand::u128(..)));
    }
    out.truncate(chars);
    out
}

impl FakeServer {
    /// Starts the fake on a free port of 127.0.0.1 with made-up credentials.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(FakeConfig::new()).await
    }

    /// Starts the fake with these settings.
    pub async fn start_with(config: FakeConfig) -> Result<Self, Error> {
        let state = Arc::new(State {
            cloudflare_token: config
                .cloudflare_token
                .unwrap_or_else(|| Secret::new(format!("fake-cf-token-{}", hex(24)))),
            hover_email: config
                .hover_email
                .unwrap_or_else(|| "developer@example.com".into()),
            hover_password: config
                .hover_password
                .unwrap_or_else(|| Secret::new(format!("fake-password-{}", hex(12)))),
            store: Mutex::new(Store {
                next_hover_id: 43120,
                ..Store::default()
            }),
            faults: Mutex::new(HashMap::new()),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port.unwrap_or(0)))
            .await
            .map_err(|e| Error::Config(format!("the fake server cannot listen: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("the fake server has no address: {e}")))?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = handlers::router(state.clone());
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "the fake server stopped");
            }
        });
        Ok(Self {
            address,
            state,
            shutdown: Some(shutdown),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Cloudflare's base URL on the fake: `http://127.0.0.1:PORT/client/v4`.
    pub fn cloudflare_base_url(&self) -> String {
        format!("http://{}/client/v4", self.address)
    }

    /// Hover's base URL on the fake: `http://127.0.0.1:PORT` (paths start with `/api`).
    pub fn hover_base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// An account ID to use (any ID works; each sees only its own apps).
    pub fn account_id(&self) -> crate::AccountId {
        crate::AccountId::new("023e105f4ecef8ad9ca31a8372d0c353")
    }

    /// The Cloudflare token the fake accepts.
    pub fn cloudflare_token(&self) -> &Secret {
        &self.state.cloudflare_token
    }

    /// The Hover email the fake accepts.
    pub fn hover_email(&self) -> &str {
        &self.state.hover_email
    }

    /// The Hover password the fake accepts.
    pub fn hover_password(&self) -> &Secret {
        &self.state.hover_password
    }

    /// A Cloudflare client pointed at the fake, with [`FakeServer::account_id`] as its default
    /// account.
    pub fn cloudflare_client(&self) -> Result<CloudflareClient, Error> {
        CloudflareClient::builder()
            .credentials(Credentials::ApiToken(self.state.cloudflare_token.clone()))
            .base_url(self.cloudflare_base_url())
            .default_account(self.account_id())
            .build()
    }

    /// A Hover client pointed at the fake that logs in with the fake's email and password.
    pub fn hover_client(&self) -> Result<HoverClient, Error> {
        HoverClient::builder()
            .credentials(
                self.state.hover_email.clone(),
                self.state.hover_password.clone(),
            )
            .base_url(self.hover_base_url())
            .build()
    }

    /// Makes the next `count` requests to `operation` (an operationId from [`OPERATIONS`])
    /// fail with `fault`. Faults queue up in order.
    pub fn inject_fault(&self, operation: &str, count: usize, fault: Fault) -> Result<(), Error> {
        let operation = OPERATIONS
            .iter()
            .find(|op| **op == operation)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown operation {operation:?}")))?;
        let mut faults = self.state.faults.lock().unwrap_or_else(|p| p.into_inner());
        let queue = faults.entry(operation).or_default();
        queue.extend(std::iter::repeat_n(fault, count));
        Ok(())
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.state
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
