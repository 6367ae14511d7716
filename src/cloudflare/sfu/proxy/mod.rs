//! A backend's proxy of the Realtime SFU for browser apps (feature `proxy`): an axum router to
//! nest under a prefix, so that a browser's `RTCPeerConnection` talks to the SFU through the
//! backend, which holds the app secret.
//!
//! - **The URL layout of Cloudflare's `partytracks` browser client**, with the SFU's own JSON
//!   in and out: `POST {prefix}/sessions/new`, `GET {prefix}/sessions/{id}`,
//!   `{prefix}/sessions/{id}/tracks/new|update|close`, `.../renegotiate`,
//!   `.../datachannels/establish|new|update|close`, `{prefix}/adapters/websocket/new|close`
//!   (one route per operation of the spec; anything else is a 404) and
//!   `GET {prefix}/generate-ice-servers`.
//! - **Sessions are owned.** `sessions/new` answers with a token for the new session, in an
//!   `HttpOnly; SameSite=Strict; Secure; Path={prefix}` cookie (`Secure` can be turned off for
//!   plain-HTTP development), signed with the proxy's own key, expiring (a day by default).
//!   Clients that are no browser send the same value as `Authorization: Bearer …`. Every
//!   request about a session without a valid token for it is refused (401, or 403 for another
//!   session's token, or for a cookie on a request another site made) and nothing is sent
//!   upstream. TURN credentials are for callers holding a session.
//! - **The app decides** the rest with a hook ([`ProxyBuilder::authorize`]) that sees who asks
//!   for what, with the query string the browser added; by default an owner may do anything
//!   an SFU is for, pulling any track of the app included, and nobody may make adapters.
//! - **Only what the spec allows passes.** Bodies are capped and parsed with the generated
//!   types before anything is sent; no header of the browser's is forwarded, nor its query;
//!   errors come back in the SFU's shape. The session's pace and one-mutation-at-a-time gate
//!   hold across every browser; a per-caller limit ([`ProxyBuilder::per_caller`]) keeps one
//!   browser from spending the app's budget.
//! - **ICE servers** from an [`crate::cloudflare::turn::IceServerCache`] (one
//!   TURN credential, refreshed before it ages), or STUN only without one.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use apps_api::cloudflare::sfu::{proxy::Proxy, RealtimeClient};
//! let sfu = RealtimeClient::from_env()?;
//! let proxy = Proxy::builder(sfu, std::env::var("SFU_PROXY_KEY")?)
//!     .prefix("/partytracks")
//!     .build()?;
//! let app = axum::Router::new().nest("/partytracks", proxy.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // With the peer's address, for the per-caller limit.
//! let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod cookies;
mod hook;
mod limit;
mod parse;
mod relay;
mod token;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use self::hook::{Action, ProxyRequest, Refusal};
pub use self::token::MIN_KEY_BYTES;
use super::RealtimeClient;
use crate::cloudflare::turn::IceServerCache;
use crate::{Error, Secret};

/// How long a session token lives unless set otherwise: a day.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The largest body accepted by default: room for an SDP of many tracks.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// A proxy of one app's SFU for browsers; [`Proxy::router`] serves it. Cheap to clone.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    client: RealtimeClient,
    signer: token::Signer,
    prefix: String,
    hook: hook::Hook,
    ice: Option<IceServerCache>,
    max_body_bytes: usize,
    limit: limit::PerCaller,
    secure_cookies: bool,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("client", &self.inner.client)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Proxy`].
#[must_use]
pub struct ProxyBuilder {
    client: RealtimeClient,
    key: Secret,
    prefix: String,
    lifetime: Duration,
    hook: hook::Hook,
    ice: Option<IceServerCache>,
    max_body_bytes: usize,
    per_caller: (u32, Duration),
    hops: usize,
    secure_cookies: bool,
}

impl std::fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("client", &self.client)
            .field("key", &self.key)
            .field("prefix", &self.prefix)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy of `client`'s app, signing session tokens with `key`: at least
    /// [`MIN_KEY_BYTES`] bytes of its own, never the app secret (checked when built). Proxies
    /// that share the key and the prefix accept each other's tokens.
    pub fn builder(client: RealtimeClient, key: impl Into<Secret>) -> ProxyBuilder {
        ProxyBuilder {
            client,
            key: key.into(),
            prefix: "/partytracks".into(),
            lifetime: DEFAULT_TOKEN_LIFETIME,
            hook: hook::default_hook(),
            ice: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            per_caller: (50, Duration::from_millis(100)),
            hops: 0,
            secure_cookies: true,
        }
    }

    /// The router, to nest at the prefix (`Router::nest(prefix, proxy.router())`; nested
    /// elsewhere it answers every request with a 500 saying so). Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` for a limit per peer address
    /// (see [`ProxyBuilder::per_caller`]).
    pub fn router(&self) -> axum::Router {
        relay::router(self.inner.clone())
    }

    /// The prefix it is served under.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }
}

impl ProxyBuilder {
    /// The path the router is nested under (default `/partytracks`, as the browser client
    /// assumes): the session cookie's `Path`, and part of what a token is signed over.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a session token lives (default a day): a browser that keeps a session longer
    /// starts a new one.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The app's hook: called with every request before it is relayed (after its token was
    /// checked); a [`Refusal`] answers it instead, and nothing is sent upstream.
    ///
    /// ```
    /// use apps_api::cloudflare::sfu::proxy::{Action, ProxyBuilder, ProxyRequest, Refusal};
    /// fn rooms(builder: ProxyBuilder) -> ProxyBuilder {
    ///     builder.authorize(|request: ProxyRequest| async move {
    ///         let in_room = request.params.iter().any(|(k, v)| k == "room" && v == "lobby");
    ///         match request.action {
    ///             Action::CreateSession if !in_room => Err(Refusal::forbidden("no such room")),
    ///             Action::NewAdapters { .. } | Action::CloseAdapters => Err(Refusal::forbidden("no")),
    ///             _ => Ok(()),
    ///         }
    ///     })
    /// }
    /// ```
    pub fn authorize<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(ProxyRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Refusal>> + Send + 'static,
    {
        self.hook = Arc::new(move |request| Box::pin(hook(request)));
        self
    }

    /// ICE servers with a TURN credential from `cache`; without, STUN only.
    pub fn ice_servers(mut self, cache: IceServerCache) -> Self {
        self.ice = Some(cache);
        self
    }

    /// The largest request body accepted (default [`DEFAULT_MAX_BODY_BYTES`]); a larger one is
    /// a 413 and nothing is sent.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Each caller may send `burst` requests at once, and one more every `every` (default 50,
    /// then one per 100 ms); past that, 429 with `Retry-After`, and nothing is sent. A caller
    /// is its address: the peer's (served with `into_make_service_with_connect_info`), or the
    /// one trusted reverse proxies forwarded ([`behind_reverse_proxies`](Self::behind_reverse_proxies));
    /// without an address, the session whose token it showed; the rest share one allowance.
    pub fn per_caller(mut self, burst: u32, every: Duration) -> Self {
        self.per_caller = (burst, every);
        self
    }

    /// The proxy is reached only through `hops` reverse proxies, each appending the address it
    /// got the request from to `X-Forwarded-For`: a caller's address is the `hops`-th from the
    /// right (1: the rightmost). Only for a proxy no one can reach but through them: anyone
    /// else could write any address there.
    pub fn behind_reverse_proxies(mut self, hops: usize) -> Self {
        self.hops = hops;
        self
    }

    /// Whether the session cookie is `Secure` (default yes). Only for development over plain
    /// HTTP on a loopback host; browsers also take `Secure` cookies from `http://localhost`.
    pub fn secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Builds the proxy. Refused: a key shorter than [`MIN_KEY_BYTES`] or equal to the app
    /// secret, a prefix that is not `/` followed by path characters, a token lifetime under a
    /// second, a per-caller limit of nothing.
    pub fn build(self) -> Result<Proxy, Error> {
        let secret = self.client.inner.secret.expose();
        if self.key.expose().len() < MIN_KEY_BYTES {
            return Err(Error::Config(format!(
                "the proxy's signing key must be at least {MIN_KEY_BYTES} bytes"
            )));
        }
        if self.key.expose() == secret {
            return Err(Error::Config(
                "the proxy's signing key must be its own, not the app secret".into(),
            ));
        }
        let prefix_ok = self.prefix.starts_with('/')
            && !self.prefix.ends_with('/')
            && self.prefix.len() <= 256
            && self.prefix[1..]
                .split('/')
                .all(|segment| !segment.is_empty() && segment.bytes().all(is_path_byte))
            && !self.prefix[1..].split('/').any(|s| s == "." || s == "..");
        if !prefix_ok {
            return Err(Error::Config(format!(
                "the proxy's prefix must be a path such as /partytracks, not {:?}",
                crate::core::scrub::short(&self.prefix)
            )));
        }
        if self.lifetime < Duration::from_secs(1) {
            return Err(Error::Config(
                "a session token must live a second or more".into(),
            ));
        }
        let limit = limit::PerCaller::new(self.per_caller.0, self.per_caller.1, self.hops)?;
        let app = self.client.inner.app_id.as_str();
        Ok(Proxy {
            inner: Arc::new(Inner {
                signer: token::Signer::new(&self.key, &self.prefix, app, self.lifetime),
                secure_cookies: self.secure_cookies,
                client: self.client,
                prefix: self.prefix,
                hook: self.hook,
                ice: self.ice,
                max_body_bytes: self.max_body_bytes,
                limit,
            }),
        })
    }
}

/// A byte a prefix may hold unescaped: letters, digits, `-`, `_`, `.`, `~`.
fn is_path_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}
