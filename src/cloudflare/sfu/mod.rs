//! Cloudflare Realtime SFU data plane: sessions, tracks, data channels and WebSocket adapters of
//! one Calls app, at `https://rtc.live.cloudflare.com/v1/apps/{app_id}/…`, with the app's secret.
//!
//! Reference: <https://developers.cloudflare.com/realtime/sfu/>
//!
//! - **Per-item failures cannot be overlooked.** Batch calls answer a [`Batch`]: successes and
//!   failures apart, each keyed by the request item it answers, each failure with its
//!   [`ItemCode`]. A request-level `errorCode` inside an HTTP 200 is an [`Error::Api`].
//! - **Retries follow the reference.** Reading a session, forced closes and updates without an
//!   offer may be sent again; creating a session, tracks, data channels, adapters, establishing
//!   the transport, renegotiating and a close or update carrying an offer are never sent twice
//!   once they may have acted (they would allocate twice, or carry a stale SDP); they are sent
//!   again only when they never left or were refused with a 429. A failed batch item is sent
//!   again by the caller, alone.
//! - **One mutation at a time per session**, as Cloudflare asks, across every handle of it in
//!   the process, and each session's requests paced at 25 per second (fixed windows, so at most
//!   50 in any second, Cloudflare's limit per session), with the rate budget every client
//!   shares. Different sessions run concurrently. Waiting counts against each call's deadline.
//! - **Secrets:** the app secret is a [`Secret`]; SDP (which carries ICE credentials) is never
//!   logged and `Debug` shows only its length; the SFU's descriptions are bounded and escaped.
//!
//! ```no_run
//! # async fn run() -> Result<(), apps_api::Error> {
//! use apps_api::cloudflare::sfu::{NewTracks, RealtimeClient, SessionDescription, TrackRequest};
//! let sfu = RealtimeClient::from_env()?;
//! let created = sfu.create_session().await?;
//! let session = sfu.session(&created.session_id);
//! let offer = SessionDescription::offer("v=0\r\n…"); // from the browser's RTCPeerConnection
//! let added = session
//!     .add_tracks(&NewTracks::new([TrackRequest::local("0", "mic")]).offer(offer))
//!     .await?;
//! let published = added.tracks.into_result().expect("every track was published");
//! # let _ = published;
//! # Ok(()) }
//! ```

mod adapters;
mod batch;
mod channels;
mod model;
#[cfg(feature = "proxy")]
#[cfg_attr(docsrs, doc(cfg(feature = "proxy")))]
pub mod proxy;
mod session;
mod tracks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION};

pub use self::adapters::{
    AdapterAnswer, AdapterRequest, ClosedAdapter, OutputCodec, MAX_ADAPTERS_PER_REQUEST,
};
pub use self::batch::{Batch, Closed, ItemCode, ItemFailure, PartialFailure};
pub use self::channels::{DataChannelAnswer, DataChannelRequest, EstablishedTransport};
use self::model::refused;
pub use self::model::{
    DataChannelState, Location, NewSession, SdpType, SessionDescription, SessionOptions,
    SessionState, Status, TrackState,
};
pub use self::session::Session;
pub use self::tracks::{
    CloseTracks, ClosedTracks, NewTracks, RidOrdering, Simulcast, TrackAnswer, TrackRequest,
    TracksAnswer, MAX_TRACKS_PER_REQUEST,
};
use super::turn::{realtime_errors, DEFAULT_REALTIME_BASE_URL};
use crate::core::auth::Credentials;
use crate::core::budget::{self, Budgets, Registry, Setting};
use crate::core::config::{common_builder_methods, env_var, Options};
use crate::core::error::ErrorBody;
use crate::core::error::Provider;
use crate::core::map_error::Answer;
use crate::core::plan::{Limits, Planned};
use crate::core::request::Base;
use crate::core::run::{run, Meta};
use crate::core::transport::{BudgetOf, Transport};
use crate::generated::sfu::types as wire;
use crate::operations as ops;
use crate::{ApiError, CallsAppId, Error, Quota, Secret, SessionId};

/// Creates a session: never sent twice (`x-replay`).
const SESSIONS_NEW: Planned = Planned::new(&ops::SFU_SESSIONS_NEW);
/// The longest `correlationId` sent: a label, not a payload.
const MAX_CORRELATION_ID: usize = 256;

/// Each session's default pace: 25 requests per second. The budget counts fixed windows, so a
/// burst at the end of one and another at the start of the next stay under Cloudflare's 50 per
/// second per session.
pub const SESSION_QUOTA: Quota = Quota::new(25, Duration::from_secs(1));

/// A client of one Calls app's SFU: creates sessions and adapters, and hands out
/// [`Session`] handles for the per-session calls.
///
/// Cheap to clone (one `Arc`); `Send + Sync`.
#[derive(Clone)]
pub struct RealtimeClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Arc<Transport>,
    api: Base<crate::generated::sfu::Client>,
    app_id: CallsAppId,
    base_url: String,
    /// Where its sessions' budgets are kept ([`Options::budget_scope`]).
    budget_scope: String,
    /// What identifies the credential in the rate budgets' registry (with a session ID).
    secret: Secret,
    /// Each session's pace.
    pace: Pace,
}

/// How a client paces each session's requests: through the session's shared budget at
/// [`SESSION_QUOTA`] (every client of the app in the process counts there), and, with a quota
/// set by hand, this client's own budget per session too; or not at all.
#[derive(Debug)]
enum Pace {
    Shared,
    AlsoOwn(Quota, Registry),
    Unpaced,
}

/// What serialises one session's mutations: one per session (API host, app, secret and session
/// ID) in the process, while a handle of it lives, whichever client made the handle.
type Gate = tokio::sync::Mutex<()>;

/// The gates of the sessions that have a handle, by API host and session fingerprint.
type Gates = Mutex<HashMap<(String, u64), Weak<Gate>>>;

fn gates() -> &'static Gates {
    static GATES: OnceLock<Gates> = OnceLock::new();
    GATES.get_or_init(Gates::default)
}

impl std::fmt::Debug for RealtimeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeClient")
            .field("app_id", &self.inner.app_id)
            .field("transport", &self.inner.transport)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RealtimeClient`].
#[must_use]
pub struct RealtimeClientBuilder {
    pub(crate) options: Options,
    app_id: CallsAppId,
    secret: Secret,
}

impl std::fmt::Debug for RealtimeClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeClientBuilder")
            .field("options", &self.options)
            .field("app_id", &self.app_id)
            .field("secret", &self.secret)
            .finish()
    }
}

impl RealtimeClientBuilder {
    common_builder_methods!();

    /// Builds the client. The app ID is checked now; no request is sent.
    ///
    /// Each session is paced at [`SESSION_QUOTA`] by a budget every client of the app in the
    /// process shares (Cloudflare limits requests per session, not per app);
    /// [`rate_budget`](Self::rate_budget) adds this client's own pace per session (it can only
    /// slow it), or with `None` paces nothing.
    pub fn build(mut self) -> Result<RealtimeClient, Error> {
        self.app_id.segment()?;
        let base_url = self.options.base_url(DEFAULT_REALTIME_BASE_URL)?;
        let pace = match self.options.rate_budget.take() {
            Some(Some(quota)) => Pace::AlsoOwn(
                budget::checked(quota).map_err(Error::Config)?,
                Registry::default(),
            ),
            Some(None) => Pace::Unpaced,
            None => Pace::Shared,
        };
        let mut bearer = HeaderValue::try_from(format!("Bearer {}", self.secret.expose()))
            .map_err(|_| Error::Config("the app secret is not a valid header value".into()))?;
        bearer.set_sensitive(true);
        let transport = Arc::new(Transport::new(
            Provider::Cloudflare,
            &self.options,
            &base_url,
            Credentials::fixed(vec![(AUTHORIZATION, bearer)], vec![self.secret.clone()]),
            BudgetOf {
                credential: budget::fingerprint([self.app_id.as_str(), self.secret.expose()]),
                default: None,
            },
        )?);
        Ok(RealtimeClient {
            inner: Arc::new(Inner {
                api: Base::new(&base_url),
                transport,
                app_id: self.app_id,
                budget_scope: self.options.budget_scope(&base_url),
                base_url,
                secret: self.secret,
                pace,
            }),
        })
    }
}

impl RealtimeClient {
    /// The generated client for one request of `op`.
    pub(crate) fn api(&self, op: Planned) -> crate::generated::sfu::Client {
        self.inner.api.client(&self.inner.transport, op)
    }

    /// A client of app `app_id` with its secret, on Cloudflare's production host.
    pub fn new(app_id: impl Into<CallsAppId>, secret: impl Into<Secret>) -> Result<Self, Error> {
        Self::builder(app_id, secret).build()
    }

    /// A builder, to set the base URL, timeouts, retries, the per-session pace and the rest.
    pub fn builder(
        app_id: impl Into<CallsAppId>,
        secret: impl Into<Secret>,
    ) -> RealtimeClientBuilder {
        RealtimeClientBuilder {
            options: Options::default(),
            app_id: app_id.into(),
            secret: secret.into(),
        }
    }

    /// A client configured from the environment: `CLOUDFLARE_CALLS_APP_ID` and
    /// `CLOUDFLARE_CALLS_APP_SECRET`, and optionally `CLOUDFLARE_REALTIME_BASE_URL` (default
    /// `https://rtc.live.cloudflare.com/v1`). A missing variable is an [`Error::Config`] naming
    /// it.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env()?.build()
    }

    /// Like [`RealtimeClient::from_env`], returning the builder for further settings.
    pub fn builder_from_env() -> Result<RealtimeClientBuilder, Error> {
        builder_from(env_var)
    }

    /// The app this client runs sessions of.
    pub fn app_id(&self) -> &CallsAppId {
        &self.inner.app_id
    }

    /// A handle on session `id`, for its calls. Every handle of one session in the process
    /// (from any client of the same app, secret and host) shares its one-mutation-at-a-time
    /// gate and its pace.
    pub fn session(&self, id: impl Into<SessionId>) -> Session {
        let id = id.into();
        let inner = &self.inner;
        let fingerprint =
            budget::fingerprint([inner.app_id.as_str(), inner.secret.expose(), id.as_str()]);
        let key = (inner.base_url.clone(), fingerprint);
        let gate = {
            let mut gates = gates().lock().unwrap_or_else(|p| p.into_inner());
            // Forgotten ones are swept when the map has doubled: amortised O(1) per handle.
            if gates.len() >= 64 && gates.len().is_power_of_two() {
                gates.retain(|_, gate| gate.strong_count() > 0);
            }
            match gates.get(&key).and_then(Weak::upgrade) {
                Some(gate) => gate,
                None => {
                    let gate = Arc::new(Gate::new(()));
                    gates.insert(key, Arc::downgrade(&gate));
                    gate
                }
            }
        };
        let base_url = &inner.budget_scope;
        let budgets = match &inner.pace {
            Pace::Unpaced => Budgets::default(),
            Pace::Shared => Budgets::of(base_url, fingerprint, Some(SESSION_QUOTA), None),
            Pace::AlsoOwn(quota, own) => {
                let setting = Setting {
                    quota: *quota,
                    explicit: true,
                };
                let own = own.budget(base_url, fingerprint, setting);
                Budgets::of(base_url, fingerprint, Some(SESSION_QUOTA), Some(own))
            }
        };
        Session {
            client: self.clone(),
            id,
            gate,
            budgets,
            limits: Limits::default(),
        }
    }

    /// Creates a session. Never sent twice (a second request would be a second session): if
    /// the answer is lost, the error says so, and the session (if made) expires unused.
    pub async fn create_session(&self) -> Result<NewSession, Error> {
        self.create_session_with(&SessionOptions::default()).await
    }

    /// [`RealtimeClient::create_session`] with `thirdparty` and `correlationId`.
    pub async fn create_session_with(&self, options: &SessionOptions) -> Result<NewSession, Error> {
        let app = self.inner.app_id.segment()?;
        if let Some(label) = &options.correlation_id {
            if label.len() > MAX_CORRELATION_ID || label.chars().any(char::is_control) {
                return Err(refused(&format!(
                    "a correlation ID is at most {MAX_CORRELATION_ID} bytes of text without \
                     control characters"
                )));
            }
        }
        let third_party = options.third_party.then_some(true);
        let api = self.api(SESSIONS_NEW);
        let (answer, meta) = run(&api, None, || {
            api.sfu_sessions_new(app, options.correlation_id.as_deref(), third_party)
        })
        .await?;
        self.refuse_error_code(&meta, answer.error_code, answer.error_description)?;
        Ok(NewSession {
            session_id: SessionId::new(answer.session_id),
            session_description: SessionDescription::from_wire(answer.session_description),
        })
    }

    /// A request-level `errorCode` in a success answer: the request failed (though, as
    /// Cloudflare warns, that does not prove nothing changed).
    fn refuse_error_code(
        &self,
        meta: &Meta,
        code: Option<wire::SfuErrorCode>,
        description: Option<wire::SfuErrorDescription>,
    ) -> Result<(), Error> {
        let Some(code) = code else { return Ok(()) };
        let body = serde_json::json!({
            "errorCode": code.0,
            "errorDescription": description.map(|d| d.0),
        });
        let mut errors = realtime_errors(&body);
        if errors.is_empty() {
            errors.push(ApiError::message(code.0));
        }
        Err(self.inner.transport.failure(
            meta.endpoint(),
            meta.status,
            errors,
            Answer {
                request_id: meta.request_id(),
                ..Answer::default()
            },
            None,
        ))
    }
}

impl ErrorBody for wire::SfuError {
    /// `{errorCode, errorDescription}`, or any other common shape (ASSUMPTION; see the spec).
    fn api_errors(self) -> Vec<ApiError> {
        let mut errors = realtime_errors(&self.0);
        if errors.is_empty() {
            if let Some(code) = self.0.get("errorCode").and_then(|c| c.as_str()) {
                errors.push(ApiError::message(code));
            }
        }
        errors
    }

    /// A 2xx whose body cannot be the answer but carries an `errorCode` (a `sessions/new`
    /// without its `sessionId`) failed: the SFU's error, not a decode error.
    fn reports_failure(&self) -> bool {
        self.0.get("errorCode").is_some_and(|c| c.is_string())
    }
}

impl ErrorBody for wire::SfuAdapterAnswer {
    fn api_errors(self) -> Vec<ApiError> {
        let body = serde_json::json!({
            "errorCode": self.error_code.map(|c| c.0),
            "errorDescription": self.error_description.map(|d| d.0),
        });
        realtime_errors(&body)
    }
}

/// [`RealtimeClient::builder_from_env`] with the lookup injected (tests use a map).
pub(crate) fn builder_from(
    lookup: impl Fn(&str) -> Result<Option<String>, Error>,
) -> Result<RealtimeClientBuilder, Error> {
    let app_id = lookup("CLOUDFLARE_CALLS_APP_ID")?.ok_or_else(|| {
        Error::Config("CLOUDFLARE_CALLS_APP_ID is not set (the Calls app's uid)".into())
    })?;
    let secret = lookup("CLOUDFLARE_CALLS_APP_SECRET")?.ok_or_else(|| {
        Error::Config(
            "CLOUDFLARE_CALLS_APP_SECRET is not set (the app's secret, shown on create)".into(),
        )
    })?;
    let mut builder = RealtimeClient::builder(app_id, secret);
    if let Some(url) = lookup("CLOUDFLARE_REALTIME_BASE_URL")? {
        builder = builder.base_url(url);
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn env_names_what_is_missing_and_sets_the_base_url() {
        let from = |vars: &[(&str, &str)]| {
            let map: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            builder_from(|name| Ok(map.get(name).cloned()))
        };
        let message = |r: Result<RealtimeClientBuilder, Error>| match r {
            Err(Error::Config(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(message(from(&[])).contains("CLOUDFLARE_CALLS_APP_ID"));
        let app = "2a95132c15732412d22c1476fa83f27a";
        let only_app = from(&[("CLOUDFLARE_CALLS_APP_ID", app)]);
        assert!(message(only_app).contains("CLOUDFLARE_CALLS_APP_SECRET"));
        let client = from(&[
            ("CLOUDFLARE_CALLS_APP_ID", app),
            ("CLOUDFLARE_CALLS_APP_SECRET", "app-secret-value"),
            ("CLOUDFLARE_REALTIME_BASE_URL", "http://127.0.0.1:1/v1"),
        ])
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(client.inner.base_url, "http://127.0.0.1:1/v1");
        assert!(!format!("{client:?}").contains("app-secret-value"));
        let default = from(&[
            ("CLOUDFLARE_CALLS_APP_ID", app),
            ("CLOUDFLARE_CALLS_APP_SECRET", "s"),
        ]);
        let default = default.unwrap().build().unwrap();
        assert_eq!(default.inner.base_url, DEFAULT_REALTIME_BASE_URL);
    }
}
