//! Hover (usehover.com): apps of an organization, with JWT authentication.

use std::sync::Arc;
use std::time::Duration;

use crate::core::auth::Credentials;
use crate::core::budget;
use crate::core::config::{common_builder_methods, env_var, Options};
use crate::core::error::ErrorBody;
use crate::core::error::Provider;
use crate::core::error::{common_api_errors, error_text};
use crate::core::plan::{deadline_after, Planned};
use crate::core::request::{Base, Generated};
use crate::core::run::run;
use crate::core::transport::{BudgetOf, Transport};
use crate::generated::hover::types as gen;
use crate::operations as ops;
use crate::{ApiError, Error, Secret};

pub mod apps;
mod login;
pub use apps::{verify_webhook, Archived, HoverApp, HoverAppChanges, HoverApps, NewHoverApp};

/// Hover's production host (paths start with `/api/`).
pub const DEFAULT_BASE_URL: &str = "https://www.usehover.com";
/// Hover's staging host.
pub const STAGING_BASE_URL: &str = "https://stage.usehover.com";

/// The login: without the token (`security: []`) and sent once (`x-replay: once`).
pub(crate) const HOVER_AUTHENTICATE: Planned = Planned::new(&ops::HOVER_AUTHENTICATE);

/// Client for Hover's apps API.
///
/// Built from a token, it sends that token and returns a 401 as [`Error::Auth`]. Built from
/// an email and password, it logs in on first use and, when a request answers 401 (the JWT
/// lives about two hours), logs in once more and retries that request once.
///
/// Logins are shared and spaced: however many requests need one at the same time, one login
/// request is sent (once, never retried), and its outcome, success or failure, is every waiting
/// caller's, even if the caller that started it gave up. After a rejected login (401, 403 or
/// 429) no new login is sent for 5 seconds, doubling with each further rejection up to 5
/// minutes; requests in that time get the rejection at once. Within 5 seconds of a successful
/// login none is sent either: a 401 on a token that fresh is returned as it is. A wrong or
/// rotated password, or a server that rejects every token, therefore cannot turn a burst of
/// requests into a burst of logins that locks the account. The cooldown is per client
/// ([`HoverClientBuilder::login_cooldown`]).
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
    api: Base<crate::generated::hover::Client>,
    credentials: Option<(String, Secret)>,
    /// One login at a time, shared, spaced (see [`login`]).
    logins: login::Logins,
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

    /// How long no login is sent after the last one (default 5 s; after a rejection it doubles
    /// with each further rejection in a row, up to 5 minutes). Calls in that time get the
    /// rejection at once, or, after a success, their 401. Lower it only in tests (a test that
    /// expires the fake's tokens right after logging in needs `Duration::ZERO`): repeated
    /// failed logins can lock a Hover account.
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
            &base_url,
            Credentials::renewable(reqwest::header::AUTHORIZATION, known),
            BudgetOf {
                credential: match (&self.token, &self.credentials) {
                    (_, Some((email, password))) => {
                        budget::fingerprint([email.as_str(), password.expose()])
                    }
                    (token, None) => budget::fingerprint(token.iter().map(Secret::expose)),
                },
                default: None,
            },
        )?);
        if let Some(token) = &self.token {
            use_token(&transport, token)?;
        }
        Ok(HoverClient {
            inner: Arc::new(Inner {
                api: Base::new(&base_url),
                transport,
                credentials: self.credentials,
                logins: login::Logins::new(self.login_cooldown.unwrap_or(login::LOGIN_COOLDOWN)),
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

    /// What the rate budget of this client's credential knows now; `None` when it has none
    /// (the default: Hover documents no limit). See [`HoverClientBuilder::rate_budget`].
    pub fn rate_budget(&self) -> Option<crate::BudgetSnapshot> {
        self.inner.transport.budget_snapshot()
    }

    /// Logs in now (a client built from credentials otherwise logs in on first use). Within
    /// the cooldown after a successful login, the token is fresh and nothing is sent.
    pub async fn authenticate(&self) -> Result<(), Error> {
        let op = HOVER_AUTHENTICATE.until(deadline_after(self.inner.transport.total_timeout()));
        self.refresh_token(self.inner.logins.generation(), op)
            .await
            .map(drop)
    }

    /// The generated client for one request of `op`, whose deadline is fixed now: the login,
    /// the request and its retry share it.
    fn api(&self, op: Planned) -> crate::generated::hover::Client {
        let total = op.total.unwrap_or(self.inner.transport.total_timeout());
        let op = op.until(deadline_after(total));
        self.inner.api.client(&self.inner.transport, op)
    }

    /// Runs a generated request on `api` ([`HoverClient::api`]), logging in first if needed and once more on a 401. The
    /// login, the request and its retry share one deadline.
    async fn request<T, F, Fut>(
        &self,
        api: &crate::generated::hover::Client,
        make: F,
    ) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<
            Output = Result<
                progenitor_client::ResponseValue<T>,
                progenitor_client::Error<gen::HoverError>,
            >,
        >,
    {
        let op = api.call().op;
        let can_login = self.inner.credentials.is_some();
        let seen = self.inner.logins.generation();
        // A dry run sends nothing, a login least of all.
        let needs_login = !self.inner.transport.credentials.present();
        if can_login && needs_login && !crate::core::dry_run::active() {
            // Boxed: logins are rare, and their future would enlarge every request's.
            Box::pin(self.refresh_token(seen, op)).await?;
        }
        let seen = self.inner.logins.generation();
        match run(api, None, &make).await {
            Err(Error::Auth(failure)) if failure.status == 401 && can_login => {
                match Box::pin(self.refresh_token(seen, op)).await? {
                    login::Refresh::LoggedIn => {
                        tracing::debug!(operation = op.id(), "401: logged in again, retrying once");
                        Ok(run(api, None, &make).await?.0)
                    }
                    // The token was minutes old at most: another would not help.
                    login::Refresh::TooSoon => Err(Error::Auth(failure)),
                }
            }
            other => Ok(other?.0),
        }
    }
}

impl ErrorBody for gen::HoverError {
    /// Hover documents no error format: the shapes JSON APIs commonly use are read, and Rails'
    /// validation errors, `{"errors": {"field": ["problem", ...]}}`.
    fn api_errors(self) -> Vec<ApiError> {
        let mut errors = common_api_errors(&self.0);
        if let Some(fields) = self.0.get("errors").and_then(serde_json::Value::as_object) {
            for (field, problems) in fields {
                let problems: Vec<String> = match problems {
                    serde_json::Value::Array(list) => list.iter().filter_map(error_text).collect(),
                    other => error_text(other).into_iter().collect(),
                };
                for problem in problems {
                    let mut error = ApiError::message(format!("{field} {problem}"));
                    error.pointer = Some(format!("/app/{field}"));
                    errors.push(error);
                }
            }
        }
        errors
    }
}

/// Sends `token` (bare, as Hover takes it) from now on.
pub(crate) fn use_token(transport: &Transport, token: &Secret) -> Result<(), Error> {
    let value = reqwest::header::HeaderValue::from_str(token.expose())
        .map_err(|_| Error::Config("the token is not a valid header value".into()))?;
    transport.credentials.renew(token, value);
    Ok(())
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
