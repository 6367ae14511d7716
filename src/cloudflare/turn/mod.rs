//! Cloudflare TURN credentials: short-lived credentials a TURN key mints and revokes, on the
//! Realtime data plane (`https://rtc.live.cloudflare.com/v1`), with the key's own token. The
//! keys themselves are managed with the account token ([`turn_keys`](super::turn_keys)).
//!
//! Reference: <https://developers.cloudflare.com/realtime/turn/generate-credentials/>
//!
//! ```no_run
//! # async fn run(cf: apps_api::cloudflare::CloudflareClient) -> Result<(), apps_api::Error> {
//! use std::time::Duration;
//! use apps_api::cloudflare::turn::TurnCredentials;
//! // Once, with the account token: a key, whose token is shown only now.
//! let created = cf.turn_keys("023e105f4ecef8ad9ca31a8372d0c353").create(Some("prod")).await?;
//! let key_id = created.turn_key.id.clone().expect("Cloudflare returns the uid");
//! // Per user, with only the key: ICE servers for the browser.
//! let turn = TurnCredentials::new(key_id, created.key.clone())?;
//! let ice = turn.ice_servers(Duration::from_secs(3600)).await?.without_port_53();
//! let for_the_browser = serde_json::to_string(&ice).unwrap(); // {"iceServers": [...]}
//! # let _ = for_the_browser;
//! # Ok(()) }
//! ```

mod cache;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, AUTHORIZATION};

use crate::core::auth::Credentials;
use crate::core::budget;
use crate::core::config::{common_builder_methods, env_var, Options};
use crate::core::error::ErrorBody;
use crate::core::error::{common_api_errors, error_text, Provider};
use crate::core::plan::Planned;
use crate::core::request::Base;
use crate::core::run::run;
use crate::core::transport::{BudgetOf, Transport};
use crate::generated::realtime::types as rt;
use crate::operations as ops;
use crate::{ApiError, Error, Secret, TurnKeyId, TurnUsername};

pub use cache::{IceServerCache, RETRY_PAUSE};

// Both are sent again after a lost answer although they are `POST`s, and the revoke's path
// (its username) shows only as its template: the spec's `x-replay` and `x-sensitive` say so.
const GENERATE: Planned = Planned::new(&ops::TURN_GENERATE_ICE_SERVERS);
const REVOKE: Planned = Planned::new(&ops::TURN_REVOKE_CREDENTIAL);

/// The credentials API's production base URL.
pub const DEFAULT_REALTIME_BASE_URL: &str = "https://rtc.live.cloudflare.com/v1";

/// The longest a credential may live: 48 hours, as Cloudflare's TURN FAQ says.
pub const MAX_TTL: Duration = Duration::from_secs(48 * 60 * 60);

/// Mints and revokes short-lived TURN credentials with one TURN key: its ID and its token (the
/// `key` returned when it was created). It needs no account token, so a backend that mints
/// credentials per user holds only what it needs.
///
/// Cheap to clone (one `Arc`); `Send + Sync`.
#[derive(Clone)]
pub struct TurnCredentials {
    inner: Arc<Realtime>,
}

struct Realtime {
    transport: Arc<Transport>,
    api: Base<crate::generated::realtime::Client>,
    key_id: TurnKeyId,
}

impl std::fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnCredentials")
            .field("key_id", &self.inner.key_id)
            .field("transport", &self.inner.transport)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TurnCredentials`].
#[must_use]
pub struct TurnCredentialsBuilder {
    pub(crate) options: Options,
    key_id: TurnKeyId,
    key: Secret,
}

impl std::fmt::Debug for TurnCredentialsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnCredentialsBuilder")
            .field("options", &self.options)
            .field("key_id", &self.key_id)
            .field("key", &self.key)
            .finish()
    }
}

impl TurnCredentialsBuilder {
    common_builder_methods!();

    /// Builds the client. The key ID is checked now; no request is sent.
    pub fn build(self) -> Result<TurnCredentials, Error> {
        self.key_id.segment()?;
        let base_url = self.options.base_url(DEFAULT_REALTIME_BASE_URL)?;
        let mut bearer = HeaderValue::try_from(format!("Bearer {}", self.key.expose()))
            .map_err(|_| Error::Config("the TURN key is not a valid header value".into()))?;
        bearer.set_sensitive(true);
        let transport = Arc::new(Transport::new(
            Provider::Cloudflare,
            &self.options,
            &base_url,
            Credentials::fixed(vec![(AUTHORIZATION, bearer)], vec![self.key.clone()]),
            BudgetOf {
                credential: budget::fingerprint([self.key_id.as_str(), self.key.expose()]),
                default: None,
            },
        )?);
        Ok(TurnCredentials {
            inner: Arc::new(Realtime {
                api: Base::new(&base_url),
                transport,
                key_id: self.key_id,
            }),
        })
    }
}

impl TurnCredentials {
    /// A client for this key on Cloudflare's production host.
    pub fn new(key_id: impl Into<TurnKeyId>, key: impl Into<Secret>) -> Result<Self, Error> {
        Self::builder(key_id, key).build()
    }

    /// A builder for this key, to set the base URL, timeouts, retries and the rest.
    pub fn builder(key_id: impl Into<TurnKeyId>, key: impl Into<Secret>) -> TurnCredentialsBuilder {
        TurnCredentialsBuilder {
            options: Options::default(),
            key_id: key_id.into(),
            key: key.into(),
        }
    }

    /// A client configured from the environment: `CLOUDFLARE_TURN_KEY_ID` and
    /// `CLOUDFLARE_TURN_KEY`, and optionally `CLOUDFLARE_REALTIME_BASE_URL` (default
    /// `https://rtc.live.cloudflare.com/v1`). A missing variable is a [`Error::Config`] naming
    /// it.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env()?.build()
    }

    /// Like [`TurnCredentials::from_env`], returning the builder for further settings.
    pub fn builder_from_env() -> Result<TurnCredentialsBuilder, Error> {
        builder_from(env_var)
    }

    /// What the rate budget of this key knows now; `None` when it has none (the default: the
    /// service documents no limit). See [`TurnCredentialsBuilder::rate_budget`].
    pub fn rate_budget(&self) -> Option<crate::BudgetSnapshot> {
        self.inner.transport.budget_snapshot()
    }

    /// The key this client mints with.
    pub fn key_id(&self) -> &TurnKeyId {
        &self.inner.key_id
    }

    /// Mints a TURN credential valid for `ttl` (whole seconds, rounded up; 1 s to 48 hours,
    /// checked before sending) and returns the ICE servers to use it with. The expiry is
    /// computed here, from the moment the request is sent, so it is never later than the
    /// service's own (the answer carries none).
    ///
    /// Retried like an idempotent request (it creates nothing durable; see the module docs).
    ///
    /// ```no_run
    /// # async fn run(turn: apps_api::cloudflare::turn::TurnCredentials) -> Result<(), apps_api::Error> {
    /// let ice = turn.ice_servers(std::time::Duration::from_secs(3600)).await?;
    /// println!("valid until {}", ice.expires_at);
    /// # Ok(()) }
    /// ```
    pub async fn ice_servers(&self, ttl: Duration) -> Result<IceServers, Error> {
        let seconds = ttl_seconds(ttl)?;
        let key_id = self.inner.key_id.segment()?;
        let body = rt::TurnCredentialsRequest {
            // Not zero: checked above.
            ttl: std::num::NonZeroU64::new(seconds)
                .ok_or_else(|| Error::InvalidArgument("the TTL must be at least 1 s".into()))?,
        };
        let sent = Utc::now();
        let api = self.inner.api.client(&self.inner.transport, GENERATE);
        let (answer, _) = run(&api, None, || api.turn_generate_ice_servers(key_id, &body)).await?;
        // At most 48 hours on from now: neither step can overflow, but neither may panic.
        let expires_at = i64::try_from(seconds)
            .ok()
            .and_then(chrono::TimeDelta::try_seconds)
            .and_then(|ttl| sent.checked_add_signed(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Ok(IceServers {
            ice_servers: ice_servers(answer),
            expires_at,
        })
    }

    /// Revokes the credential minted for `username` (see [`IceServers::username`]); the
    /// connections using it are cut shortly after. Revoking twice is harmless.
    pub async fn revoke(&self, username: &TurnUsername) -> Result<(), Error> {
        let (key_id, username) = (self.inner.key_id.segment()?, username.segment()?);
        let api = self.inner.api.client(&self.inner.transport, REVOKE);
        run(&api, None, || api.turn_revoke_credential(key_id, username)).await?;
        Ok(())
    }
}

/// `ttl` in whole seconds (rounded up), if it is between 1 s and [`MAX_TTL`].
fn ttl_seconds(ttl: Duration) -> Result<u64, Error> {
    // Compared first: rounding `Duration::MAX` up would overflow.
    let seconds = (ttl <= MAX_TTL).then(|| ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0));
    let Some(seconds) = seconds.filter(|s| *s > 0) else {
        return Err(Error::InvalidArgument(format!(
            "a TURN credential's TTL must be 1 s to 48 hours (172800 s), not {} s; nothing was \
             sent",
            ttl.as_secs_f64()
        )));
    };
    Ok(seconds)
}

/// ICE servers with a fresh TURN credential. Serialises to exactly the `RTCConfiguration`
/// `RTCPeerConnection` takes (`{"iceServers": [...]}`), credentials included, so a backend can
/// hand it to a browser as JSON; `Debug` redacts them.
///
/// ```
/// # fn show(ice: apps_api::cloudflare::turn::IceServers) {
/// let json = serde_json::to_string(&ice.without_port_53()).unwrap();
/// // in the browser: new RTCPeerConnection(JSON.parse(json))
/// # let _ = json; }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct IceServers {
    /// The servers: STUN, and TURN with the credential.
    #[serde(rename = "iceServers")]
    pub ice_servers: Vec<IceServer>,
    /// When the credential expires, as the client computed it from the TTL (not serialised:
    /// `RTCConfiguration` has no such member; send it beside if the browser needs it).
    #[serde(skip)]
    pub expires_at: DateTime<Utc>,
}

/// One ICE server, as `RTCIceServer`: its URLs and, for TURN, the credential. Only `stun:`,
/// `stuns:`, `turn:` and `turns:` URLs are kept from the answer (it goes to a browser; anything
/// else is dropped, and a server left without a URL too), and `urls` given as one string is
/// read as a list of one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct IceServer {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// The TURN username (it names the allocation; redacted in `Debug`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<Secret>,
    /// The TURN credential (redacted in `Debug`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<Secret>,
}

impl From<rt::TurnIceServer> for IceServer {
    /// Keeps only `stun:`, `stuns:`, `turn:` and `turns:` URLs: the answer goes to a browser,
    /// and a server that lies must not hand it a `javascript:` or `http:` URL.
    fn from(server: rt::TurnIceServer) -> Self {
        let urls = match server.urls {
            rt::TurnIceUrls::String(url) => vec![url],
            rt::TurnIceUrls::Array(urls) => urls,
        };
        Self {
            urls: urls.into_iter().filter(|url| is_ice_url(url)).collect(),
            username: server.username,
            credential: server.credential,
        }
    }
}

/// Whether `url` is a STUN or TURN URL as RFC 7064 and RFC 7065 write them:
/// `stun:`/`stuns:` host, optional `:port`; `turn:`/`turns:` also an optional
/// `?transport=udp|tcp`; the host a name of letters, digits, `.` and `-`, or a bracketed IPv6
/// address; at most 256 characters. The answer goes to a browser (and often into a page), so
/// a server that lies cannot hand it a `javascript:` URL, markup or a malformed URL that makes
/// `RTCPeerConnection` throw.
fn is_ice_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    let turn = ["turn", "turns"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s));
    let stun = ["stun", "stuns"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s));
    if url.len() > 256 || !(turn || stun) {
        return false;
    }
    let (authority, query) = match rest.split_once('?') {
        Some((authority, query)) => (authority, Some(query)),
        None => (rest, None),
    };
    let query_ok = match query {
        None => true,
        Some(query) => {
            turn && query
                .strip_prefix("transport=")
                .is_some_and(|t| t.eq_ignore_ascii_case("udp") || t.eq_ignore_ascii_case("tcp"))
        }
    };
    let (host, port) = match authority.rfind(']') {
        Some(end) => match authority.split_at(end + 1) {
            (host, "") => (host, None),
            (host, after) => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return false,
            },
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => ipv6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        }
    };
    let port_ok = match port {
        None => true,
        Some(port) => {
            (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok()
        }
    };
    query_ok && host_ok && port_ok
}

/// Whether a TURN username or credential is printable ASCII without the characters that mean
/// something in HTML or a script (`<`, `>`, `&`, quotes, `\`, backquote), at most 512 long.
fn is_plain_credential(value: &Secret) -> bool {
    let value = value.expose();
    value.len() <= 512
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>&\"'\\`".contains(&b))
}

/// The servers of an answer, each with its STUN and TURN URLs only; a server left with none,
/// or with a username or credential that is not plain text, is dropped.
fn ice_servers(answer: rt::TurnIceServers) -> Vec<IceServer> {
    answer
        .ice_servers
        .into_iter()
        .map(IceServer::from)
        .filter(|server| {
            !server.urls.is_empty()
                && [&server.username, &server.credential]
                    .iter()
                    .all(|value| value.as_ref().is_none_or(is_plain_credential))
        })
        .collect()
}

impl IceServers {
    /// The same servers without port-53 URLs, which browsers block (Cloudflare's documentation
    /// suggests leaving them out unless you use trickle ICE); a server left with no URL is
    /// dropped.
    pub fn without_port_53(mut self) -> Self {
        for server in &mut self.ice_servers {
            server.urls.retain(|url| port_of(url) != Some("53"));
        }
        self.ice_servers.retain(|server| !server.urls.is_empty());
        self
    }

    /// The TURN username of this credential, to [`TurnCredentials::revoke`] it later.
    pub fn username(&self) -> Option<TurnUsername> {
        self.ice_servers
            .iter()
            .find_map(|s| s.username.as_ref())
            .map(|u| TurnUsername::new(u.expose()))
    }
}

/// The port of a `stun:`/`turn:`/`turns:` URL (`scheme:host[:port][?query]`), if it has one.
fn port_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once(':')?;
    let authority = rest.split('?').next().unwrap_or(rest);
    let port = match authority.rfind(']') {
        // An IPv6 literal: the port follows the bracket.
        Some(bracket) => authority[bracket + 1..].strip_prefix(':')?,
        None => authority.rsplit_once(':')?.1,
    };
    Some(port)
}

impl ErrorBody for rt::TurnError {
    /// The credentials API documents no error format: read as the Realtime API writes errors,
    /// and leniently besides.
    fn api_errors(self) -> Vec<ApiError> {
        realtime_errors(&self.0)
    }
}

/// The errors of a Realtime answer: `{"errorCode", "errorDescription"}` as its SFU API writes
/// them, and the shapes JSON APIs commonly use.
pub(crate) fn realtime_errors(value: &serde_json::Value) -> Vec<ApiError> {
    let mut out = Vec::new();
    if let Some(description) = value.get("errorDescription").and_then(error_text) {
        let message = match value.get("errorCode").and_then(error_text) {
            Some(code) => format!("{code}: {description}"),
            None => description,
        };
        out.push(ApiError::message(message));
    }
    out.extend(common_api_errors(value));
    out
}

/// [`TurnCredentials::builder_from_env`] with the lookup injected (tests use a map).
pub(crate) fn builder_from(
    lookup: impl Fn(&str) -> Result<Option<String>, Error>,
) -> Result<TurnCredentialsBuilder, Error> {
    let key_id = lookup("CLOUDFLARE_TURN_KEY_ID")?.ok_or_else(|| {
        Error::Config("CLOUDFLARE_TURN_KEY_ID is not set (the TURN key's uid)".into())
    })?;
    let key = lookup("CLOUDFLARE_TURN_KEY")?.ok_or_else(|| {
        Error::Config("CLOUDFLARE_TURN_KEY is not set (the key's token, shown on create)".into())
    })?;
    let mut builder = TurnCredentials::builder(key_id, key);
    if let Some(url) = lookup("CLOUDFLARE_REALTIME_BASE_URL")? {
        builder = builder.base_url(url);
    }
    Ok(builder)
}

#[cfg(test)]
mod tests;
