//! An in-memory fake of every API this crate serves (Calls, TURN, Magic, the Realtime SFU, Hover)
//! on a real HTTP server (axum), for tests and demos in any language, offline. Feature `fake`.
//!
//! It behaves as the specs and the providers' documents describe: generated IDs, the Calls
//! `secret` only in the create answer, PUT replaces and PATCH merges (Magic), Magic's
//! validation answered with error envelopes, 404 envelopes for unknown IDs, Cloudflare's
//! routing errors (7003/7000) for unknown paths, bearer tokens for Calls and bearer or
//! email + key for Magic, JSON:API bodies with explicit `null`s, archive/restore, logins that
//! issue JWTs which expire, and each account seeing only its own apps. Cloudflare is served
//! under `/client/v4`, the Realtime data plane (TURN credentials, and the SFU's sessions,
//! tracks, data channels and WebSocket adapters with each Calls app's secret) under `/v1`, and
//! Hover under `/api`, as on the real hosts; `/__fake` is its control API (below).
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
//!
//! # Control API
//!
//! The same controls over HTTP, for test suites in other languages: `POST /__fake/faults`
//! with `{"operation": "<operationId>", "count": N, "fault": F}` (F: `{"status": 503}`,
//! `{"rate_limited": {"retry_after_secs": 2}}`, `"malformed_body"`, `{"stall_ms": 2000}`,
//! `"waf_block"`, `"success_false"`, `"closed_mid_body"`, `{"trickle_ms": 100}`),
//! `POST /__fake/item-faults` with `{"operation": "<operationId>", "count": N, "error_code":
//! "internal_error", "error_description": "Backend error"}` (the next N items of an SFU batch
//! fail inside a 200), `DELETE /__fake/faults`, `POST /__fake/reset`,
//! `POST /__fake/expire-hover-tokens`, `POST /__fake/expire-sfu-sessions`, `GET /__fake/state`.

// Handlers return an early `Response` as their error, axum's usual shape; its size does not
// matter in a test server.
#![allow(clippy::result_large_err)]

mod cloudflare;
mod control;
mod faults;
mod hover;
#[cfg(feature = "fake-media")]
mod media;
#[cfg(feature = "fake-media")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake-media")))]
pub use media::{PeerStats, WebRtcPeer};
mod rate;
mod resolve;
mod router;
mod store;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use faults::{Fault, ItemFault};
pub use store::sfu::DEFAULT_SESSION_IDLE as DEFAULT_SFU_SESSION_IDLE;

use crate::cloudflare::{CloudflareClient, Credentials};
use crate::hover::HoverClient;
use crate::{Error, Secret};

/// How long a fake Hover JWT lives unless configured otherwise (as Hover's: about 2 hours).
pub const DEFAULT_HOVER_TOKEN_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// The account [`FakeServer::account_id`] names (any ID works; each sees only its own apps).
pub const DEFAULT_ACCOUNT_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// The fake's settings. Any credential left `None` is made up at start.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct FakeConfig {
    /// Port on 127.0.0.1 (0 or `None`: any free port).
    pub port: Option<u16>,
    /// The Cloudflare API token it accepts (`Authorization: Bearer …`).
    pub cloudflare_token: Option<Secret>,
    /// The Cloudflare account email it accepts with the global key (`X-Auth-Email`, Magic only).
    pub cloudflare_email: Option<String>,
    /// The Cloudflare global API key it accepts (`X-Auth-Key`, Magic only).
    pub cloudflare_key: Option<Secret>,
    /// The Hover login email it accepts.
    pub hover_email: Option<String>,
    /// The Hover login password it accepts.
    pub hover_password: Option<Secret>,
    /// How long the Hover JWTs it issues live (default 2 hours).
    pub hover_token_ttl: Option<Duration>,
    /// A rate limit on the Cloudflare API per credential (default none); see
    /// [`FakeConfig::rate_limit`].
    pub rate_limit: Option<crate::Quota>,
    /// How long an SFU session lives unused (default 30 s); [`FakeConfig::sfu_session_idle`].
    pub sfu_session_idle: Option<Duration>,
    /// Where the SFU carries real media (feature `fake-media`); [`FakeConfig::media`].
    #[cfg(feature = "fake-media")]
    pub media: Option<SocketAddr>,
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

    /// Accept this Cloudflare email and global API key (Magic only, as on the real API).
    pub fn cloudflare_key(mut self, email: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.cloudflare_email = Some(email.into());
        self.cloudflare_key = Some(key.into());
        self
    }

    /// Accept this Hover email and password.
    pub fn hover_login(mut self, email: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.hover_email = Some(email.into());
        self.hover_password = Some(password.into());
        self
    }

    /// Issue Hover JWTs that live this long.
    pub fn hover_token_ttl(mut self, ttl: Duration) -> Self {
        self.hover_token_ttl = Some(ttl);
        self
    }

    /// Limits the Cloudflare API to `quota` per credential, as Cloudflare does (1,200 per 5
    /// minutes): fixed windows from a credential's first request; a request past the quota
    /// gets 429 with code 971 and blocks the credential for a whole window; every answer
    /// carries `Ratelimit` and `Ratelimit-Policy`. Also `apps-api fake --rate-limit 30/6s` and
    /// `POST /__fake/rate-limit`.
    pub fn rate_limit(mut self, quota: crate::Quota) -> Self {
        self.rate_limit = Some(quota);
        self
    }

    /// Expires an SFU session unused for `idle` (real time; default 30 s, about what
    /// Cloudflare's sessions last without activity): every later request for it answers 410
    /// `session_error`. A session that an ingest adapter holds does not expire. A tiny value
    /// lets a test see expiry quickly; [`FakeServer::expire_sfu_sessions`] expires them at once.
    pub fn sfu_session_idle(mut self, idle: Duration) -> Self {
        self.sfu_session_idle = Some(idle);
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
    pub(crate) cloudflare_email: String,
    pub(crate) cloudflare_key: Secret,
    pub(crate) hover_email: String,
    pub(crate) hover_password: Secret,
    pub(crate) hover_token_ttl: Duration,
    pub(crate) sfu_session_idle: Duration,
    store: Mutex<store::Store>,
    faults: Mutex<faults::Faults>,
    journal: Mutex<Journal>,
    rate: Mutex<rate::RateLimit>,
    /// Permits for answers that can be large ([`router::LARGE_ANSWERS`]).
    large_answers: Arc<tokio::sync::Semaphore>,
    /// The SFU's media, when it carries it.
    #[cfg(feature = "fake-media")]
    pub(crate) media: Option<media::MediaServer>,
}

/// How many requests the fake remembers for [`FakeServer::requests`].
pub const REMEMBERED_REQUESTS: usize = 1_000;
/// How many bytes of bodies the request log holds at most (past it, the oldest go).
pub const REMEMBERED_BYTES: usize = 8 * 1024 * 1024;

/// The request log: the last requests, as the bytes they carried (not parsed: a parsed body
/// takes many times its size), bounded in entries and in bytes.
#[derive(Default)]
struct Journal {
    entries: VecDeque<Arc<Entry>>,
    bytes: usize,
}

/// A request in the log.
pub(crate) struct Entry {
    pub(crate) operation: &'static str,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: u16,
    /// The bodies, when at most [`router::RECORDED_BODY_BYTES`].
    pub(crate) request: Option<bytes::Bytes>,
    pub(crate) response: Option<bytes::Bytes>,
}

impl Entry {
    fn bytes(&self) -> usize {
        let body = |b: &Option<bytes::Bytes>| b.as_ref().map_or(0, bytes::Bytes::len);
        self.path.len() + body(&self.request) + body(&self.response) + 64
    }
}

/// A request the fake served (or refused), as [`FakeServer::requests`] returns it: what your
/// code sent and what it got back. Bodies are as sent, with the fake's own made-up
/// credentials and secrets in them; `GET /__fake/requests` shows them redacted.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Recorded {
    /// The operationId the request was for.
    pub operation: &'static str,
    /// HTTP method.
    pub method: String,
    /// The path as sent.
    pub path: String,
    /// The request body, if it was JSON (and at most 64 KiB).
    pub request: Option<serde_json::Value>,
    /// The status the fake answered (before a fault that reshapes the body).
    pub status: u16,
    /// The answer's body, if it was JSON (and at most 64 KiB).
    pub response: Option<serde_json::Value>,
}

impl State {
    /// The store, locked. (A panic while it was held cannot leave it half-changed in a way
    /// that matters to a test server, so a poisoned lock is used as is.)
    pub(crate) fn store(&self) -> MutexGuard<'_, store::Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, faults::Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn rate(&self) -> MutexGuard<'_, rate::RateLimit> {
        self.rate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a request, forgetting the oldest past [`REMEMBERED_REQUESTS`] or
    /// [`REMEMBERED_BYTES`].
    pub(crate) fn record(&self, entry: Entry) {
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        journal.bytes += entry.bytes();
        journal.entries.push_back(Arc::new(entry));
        while journal.entries.len() > REMEMBERED_REQUESTS || journal.bytes > REMEMBERED_BYTES {
            let Some(oldest) = journal.entries.pop_front() else {
                break;
            };
            journal.bytes -= oldest.bytes();
        }
    }

    /// The log as it is now (shared entries: nothing is copied).
    pub(crate) fn recorded(&self) -> Vec<Arc<Entry>> {
        let journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        journal.entries.iter().cloned().collect()
    }
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
                .unwrap_or_else(|| Secret::new(format!("fake-cf-token-{}", store::hex(24)))),
            cloudflare_email: config
                .cloudflare_email
                .unwrap_or_else(|| "ops@example.com".into()),
            cloudflare_key: config
                .cloudflare_key
                .unwrap_or_else(|| Secret::new(store::hex(37))),
            hover_email: config
                .hover_email
                .unwrap_or_else(|| "developer@example.com".into()),
            hover_password: config
                .hover_password
                .unwrap_or_else(|| Secret::new(format!("fake-password-{}", store::hex(12)))),
            hover_token_ttl: config.hover_token_ttl.unwrap_or(DEFAULT_HOVER_TOKEN_TTL),
            sfu_session_idle: config.sfu_session_idle.unwrap_or(DEFAULT_SFU_SESSION_IDLE),
            store: Mutex::new(store::Store::new()),
            faults: Mutex::new(faults::Faults::default()),
            journal: Mutex::new(Journal::default()),
            rate: Mutex::new(rate::RateLimit::default()),
            large_answers: Arc::new(tokio::sync::Semaphore::new(router::LARGE_ANSWERS)),
            #[cfg(feature = "fake-media")]
            media: media::start(config.media)?,
        });
        if let Some(quota) = config.rate_limit {
            crate::core::budget::checked(quota).map_err(Error::Config)?;
        }
        state.rate().set(config.rate_limit);
        #[cfg(feature = "fake-media")]
        state.media.iter().for_each(|media| media.watch(&state));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port.unwrap_or(0)))
            .await
            .map_err(|e| Error::Config(format!("the fake server cannot listen: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("the fake server has no address: {e}")))?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router::router(state.clone());
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

    /// The Realtime data plane's base URL on the fake (TURN credentials and the SFU):
    /// `http://127.0.0.1:PORT/v1`.
    pub fn realtime_base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// A TURN credentials client pointed at the fake, for a key its management API created.
    pub fn turn_credentials(
        &self,
        key_id: impl Into<crate::TurnKeyId>,
        key: impl Into<Secret>,
    ) -> Result<crate::cloudflare::turn::TurnCredentials, Error> {
        crate::cloudflare::turn::TurnCredentials::builder(key_id, key)
            .base_url(self.realtime_base_url())
            .build()
    }

    /// A Realtime SFU client pointed at the fake, for a Calls app its management API created
    /// (with the secret the create returned).
    pub fn realtime_client(
        &self,
        app_id: impl Into<crate::CallsAppId>,
        secret: impl Into<Secret>,
    ) -> Result<crate::cloudflare::sfu::RealtimeClient, Error> {
        crate::cloudflare::sfu::RealtimeClient::builder(app_id, secret)
            .base_url(self.realtime_base_url())
            .build()
    }

    /// Hover's base URL on the fake: `http://127.0.0.1:PORT` (paths start with `/api`).
    pub fn hover_base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// An account ID to use: [`DEFAULT_ACCOUNT_ID`].
    pub fn account_id(&self) -> crate::AccountId {
        crate::AccountId::new(DEFAULT_ACCOUNT_ID)
    }

    /// The Cloudflare token the fake accepts.
    pub fn cloudflare_token(&self) -> &Secret {
        &self.state.cloudflare_token
    }

    /// The Cloudflare email the fake accepts with its global key.
    pub fn cloudflare_email(&self) -> &str {
        &self.state.cloudflare_email
    }

    /// The Cloudflare global API key the fake accepts (Magic only).
    pub fn cloudflare_key(&self) -> &Secret {
        &self.state.cloudflare_key
    }

    /// The Hover email the fake accepts.
    pub fn hover_email(&self) -> &str {
        &self.state.hover_email
    }

    /// The Hover password the fake accepts.
    pub fn hover_password(&self) -> &Secret {
        &self.state.hover_password
    }

    /// A Cloudflare client pointed at the fake with its API token, with
    /// [`FakeServer::account_id`] as its default account.
    pub fn cloudflare_client(&self) -> Result<CloudflareClient, Error> {
        self.cloudflare_client_with(Credentials::ApiToken(self.state.cloudflare_token.clone()))
    }

    /// A Cloudflare client pointed at the fake with its email and global key (Magic only).
    pub fn cloudflare_key_client(&self) -> Result<CloudflareClient, Error> {
        self.cloudflare_client_with(Credentials::api_key(
            self.state.cloudflare_email.clone(),
            self.state.cloudflare_key.clone(),
        ))
    }

    fn cloudflare_client_with(&self, credentials: Credentials) -> Result<CloudflareClient, Error> {
        CloudflareClient::builder()
            .credentials(credentials)
            .base_url(self.cloudflare_base_url())
            .default_account(self.account_id())
            .build()
    }

    /// A Hover client pointed at the fake that logs in with the fake's email and password,
    /// with no login cooldown, so that a test can expire the tokens
    /// ([`FakeServer::expire_hover_tokens`]) and see the client log in again at once.
    pub fn hover_client(&self) -> Result<HoverClient, Error> {
        HoverClient::builder()
            .credentials(
                self.state.hover_email.clone(),
                self.state.hover_password.clone(),
            )
            .base_url(self.hover_base_url())
            .login_cooldown(Duration::ZERO)
            .build()
    }

    /// Sets (or, with `None`, lifts) the rate limit of the Cloudflare API; every credential's
    /// window starts afresh. See [`FakeConfig::rate_limit`].
    pub fn set_rate_limit(&self, quota: Option<crate::Quota>) -> Result<(), Error> {
        if let Some(quota) = quota {
            crate::core::budget::checked(quota).map_err(Error::Config)?;
        }
        self.state.rate().set(quota);
        Ok(())
    }

    /// Makes the next `count` authenticated requests to `operation` (an operationId of
    /// [`operations::ALL`](crate::operations::ALL)) fail with `fault`. Faults queue up in order; at most 10,000 wait per
    /// operation.
    pub fn inject_fault(&self, operation: &str, count: usize, fault: Fault) -> Result<(), Error> {
        self.state
            .faults()
            .inject(operation, count, fault)
            .map(drop)
            .map_err(Error::InvalidArgument)
    }

    /// The last requests the fake received (at most [`REMEMBERED_REQUESTS`], and
    /// [`REMEMBERED_BYTES`] of bodies), oldest first: to assert what your code sent.
    pub fn requests(&self) -> Vec<Recorded> {
        let json = |body: &Option<bytes::Bytes>| {
            body.as_ref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        };
        self.state
            .recorded()
            .iter()
            .map(|entry| Recorded {
                operation: entry.operation,
                method: entry.method.clone(),
                path: entry.path.clone(),
                request: json(&entry.request),
                status: entry.status,
                response: json(&entry.response),
            })
            .collect()
    }

    /// How many faults wait for `operation` (a request that reaches the fake takes one).
    pub fn pending_faults(&self, operation: &str) -> usize {
        self.state.faults().pending(operation)
    }

    /// Makes the next `count` items of `operation` fail with `fault`, each inside an answer
    /// that is otherwise served (HTTP 200; the adapters' 503 when every item of a batch failed).
    /// The item is not carried out. `operation` is an SFU operation whose request is a batch:
    /// `sfu-tracks-new`, `-update`, `-close`, `sfu-datachannels-new`, `-update`, `-close`,
    /// `sfu-adapters-websocket-new`, `-close`. Items are counted across requests, in order.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), apps_api::Error> {
    /// use apps_api::fake::{FakeServer, ItemFault};
    /// let fake = FakeServer::start().await?;
    /// // The next pulled track comes back as {"mid": "", "errorCode": "internal_error", ...}.
    /// fake.inject_item_fault("sfu-tracks-new", 1, ItemFault::internal_error())?;
    /// # Ok(()) }
    /// ```
    pub fn inject_item_fault(
        &self,
        operation: &str,
        count: usize,
        fault: ItemFault,
    ) -> Result<(), Error> {
        self.state
            .faults()
            .inject_items(operation, count, fault)
            .map(drop)
            .map_err(Error::InvalidArgument)
    }

    /// How many items of `operation` will still fail ([`FakeServer::inject_item_fault`]).
    pub fn pending_item_faults(&self, operation: &str) -> usize {
        self.state.faults().pending_items(operation)
    }

    /// Removes every queued fault, item faults included.
    pub fn clear_faults(&self) {
        self.state.faults().clear();
    }

    /// Makes every SFU session expire now, as if unused for longer than
    /// [`FakeConfig::sfu_session_idle`]: every later request for one answers 410
    /// `session_error`.
    pub fn expire_sfu_sessions(&self) {
        self.state.store().sfu.expire_all();
    }

    /// Forgets every app and key, and the SFU's sessions and adapters (the tokens issued stay
    /// valid).
    pub fn reset(&self) {
        self.state.store().reset();
    }

    /// Makes every Hover JWT issued so far expire, as Hover's do after about two hours: the
    /// next request with one answers 401, and a client built from email and password logs in
    /// again (unless it logged in less than its login cooldown ago, 5 s by default: then it
    /// returns the 401; [`FakeServer::hover_client`] has no cooldown).
    pub fn expire_hover_tokens(&self) {
        self.state.store().hover_tokens.expire_all();
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl FakeServer {
    /// What the standalone fake (`apps-api fake`) prints at start: base URLs and the
    /// credentials it accepts (its own, made up or given; printing them is the point).
    pub fn banner(&self) -> String {
        format!(
            "Fake Cloudflare API: {cf}\n\
             \x20 token:   {token}\n\
             \x20 email:   {email}   key: {key}   (Magic only, as on the real API)\n\
             \x20 account: {account} (any account ID works)\n\
             \x20 rate limit: {rate_limit}\n\
             Fake TURN credentials: {hover}/v1 (with the tokens of the TURN keys it creates)\n\
             Fake Realtime SFU:   {hover}/v1/apps/<app>/... (with the secrets of the Calls apps it creates)\n\
             Fake Hover API:      {hover}/api\n\
             \x20 email:    {hover_email}\n\
             \x20 password: {password}\n\
             Control API:         {hover}/__fake (faults, reset, state)\n\
             \n\
             Try:\n\
             \x20 curl -H 'Authorization: Bearer {token}' {cf}/accounts/{account}/calls/apps\n\
             \x20 CLOUDFLARE_BASE_URL={cf} CLOUDFLARE_API_TOKEN={token} CLOUDFLARE_ACCOUNT_ID={account} apps-api calls list\n\
             Ctrl-C stops it.\n",
            cf = self.cloudflare_base_url(),
            rate_limit = match self.state.rate().quota() {
                Some(quota) => format!("{quota} per credential"),
                None => "none".into(),
            },
            token = self.state.cloudflare_token.expose(),
            email = self.state.cloudflare_email,
            key = self.state.cloudflare_key.expose(),
            account = self.account_id(),
            hover = self.hover_base_url(),
            hover_email = self.state.hover_email,
            password = self.state.hover_password.expose(),
        )
    }
}
