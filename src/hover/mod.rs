//! Hover (usehover.com): apps of an organization, with JWT authentication.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::core::config::{common_builder_methods, env_var, Options};
use crate::core::error::{CallSite, Provider};
use crate::core::transport::{deadline_after, Auth, ErrorBody, Op, Transport};
use crate::generated::hover::types as gen;
use crate::{ApiError, Error, Secret};

pub mod apps;
pub use apps::{verify_webhook, AppChanges, Archived, HoverApp, HoverApps, NewHoverApp};

/// Hover's production host (paths start with `/api/`).
pub const DEFAULT_BASE_URL: &str = "https://www.usehover.com";
/// Hover's staging host.
pub const STAGING_BASE_URL: &str = "https://stage.usehover.com";

const AUTHENTICATE: Op = Op::new("authenticate", "POST", "/api/authenticate");

/// Client for Hover's apps API.
///
/// Built from a token, it sends that token and returns a 401 as [`Error::Auth`]. Built from
/// an email and password, it logs in on first use and, when a call answers 401 (the JWT lives
/// about two hours), logs in once more and retries that call once.
///
/// Logins are shared: however many calls need one at the same time, one login request is
/// sent, and its outcome, success or failure, is every waiting caller's. After a rejected
/// login (401, 403 or 429) no new login is sent for 5 seconds, doubling with each further
/// rejection up to 5 minutes; calls in that time get the rejection at once. A wrong or rotated
/// password therefore cannot turn a burst of calls into a burst of logins that locks the
/// account.
///
/// Cheap to clone (one `Arc`); clones share one connection pool and one token.
///
/// ```no_run
/// # async fn run() -> Result<(), apps_api::Error> {
/// use apps_api::hover::{HoverClient, NewHoverApp};
/// let hover = HoverClient::login("me@example.com", "password").await?;
/// let app = hover.apps().create(&NewHoverApp::new("Example App", "com.example.app")).await?;
/// hover.apps().archive(&app.id).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HoverClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Arc<Transport>,
    api: crate::generated::hover::Client,
    credentials: Option<(String, Secret)>,
    login_cooldown: Duration,
    /// Serializes logins and keeps the last one's outcome, so concurrent 401s cause one login,
    /// not one each, and a failed login is shared rather than repeated.
    login: tokio::sync::Mutex<LoginState>,
    /// Bumped by each login attempt (under `login`); a caller that saw an older value knows a
    /// newer outcome exists.
    login_generation: AtomicU64,
}

#[derive(Default)]
struct LoginState {
    /// When the last login was sent, and how it failed (`None`: it succeeded).
    last: Option<(Instant, Option<Error>)>,
    /// Rejected logins in a row.
    rejections: u32,
}

/// How long no login is sent after the first rejected one (it doubles with each further one).
const LOGIN_COOLDOWN: Duration = Duration::from_secs(5);

/// How long after `rejections` rejected logins in a row no new login is sent.
fn login_cooldown(first: Duration, rejections: u32) -> Duration {
    const LONGEST: Duration = Duration::from_secs(5 * 60);
    first
        .saturating_mul(2u32.saturating_pow(rejections.saturating_sub(1)))
        .min(LONGEST.max(first))
}

impl std::fmt::Debug for HoverClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HoverClient")
            .field("transport", &self.inner.transport)
            .field("email", &self.inner.credentials.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

/// Builds a [`HoverClient`].
#[derive(Default)]
#[must_use]
pub struct HoverClientBuilder {
    pub(crate) options: Options,
    token: Option<Secret>,
    credentials: Option<(String, Secret)>,
    login_cooldown: Option<Duration>,
}

impl std::fmt::Debug for HoverClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HoverClientBuilder")
            .field("options", &self.options)
            .field("token", &self.token)
            .field("email", &self.credentials.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

impl HoverClientBuilder {
    common_builder_methods!();

    /// Authenticate with this JWT (a 401 is then returned, not retried).
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Authenticate with an email and password (logs in on first use and again on a 401).
    pub fn credentials(mut self, email: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.credentials = Some((email.into(), password.into()));
        self
    }

    /// How long no login is sent after a rejected one (default 5 s, doubling with each further
    /// rejection in a row up to 5 minutes). Calls in that time get the rejection at once.
    /// Lower it only in tests: repeated failed logins can lock a Hover account.
    pub fn login_cooldown(mut self, first: Duration) -> Self {
        self.login_cooldown = Some(first);
        self
    }

    /// Builds the client. No request is sent yet.
    pub fn build(self) -> Result<HoverClient, Error> {
        if self.token.is_some() && self.credentials.is_some() {
            return Err(Error::Config(
                "give Hover either a token or an email and password, not both".into(),
            ));
        }
        if self.token.is_none() && self.credentials.is_none() {
            return Err(Error::Config(
                "Hover needs a token, or an email and password".into(),
            ));
        }
        let base_url = self.options.base_url(DEFAULT_BASE_URL)?;
        let mut known = Vec::new();
        known.extend(self.token.clone());
        known.extend(self.credentials.as_ref().map(|c| c.1.clone()));
        let transport = Arc::new(Transport::new(
            Provider::Hover,
            &self.options,
            Auth::Token(Default::default()),
            known,
        )?);
        if let Some(token) = &self.token {
            transport.set_token(token)?;
        }
        Ok(HoverClient {
            inner: Arc::new(Inner {
                api: crate::generated::hover::Client::new_with_client(
                    &base_url,
                    transport.http.clone(),
                    transport.clone(),
                ),
                transport,
                credentials: self.credentials,
                login_cooldown: self.login_cooldown.unwrap_or(LOGIN_COOLDOWN),
                login: tokio::sync::Mutex::new(LoginState::default()),
                login_generation: AtomicU64::new(0),
            }),
        })
    }
}

impl HoverClient {
    /// A builder with the defaults: production host, 5 s connect and 60 s request timeouts,
    /// 2 retries.
    pub fn builder() -> HoverClientBuilder {
        HoverClientBuilder::default()
    }

    /// Logs in to production with an email and password (`POST /api/authenticate`).
    pub async fn login(
        email: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Result<Self, Error> {
        let client = Self::builder().credentials(email, password).build()?;
        client.authenticate().await?;
        Ok(client)
    }

    /// A client configured from the environment: `HOVER_API_TOKEN`, or `HOVER_EMAIL` with
    /// `HOVER_PASSWORD`; optional `HOVER_BASE_URL`. A missing or contradictory variable is a
    /// [`Error::Config`] naming it.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env()?.build()
    }

    /// Like [`HoverClient::from_env`], returning the builder for further settings.
    pub fn builder_from_env() -> Result<HoverClientBuilder, Error> {
        builder_from(env_var)
    }

    /// Logs in now (a client built from credentials otherwise logs in on first use).
    pub async fn authenticate(&self) -> Result<(), Error> {
        let op = AUTHENTICATE.until(deadline_after(self.inner.transport.total_timeout()));
        self.refresh_token(self.inner.login_generation.load(Ordering::Acquire), op)
            .await
    }

    /// Logs in, unless another caller's login happened since `seen` was read (its outcome is
    /// then this caller's too) or the last login was rejected too recently (that rejection is
    /// then this caller's answer). `limits` carries the calling handle's time limits.
    async fn refresh_token(&self, seen: u64, limits: Op) -> Result<(), Error> {
        let Some((email, password)) = &self.inner.credentials else {
            return Err(Error::Config(
                "this Hover client was built from a token; it cannot log in again".into(),
            ));
        };
        let login = Op {
            timeout: limits.timeout,
            total: limits.total,
            deadline: limits.deadline,
            ..AUTHENTICATE
        };
        let deadline = login
            .deadline
            .unwrap_or_else(|| deadline_after(self.inner.transport.total_timeout()));
        // Waiting for another caller's login counts against this call's deadline.
        let Ok(mut state) = tokio::time::timeout_at(deadline, self.inner.login.lock()).await else {
            return Err(Error::Timeout {
                call: Box::new(CallSite {
                    provider: Provider::Hover,
                    operation: AUTHENTICATE.id,
                    method: AUTHENTICATE.method,
                    path: AUTHENTICATE.path.to_string(),
                }),
                after: login.total.unwrap_or(self.inner.transport.total_timeout()),
            });
        };
        let shared = |last: &Option<(Instant, Option<Error>)>| match last {
            Some((_, Some(failure))) => Err(failure.duplicate()),
            _ => Ok(()),
        };
        if self.inner.login_generation.load(Ordering::Acquire) != seen {
            return shared(&state.last);
        }
        if let (Some((at, Some(_))), true) = (&state.last, state.rejections > 0) {
            if at.elapsed() < login_cooldown(self.inner.login_cooldown, state.rejections) {
                tracing::debug!("a login was rejected moments ago; not sending another yet");
                return shared(&state.last);
            }
        }
        let body = gen::HoverCredentials {
            email: email.clone(),
            password: password.clone(),
        };
        let sent = Instant::now();
        let outcome = self
            .inner
            .transport
            .run(login, None, || self.inner.api.authenticate(&body))
            .await
            .and_then(|(answer, _)| self.inner.transport.set_token(&answer.auth_token));
        let rejected = matches!(outcome, Err(Error::Auth(_) | Error::RateLimited(_)));
        state.rejections = if rejected { state.rejections + 1 } else { 0 };
        state.last = Some((sent, outcome.as_ref().err().map(Error::duplicate)));
        self.inner.login_generation.fetch_add(1, Ordering::AcqRel);
        outcome
    }

    /// Runs a generated call, logging in first if needed and once more on a 401. The login,
    /// the call and its retry share one deadline.
    async fn call<T, F, Fut>(&self, op: Op, make: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<
            Output = Result<
                progenitor_client::ResponseValue<T>,
                progenitor_client::Error<gen::HoverError>,
            >,
        >,
    {
        let total = op.total.unwrap_or(self.inner.transport.total_timeout());
        let op = op.until(deadline_after(total));
        let can_login = self.inner.credentials.is_some();
        let seen = self.inner.login_generation.load(Ordering::Acquire);
        if can_login && !self.inner.transport.has_token() {
            // Boxed: logins are rare, and their future would enlarge every call's.
            Box::pin(self.refresh_token(seen, op)).await?;
        }
        let seen = self.inner.login_generation.load(Ordering::Acquire);
        match self.inner.transport.run(op, None, &make).await {
            Err(Error::Auth(failure)) if failure.status == 401 && can_login => {
                tracing::debug!(operation = op.id, "401: logging in again and retrying once");
                Box::pin(self.refresh_token(seen, op)).await?;
                Ok(self.inner.transport.run(op, None, &make).await?.0)
            }
            other => Ok(other?.0),
        }
    }
}

impl ErrorBody for gen::HoverError {
    /// Hover documents no error format; Rails-style shapes seen in practice are read.
    fn api_errors(self) -> Vec<ApiError> {
        crate::core::error::lenient_api_errors(&self.0)
    }
}

/// [`HoverClient::builder_from_env`] with the lookup injected (tests use a map).
pub(crate) fn builder_from(
    lookup: impl Fn(&str) -> Result<Option<String>, Error>,
) -> Result<HoverClientBuilder, Error> {
    let token = lookup("HOVER_API_TOKEN")?;
    let email = lookup("HOVER_EMAIL")?;
    let password = lookup("HOVER_PASSWORD")?;
    let mut builder = HoverClient::builder();
    builder =
        match (token, email, password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => return Err(Error::Config(
                "HOVER_API_TOKEN is set together with HOVER_EMAIL/HOVER_PASSWORD; set only one way"
                    .into(),
            )),
            (Some(token), None, None) => builder.token(token),
            (None, Some(email), Some(password)) => builder.credentials(email, password),
            (None, Some(_), None) => {
                return Err(Error::Config(
                    "HOVER_EMAIL is set but HOVER_PASSWORD is not".into(),
                ))
            }
            (None, None, Some(_)) => {
                return Err(Error::Config(
                    "HOVER_PASSWORD is set but HOVER_EMAIL is not".into(),
                ))
            }
            (None, None, None) => {
                return Err(Error::Config(
                    "HOVER_API_TOKEN is not set (or set HOVER_EMAIL and HOVER_PASSWORD)".into(),
                ))
            }
        };
    if let Some(url) = lookup("HOVER_BASE_URL")? {
        builder = builder.base_url(url);
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<HoverClientBuilder, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        builder_from(|name| Ok(map.get(name).cloned()))
    }

    #[test]
    fn env_errors_name_the_variable() {
        let message = |r: Result<HoverClientBuilder, Error>| match r {
            Err(Error::Config(m)) => m,
            other => panic!("expected Config, got {other:?}"),
        };
        assert!(message(from(&[])).contains("HOVER_API_TOKEN"));
        assert!(message(from(&[("HOVER_EMAIL", "e")])).contains("HOVER_PASSWORD"));
        assert!(message(from(&[("HOVER_PASSWORD", "p")])).contains("HOVER_EMAIL"));
        assert!(
            message(from(&[("HOVER_API_TOKEN", "t"), ("HOVER_EMAIL", "e")]))
                .contains("HOVER_API_TOKEN")
        );
        let client = from(&[
            ("HOVER_EMAIL", "e@x"),
            ("HOVER_PASSWORD", "pw-secret-value"),
        ])
        .unwrap()
        .build()
        .unwrap();
        assert!(!format!("{client:?}").contains("pw-secret-value"));
    }

    /// `HOVER_BASE_URL` gets the builder's checks (no cleartext, no user info, no echo).
    #[test]
    fn env_base_url_is_checked_like_the_builders() {
        for url in [
            "http://www.usehover.com",
            "https://me:hunter2@www.usehover.com",
        ] {
            let err = from(&[("HOVER_API_TOKEN", "t"), ("HOVER_BASE_URL", url)])
                .unwrap()
                .build()
                .unwrap_err();
            assert!(
                matches!(&err, Error::Config(m) if !m.contains("hunter2")),
                "{err:?}"
            );
        }
        from(&[
            ("HOVER_API_TOKEN", "t"),
            ("HOVER_BASE_URL", "http://127.0.0.1:8787"),
        ])
        .unwrap()
        .build()
        .unwrap();
    }

    #[test]
    fn error_bodies_are_read_leniently() {
        let errors = |v: serde_json::Value| -> Vec<String> {
            gen::HoverError(v)
                .api_errors()
                .into_iter()
                .map(|e| e.message)
                .collect()
        };
        assert_eq!(
            errors(serde_json::json!({"error": "Not Authorized"})),
            ["Not Authorized"]
        );
        assert_eq!(
            errors(serde_json::json!({"errors": {"name": ["can't be blank"]}})),
            ["name can't be blank"]
        );
        assert_eq!(
            errors(serde_json::json!({"errors": [{"detail": "bad"}, "worse"]})),
            ["bad", "worse"]
        );
        assert!(errors(serde_json::json!([1, 2])).is_empty());
    }
}
