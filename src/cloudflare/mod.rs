//! Cloudflare: one client for Calls apps, Calls TURN keys and Magic account apps (with the
//! account's credentials), and the TURN credentials client (with a TURN key's own token).

use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};

use crate::core::auth;
use crate::core::budget;
use crate::core::config::{common_builder_methods, env_var, Options};
use crate::core::envelope::{self, Envelope, MessageHandler};
use crate::core::error::ErrorBody;
use crate::core::error::Provider;
use crate::core::request::{Base, Generated};
use crate::core::transport::{BudgetOf, Transport};
use crate::{AccountId, ApiError, Endpoint, Error, Secret};

#[cfg(feature = "cloudflare-calls")]
pub mod calls;
#[cfg(feature = "cloudflare-magic")]
pub mod magic;
#[cfg(feature = "cloudflare-calls")]
pub mod sfu;
#[cfg(feature = "cloudflare-calls")]
pub mod turn;
#[cfg(feature = "cloudflare-calls")]
pub mod turn_keys;

/// Cloudflare's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// How the client authenticates to Cloudflare.
///
/// `Debug` shows which kind it is and the email, never the token or key.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// An API token, sent as `Authorization: Bearer <token>` (Calls and Magic).
    ApiToken(Secret),
    /// The legacy global API key with its account email, sent as `X-Auth-Email` and
    /// `X-Auth-Key`. Magic accepts it; Calls documents only tokens.
    ApiKey {
        /// The account's email.
        email: String,
        /// The global API key.
        key: Secret,
    },
}

impl Credentials {
    /// An API token.
    pub fn api_token(token: impl Into<Secret>) -> Self {
        Credentials::ApiToken(token.into())
    }

    /// A global API key and its email.
    pub fn api_key(email: impl Into<String>, key: impl Into<Secret>) -> Self {
        Credentials::ApiKey {
            email: email.into(),
            key: key.into(),
        }
    }

    fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        let sensitive = |value: String, what: &str| {
            let mut value = HeaderValue::try_from(value)
                .map_err(|_| Error::Config(format!("the {what} is not a valid header value")))?;
            value.set_sensitive(true);
            Ok::<_, Error>(value)
        };
        Ok(match self {
            Credentials::ApiToken(token) => vec![(
                AUTHORIZATION,
                sensitive(format!("Bearer {}", token.expose()), "API token")?,
            )],
            Credentials::ApiKey { email, key } => vec![
                (
                    HeaderName::from_static("x-auth-email"),
                    sensitive(email.clone(), "email")?,
                ),
                (
                    HeaderName::from_static("x-auth-key"),
                    sensitive(key.expose().to_string(), "API key")?,
                ),
            ],
        })
    }

    /// The credential, hashed: the budget's key (Cloudflare counts per user; a user's tokens
    /// each get a budget, corrected by the `Ratelimit` reports, which count the user's requests).
    fn fingerprint(&self) -> u64 {
        match self {
            Credentials::ApiToken(token) => budget::fingerprint([token.expose()]),
            Credentials::ApiKey { email, key } => {
                budget::fingerprint([email.as_str(), key.expose()])
            }
        }
    }

    fn secret(&self) -> &Secret {
        match self {
            Credentials::ApiToken(token) => token,
            Credentials::ApiKey { key, .. } => key,
        }
    }
}

/// Client for Cloudflare's Calls apps, Calls TURN keys and Magic account apps APIs.
///
/// Cheap to clone (one `Arc`); clones share one connection pool. `Send + Sync`.
///
/// ```no_run
/// # async fn run() -> Result<(), apps_api::Error> {
/// use apps_api::cloudflare::{CloudflareClient, Credentials};
/// let cf = CloudflareClient::builder()
///     .credentials(Credentials::api_token("my-token"))
///     .build()?;
/// for app in cf.calls("023e105f4ecef8ad9ca31a8372d0c353").list().await? {
///     println!("{:?} {:?}", app.id, app.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CloudflareClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Arc<Transport>,
    #[cfg(feature = "cloudflare-calls")]
    calls: Base<crate::generated::calls::Client>,
    #[cfg(feature = "cloudflare-magic")]
    magic: Base<crate::generated::magic::Client>,
    default_account: Option<AccountId>,
    on_messages: Option<MessageHandler>,
    /// Calls documents API tokens only; a client with the global key refuses Calls requests.
    token_auth: bool,
}

impl std::fmt::Debug for CloudflareClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareClient")
            .field("transport", &self.inner.transport)
            .field("default_account", &self.inner.default_account)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CloudflareClient`].
#[derive(Default)]
#[must_use]
pub struct CloudflareClientBuilder {
    pub(crate) options: Options,
    credentials: Option<Credentials>,
    default_account: Option<AccountId>,
    on_messages: Option<MessageHandler>,
}

impl std::fmt::Debug for CloudflareClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareClientBuilder")
            .field("options", &self.options)
            .field("credentials", &self.credentials)
            .field("default_account", &self.default_account)
            .finish_non_exhaustive()
    }
}

impl CloudflareClientBuilder {
    common_builder_methods!();

    /// The credentials to send (required).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The account [`CloudflareClient::default_account`] returns.
    pub fn default_account(mut self, account: impl Into<AccountId>) -> Self {
        self.default_account = Some(account.into());
        self
    }

    /// Called with the non-fatal `messages` Cloudflare attaches to a successful answer. They
    /// are also logged with `tracing` at INFO.
    pub fn on_messages(
        mut self,
        handler: impl Fn(&Endpoint, &[ApiError]) + Send + Sync + 'static,
    ) -> Self {
        self.on_messages = Some(Arc::new(handler));
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<CloudflareClient, Error> {
        let credentials = self.credentials.ok_or_else(|| {
            Error::Config(
                "Cloudflare credentials are required (an API token, or email + key)".into(),
            )
        })?;
        let base_url = self.options.base_url(DEFAULT_BASE_URL)?;
        let transport = Arc::new(Transport::new(
            Provider::Cloudflare,
            &self.options,
            &base_url,
            auth::Credentials::fixed(credentials.headers()?, vec![credentials.secret().clone()]),
            BudgetOf {
                credential: credentials.fingerprint(),
                default: Some(crate::Quota::CLOUDFLARE),
            },
        )?);
        let inner = Inner {
            #[cfg(feature = "cloudflare-calls")]
            calls: Base::new(&base_url),
            #[cfg(feature = "cloudflare-magic")]
            magic: Base::new(&base_url),
            transport,
            default_account: self.default_account,
            on_messages: self.on_messages,
            token_auth: matches!(credentials, Credentials::ApiToken(_)),
        };
        Ok(CloudflareClient {
            inner: Arc::new(inner),
        })
    }
}

impl CloudflareClient {
    /// A builder with the defaults: production base URL, 5 s connect and 60 s request
    /// timeouts, 2 retries.
    pub fn builder() -> CloudflareClientBuilder {
        CloudflareClientBuilder::default()
    }

    /// A client configured from the environment: `CLOUDFLARE_API_TOKEN`, or
    /// `CLOUDFLARE_API_KEY` with `CLOUDFLARE_EMAIL`; optional `CLOUDFLARE_ACCOUNT_ID` (the
    /// default account) and `CLOUDFLARE_BASE_URL`. A missing or contradictory variable is a
    /// [`Error::Config`] naming it.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env()?.build()
    }

    /// Like [`CloudflareClient::from_env`], returning the builder for further settings.
    pub fn builder_from_env() -> Result<CloudflareClientBuilder, Error> {
        builder_from(env_var)
    }

    /// What the rate budget of this client's credential knows now (shared with every client
    /// built with the same credential and base URL); `None` when it has none. See
    /// [`CloudflareClientBuilder::rate_budget`].
    pub fn rate_budget(&self) -> Option<crate::BudgetSnapshot> {
        self.inner.transport.budget_snapshot()
    }

    /// The default account (from the builder or `CLOUDFLARE_ACCOUNT_ID`).
    pub fn default_account(&self) -> Result<AccountId, Error> {
        self.inner.default_account.clone().ok_or_else(|| {
            Error::Config(
                "no default Cloudflare account: set CLOUDFLARE_ACCOUNT_ID or call \
                 default_account() on the builder"
                    .into(),
            )
        })
    }

    /// `account` as a path segment, once the client's credentials are known to be accepted by
    /// Calls (apps and TURN keys): it documents API tokens only, so a client holding the global
    /// key refuses before sending rather than hand the key to an endpoint that will not take it.
    #[cfg(feature = "cloudflare-calls")]
    fn calls_account<'a>(&self, account: &'a AccountId) -> Result<&'a str, Error> {
        if !self.inner.token_auth {
            return Err(Error::Config(
                "Calls accepts only API tokens (Authorization: Bearer); this client was built \
                 with the global API key and email, which Magic accepts but Calls does not"
                    .into(),
            ));
        }
        account.segment()
    }

    /// Runs a generated request on `api` and unwraps its envelope.
    async fn request<C, B, E, F, Fut>(
        &self,
        api: &C,
        account: &str,
        make: F,
    ) -> Result<B::Result, Error>
    where
        C: Generated,
        B: Envelope,
        E: ErrorBody,
        F: Fn() -> Fut,
        Fut: std::future::Future<
            Output = Result<progenitor_client::ResponseValue<B>, progenitor_client::Error<E>>,
        >,
    {
        self.request_checked(api, account, make, Ok).await
    }

    /// [`CloudflareClient::request`], with `check` turning a result that lacks something the
    /// caller needs into a decode error.
    async fn request_checked<C, B, E, F, Fut, T>(
        &self,
        api: &C,
        account: &str,
        make: F,
        check: impl FnOnce(B::Result) -> Result<T, &'static str>,
    ) -> Result<T, Error>
    where
        C: Generated,
        B: Envelope,
        E: ErrorBody,
        F: Fn() -> Fut,
        Fut: std::future::Future<
            Output = Result<progenitor_client::ResponseValue<B>, progenitor_client::Error<E>>,
        >,
    {
        let transport = &self.inner.transport;
        let (body, meta) = crate::core::run::run(api, Some(account), make).await?;
        envelope::unwrap(
            transport,
            body,
            meta,
            self.inner.on_messages.as_ref(),
            check,
        )
    }
}

/// [`CloudflareClient::builder_from_env`] with the lookup injected (tests use a map).
pub(crate) fn builder_from(
    lookup: impl Fn(&str) -> Result<Option<String>, Error>,
) -> Result<CloudflareClientBuilder, Error> {
    let token = lookup("CLOUDFLARE_API_TOKEN")?;
    let key = lookup("CLOUDFLARE_API_KEY")?;
    let email = lookup("CLOUDFLARE_EMAIL")?;
    let credentials =
        match (token, key, email) {
            (Some(_), Some(_), _) => {
                return Err(Error::Config(
                    "both CLOUDFLARE_API_TOKEN and CLOUDFLARE_API_KEY are set; set only one".into(),
                ))
            }
            (Some(token), None, _) => Credentials::api_token(token),
            (None, Some(key), Some(email)) => Credentials::api_key(email, key),
            (None, Some(_), None) => return Err(Error::Config(
                "CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not; the key needs its email"
                    .into(),
            )),
            (None, None, _) => return Err(Error::Config(
                "CLOUDFLARE_API_TOKEN is not set (or set CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL)"
                    .into(),
            )),
        };
    let mut builder = CloudflareClient::builder().credentials(credentials);
    if let Some(account) = lookup("CLOUDFLARE_ACCOUNT_ID")? {
        builder = builder.default_account(account);
    }
    if let Some(url) = lookup("CLOUDFLARE_BASE_URL")? {
        builder = builder.base_url(url);
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<CloudflareClientBuilder, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        builder_from(|name| Ok(map.get(name).cloned()))
    }

    fn config_message(result: Result<CloudflareClientBuilder, Error>) -> String {
        match result {
            Err(Error::Config(message)) => message,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn env_errors_name_the_variable() {
        assert!(config_message(from(&[])).contains("CLOUDFLARE_API_TOKEN"));
        assert!(config_message(from(&[("CLOUDFLARE_API_KEY", "k")])).contains("CLOUDFLARE_EMAIL"));
        let both = config_message(from(&[
            ("CLOUDFLARE_API_TOKEN", "t"),
            ("CLOUDFLARE_API_KEY", "k"),
        ]));
        assert!(both.contains("CLOUDFLARE_API_TOKEN") && both.contains("CLOUDFLARE_API_KEY"));
    }

    #[test]
    fn env_builds_a_client_with_account_and_base_url() {
        let client = from(&[
            ("CLOUDFLARE_API_TOKEN", "t0ken-value"),
            ("CLOUDFLARE_ACCOUNT_ID", "acc"),
            ("CLOUDFLARE_BASE_URL", "http://127.0.0.1:1/client/v4"),
        ])
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(client.default_account().unwrap().as_str(), "acc");
        assert!(!format!("{client:?}").contains("t0ken-value"));
        let bad = from(&[
            ("CLOUDFLARE_API_TOKEN", "t"),
            ("CLOUDFLARE_BASE_URL", "not a url"),
        ])
        .unwrap()
        .build();
        assert!(matches!(bad, Err(Error::Config(m)) if m.contains("not a url")));
    }

    /// `CLOUDFLARE_BASE_URL` gets the builder's checks: no cleartext off loopback, no user
    /// info, and the error never echoes the password.
    #[test]
    fn env_base_url_is_checked_like_the_builders() {
        for (url, expect) in [
            ("http://api.example.com/client/v4", "cleartext"),
            ("https://ops:hunter2@api.example.com/client/v4", "user info"),
        ] {
            let err = from(&[("CLOUDFLARE_API_TOKEN", "t"), ("CLOUDFLARE_BASE_URL", url)])
                .unwrap()
                .build()
                .unwrap_err();
            let shown = err.to_string();
            assert!(
                shown.contains(expect) && !shown.contains("hunter2"),
                "{shown}"
            );
        }
    }
}
