//! Builder options shared by every provider's client.

use std::sync::Arc;
use std::time::Duration;

use crate::core::retry::{RetryConfig, Sleeper, TokioSleeper};
use crate::Error;

/// The largest response body a client reads (16 MiB); a longer one is a [`Error::Decode`].
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Options every client builder has.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) base_url: Option<String>,
    pub(crate) user_agent: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) retry: RetryConfig,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) max_body_bytes: usize,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    /// Answers requests in-process instead of the network (the decoder fuzz tests).
    #[cfg(test)]
    pub(crate) responder: Option<crate::core::transport::Responder>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            base_url: None,
            user_agent: concat!("apps-api/", env!("CARGO_PKG_VERSION")).to_string(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            retry: RetryConfig::default(),
            http_client: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            sleeper: Arc::new(TokioSleeper),
            #[cfg(test)]
            responder: None,
        }
    }
}

impl Options {
    /// The base URL to use, checked: absolute http(s), no trailing slash.
    pub(crate) fn base_url(&self, default: &str) -> Result<String, Error> {
        let raw = self.base_url.as_deref().unwrap_or(default);
        let url = reqwest::Url::parse(raw)
            .map_err(|e| Error::Config(format!("base URL {raw:?} is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::Config(format!(
                "base URL {raw:?} must be an http:// or https:// URL with a host"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Config(format!(
                "base URL {raw:?} must not have a query or fragment"
            )));
        }
        Ok(raw.trim_end_matches('/').to_string())
    }

    /// The caller's `reqwest::Client`, or one with this crate's TLS, timeouts and pool.
    /// The HTTP client, and whether this crate built it. One it built applies
    /// [`Options::request_timeout`] itself; one the user passed in gets the limit set on each
    /// request instead.
    pub(crate) fn http_client(&self) -> Result<(reqwest::Client, bool), Error> {
        if let Some(client) = &self.http_client {
            return Ok((client.clone(), false));
        }
        // ring as the rustls provider, passed in rather than installed process-wide: no global
        // state, and it builds in half the time of aws-lc (see benches/README.md).
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                use rustls_platform_verifier::BuilderVerifierExt;
                b.with_platform_verifier()
            })
            .map_err(|e| Error::Config(format!("cannot set up TLS: {e}")))?
            .with_no_client_auth();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(self.connect_timeout)
            // Set here rather than on each request: a per-request limit costs reqwest an
            // allocation per request. A per-call limit still overrides it.
            .timeout(self.request_timeout)
            // Retries are this crate's (by method and status). reqwest's own policy only ever
            // retries HTTP/2 and HTTP/3 refusals, which this HTTP/1 client cannot meet, yet it
            // copies every request's headers in case; with no retries allowed it copies nothing.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map(|client| (client, true))
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
    }
}

/// Adds the builder methods every provider's builder shares.
macro_rules! common_builder_methods {
    () => {
        /// Sends requests to this base URL instead of the provider's production one (staging,
        /// a proxy, [the fake server](crate), a mock).
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.options.base_url = Some(url.into());
            self
        }

        /// The `User-Agent` header (default `apps-api/<version>`).
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.options.user_agent = user_agent.into();
            self
        }

        /// How long to wait for a TCP and TLS connection (default 5 s). Not applied to a
        /// client given with `http_client`, which keeps its own.
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.connect_timeout = timeout;
            self
        }

        /// How long one try of a request may take, from sending to the last byte of the body
        /// (default 60 s).
        pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.request_timeout = timeout;
            self
        }

        /// The retry policy (default [`RetryConfig::default`](crate::RetryConfig)).
        pub fn retry(mut self, retry: crate::RetryConfig) -> Self {
            self.options.retry = retry;
            self
        }

        /// The largest response body to read (default 16 MiB).
        pub fn max_body_bytes(mut self, bytes: usize) -> Self {
            self.options.max_body_bytes = bytes;
            self
        }

        /// Uses this `reqwest::Client` (its TLS, proxy and pool settings) instead of building
        /// one. This is the only place a `reqwest` type appears in this crate's API, so it
        /// follows reqwest's major version (0.13). This crate builds reqwest without a default
        /// TLS provider (ring is passed in explicitly); a client you build yourself needs one,
        /// e.g. `rustls::crypto::ring::default_provider().install_default()`, or
        /// `ClientBuilder::tls_backend_preconfigured`, or reqwest's own `rustls` feature.
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.options.http_client = Some(client);
            self
        }

        /// Replaces how the client waits between retries (tests use it to skip the waits).
        pub fn sleeper(mut self, sleeper: std::sync::Arc<dyn crate::Sleeper>) -> Self {
            self.options.sleeper = sleeper;
            self
        }
    };
}
pub(crate) use common_builder_methods;

/// Reads an environment variable, treating empty as absent.
pub(crate) fn env_var(name: &str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Config(format!("{name} is not valid UTF-8")))
        }
    }
}
