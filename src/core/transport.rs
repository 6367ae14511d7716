//! The shared state of one client ([`Transport`]): its HTTP client, credentials, retry policy,
//! time limits, rate budgets and hooks. Every request's generated client carries it (through
//! its [`Call`](crate::core::request::Call)); [`run`](crate::core::run) runs requests through
//! it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::core::auth::Credentials;
use crate::core::budget::{self, Budgets};
use crate::core::config::{Options, ResponseHook};
use crate::core::error::Provider;
use crate::core::retry::{RetryConfig, Sleeper};
use crate::core::scrub::Known;
use crate::Error;

/// Shared state of one client: HTTP client, credentials, policy. Cheap to share (`Arc`).
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) provider: Provider,
    pub(crate) credentials: Credentials,
    pub(crate) user_agent: HeaderValue,
    pub(crate) retry: RetryConfig,
    pub(crate) request_timeout: Duration,
    pub(crate) total_timeout: Duration,
    /// The connect timeout of the client this crate builds: a timeout reqwest reports is it.
    pub(crate) connect_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    pub(crate) on_response: Option<ResponseHook>,
    /// The rate budgets its requests go through: the credential's, shared with every client
    /// that holds it, and the client's own quota if one was set by hand.
    pub(crate) budgets: Budgets,
    /// Answers in process instead of `http` (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) responder: Option<crate::test_util::Responder>,
}

/// Which rate budget a client's requests go through: its credential's (a fingerprint of what
/// identifies it) and the provider's default quota.
pub(crate) struct BudgetOf {
    pub(crate) credential: u64,
    pub(crate) default: Option<crate::Quota>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("provider", &self.provider)
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}
impl Transport {
    pub(crate) fn new(
        provider: Provider,
        options: &Options,
        base_url: &str,
        credentials: Credentials,
        budget_of: BudgetOf,
    ) -> Result<Self, Error> {
        let own = match options.rate_budget {
            Some(Some(quota)) => Some(budget::checked(quota).map_err(Error::Config)?),
            _ => None,
        };
        let user_agent = HeaderValue::from_str(&options.user_agent).map_err(|_| {
            Error::Config(format!(
                "user agent {:?} is not a valid header value",
                options.user_agent
            ))
        })?;
        let http = options.http_client(base_url)?;
        let budgets = match options.rate_budget {
            Some(None) => Budgets::default(),
            _ => Budgets::of(
                &options.budget_scope(base_url),
                budget_of.credential,
                budget_of.default,
                own.map(budget::Budget::own),
            ),
        };
        Ok(Self {
            http,
            provider,
            credentials,
            user_agent,
            retry: options.retry.clone(),
            request_timeout: options.request_timeout,
            total_timeout: options.total_timeout,
            connect_timeout: options.connect_timeout,
            max_body_bytes: options.max_body_bytes,
            sleeper: options.sleeper.clone(),
            on_response: options.on_response.clone(),
            budgets,
            #[cfg(any(test, feature = "test-util"))]
            responder: options.responder.clone(),
        })
    }

    /// The client's overall time limit per request.
    pub(crate) fn total_timeout(&self) -> Duration {
        self.total_timeout
    }

    /// The client's time limit per try.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Every secret this client holds now.
    pub(crate) fn known(&self) -> Arc<Known> {
        self.credentials.known()
    }

    /// What the rate budget knows now, if the client has one.
    pub(crate) fn budget_snapshot(&self) -> Option<crate::BudgetSnapshot> {
        self.budgets.snapshot()
    }
}
