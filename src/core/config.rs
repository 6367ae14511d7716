//! Builder options shared by every provider's client.

use std::sync::Arc;
use std::time::Duration;

use crate::core::retry::{RetryConfig, Sleeper, TokioSleeper};
use crate::Error;

/// The largest response body a client reads (8 MiB); a longer one is a [`Error::Decode`].
///
/// The largest answer of these APIs is a Magic list, which has no pagination. A generous
/// one (1,000 account apps and 500 managed apps, each with 50 hostnames and 50 to 100
/// subnets, long names) is 6.8 MB; see `a_generous_magic_list_fits_under_the_default_cap`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// One answer the client received, as an [`on_response`] hook sees it: for metrics, logs or a
/// tool that prints what the server said.
///
/// [`on_response`]: crate::cloudflare::CloudflareClientBuilder::on_response
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ResponseInfo<'a> {
    /// The spec's operationId.
    pub operation: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// The HTTP status the server answered.
    pub status: u16,
    /// Which try of the request this was (1 for the first).
    pub attempt: u32,
    /// Cloudflare's `cf-ray` (bounded, escaped, without the client's secrets), if the answer
    /// had one.
    pub request_id: Option<&'a str>,
}

/// Called with every answer a client receives (see [`ResponseInfo`]).
pub type ResponseHook = Arc<dyn Fn(&ResponseInfo<'_>) + Send + Sync>;

/// Options every client builder has.
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) base_url: Option<String>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) user_agent: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) total_timeout: Duration,
    pub(crate) retry: RetryConfig,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) max_body_bytes: usize,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    pub(crate) on_response: Option<ResponseHook>,
    /// The rate budget set on the builder (`Some(None)`: none); `None`: the provider's default.
    pub(crate) rate_budget: Option<Option<crate::Quota>>,
    /// Answers requests in-process instead of the network (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) responder: Option<crate::test_util::Responder>,
}

/// Never prints the base URL's user info (refused anyway) or a user-supplied `reqwest::Client`,
/// whose default headers may hold credentials.
impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("base_url", &self.base_url.as_deref().map(shown_url))
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("retry", &self.retry)
            .field(
                "http_client",
                &self.http_client.as_ref().map(|_| "[user-supplied]"),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("rate_budget", &self.rate_budget)
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            base_url: None,
            allow_insecure_http: false,
            user_agent: concat!("apps-api/", env!("CARGO_PKG_VERSION")).to_string(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(120),
            retry: RetryConfig::default(),
            http_client: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            sleeper: Arc::new(TokioSleeper),
            on_response: None,
            rate_budget: None,
            #[cfg(any(test, feature = "test-util"))]
            responder: None,
        }
    }
}

impl Options {
    /// Where the rate budgets of a client built with these options are kept: its base URL;
    /// with an in-process responder, that responder, which is the server (so that tests, each
    /// with its own, share no budget, nor a block one of them caused).
    pub(crate) fn budget_scope(&self, base_url: &str) -> String {
        #[cfg(any(test, feature = "test-util"))]
        if let Some(responder) = &self.responder {
            return format!("{base_url} (responder {})", responder.id());
        }
        base_url.to_string()
    }

    /// The base URL to use, checked: absolute https (http only for a loopback host, or when
    /// allowed), no user info, query or fragment, no trailing slash. Errors show the URL
    /// without its user info.
    pub(crate) fn base_url(&self, default: &str) -> Result<String, Error> {
        let raw = self.base_url.as_deref().unwrap_or(default);
        let shown = shown_url(raw);
        let url = reqwest::Url::parse(raw)
            .map_err(|e| Error::Config(format!("base URL {shown} is not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::Config(format!(
                "base URL {shown} has user info (`user:password@`); credentials go in the \
                 builder's credentials, never in the URL"
            )));
        }
        let Some(host) = url.host() else {
            return Err(Error::Config(format!(
                "base URL {shown} must be an https:// URL with a host"
            )));
        };
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure_http || is_loopback(&host) => {}
            "http" => {
                return Err(Error::Config(format!(
                    "base URL {shown} is http:// on a host that is not loopback: the \
                     credentials would cross the network in cleartext (use https://, or \
                     allow_insecure_http(true) on the builder if you mean it)"
                )))
            }
            _ => {
                return Err(Error::Config(format!(
                    "base URL {shown} must be an https:// URL with a host"
                )))
            }
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Config(format!(
                "base URL {shown} must not have a query or fragment"
            )));
        }
        // The parsed form: what the URL parser made of it (`\` as `/`, dot segments resolved,
        // the host lower-cased) is what requests will use, so it is what the client keeps.
        Ok(url.as_str().trim_end_matches('/').to_string())
    }

    /// The caller's `reqwest::Client`, or one with this crate's TLS, connect timeout and pool.
    /// (The time limit of a try is the transport's, for either.)
    pub(crate) fn http_client(&self, base_url: &str) -> Result<reqwest::Client, Error> {
        if let Some(client) = &self.http_client {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder();
        if let Ok(url) = reqwest::Url::parse(base_url) {
            if url.scheme() == "http" {
                // A proxy (HTTP_PROXY, ALL_PROXY) would receive the credentials in cleartext,
                // and a loopback service never needs one.
                builder = builder.no_proxy();
            }
            if let (Some(url::Host::Domain(name)), Some(port)) =
                (url.host(), url.port_or_known_default())
            {
                if name.eq_ignore_ascii_case("localhost") {
                    // Trusted as loopback by name: make it so, whatever DNS or search domains
                    // say where /etc/hosts does not.
                    builder = builder.resolve_to_addrs(
                        name,
                        &[
                            (std::net::Ipv4Addr::LOCALHOST, port).into(),
                            (std::net::Ipv6Addr::LOCALHOST, port).into(),
                        ],
                    );
                }
            }
        }
        builder
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(self.connect_timeout)
            // Retries are this crate's (by method and status). reqwest's own policy only ever
            // retries HTTP/2 and HTTP/3 refusals, which this HTTP/1 client cannot meet, yet it
            // copies every request's headers in case; with no retries allowed it copies nothing.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            // These APIs never redirect, and reqwest would carry X-Auth-Key, X-Auth-Email and
            // a replayed login body (with the password) to wherever a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
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

        /// How long a whole request may take, every try and every wait between tries included
        /// (default 2 minutes). When it runs out the request ends with
        /// [`Error::Timeout`](crate::Error::Timeout), whatever a server's `Retry-After` says.
        pub fn total_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.total_timeout = timeout;
            self
        }

        /// Accepts an `http://` base URL on a host that is not loopback (default: refused, as
        /// the credentials would cross the network in cleartext). `http://` on `localhost`,
        /// `127.0.0.0/8` or `::1` is always accepted.
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.options.allow_insecure_http = allow;
            self
        }

        /// The retry policy (default [`RetryConfig::default`](crate::RetryConfig)).
        pub fn retry(mut self, retry: crate::RetryConfig) -> Self {
            self.options.retry = retry;
            self
        }

        /// The largest response body to read (default 8 MiB).
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
        ///
        /// Build it with `.redirect(reqwest::redirect::Policy::none())`: these APIs never
        /// redirect, and a client that follows redirects carries credentials other than
        /// `Authorization` (Cloudflare's `X-Auth-Key`, a Hover login body) to wherever a
        /// redirect points. This crate cannot see or change the policy of a client it did not
        /// build. The client is never printed by this crate's `Debug` output.
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.options.http_client = Some(client);
            self
        }

        /// Called with every answer the client receives (operation, status, try, `cf-ray`),
        /// retries included: for metrics, or to show what the server said.
        ///
        /// ```
        /// use std::sync::atomic::{AtomicU16, Ordering};
        /// use std::sync::Arc;
        /// let last_status = Arc::new(AtomicU16::new(0));
        /// let seen = last_status.clone();
        /// let builder = apps_api::hover::HoverClient::builder()
        ///     .on_response(move |answer| seen.store(answer.status, Ordering::Relaxed));
        /// # let _ = builder;
        /// ```
        pub fn on_response(
            mut self,
            hook: impl Fn(&crate::ResponseInfo<'_>) + Send + Sync + 'static,
        ) -> Self {
            self.options.on_response = Some(std::sync::Arc::new(hook));
            self
        }

        /// This client's own rate budget: at most `quota` requests per window, paced so that
        /// none is refused; `None`: no budget at all, not even the credential's.
        ///
        /// Without this call, a client goes through its credential's budget, shared with every
        /// client in the process built with the same credential and base URL and kept while it
        /// matters (Cloudflare: [`Quota::CLOUDFLARE`](crate::Quota::CLOUDFLARE), 1,200 per 5
        /// minutes, replaced by the quota the API reports; Hover and the TURN credentials host:
        /// none). A quota set here is a second budget beside the credential's, this client's
        /// own: it limits this client only, goes with it, and can only slow it down (the
        /// credential's budget still holds). A Realtime SFU client paces each session with it,
        /// beside [`SESSION_QUOTA`](crate::cloudflare::sfu::SESSION_QUOTA).
        ///
        /// ```
        /// use std::time::Duration;
        /// use apps_api::{cloudflare::CloudflareClient, Quota};
        /// // At most half of Cloudflare's limit, leaving the rest to other tools on the token.
        /// let builder = CloudflareClient::builder()
        ///     .rate_budget(Some(Quota::new(600, Duration::from_secs(300))));
        /// # let _ = builder;
        /// ```
        pub fn rate_budget(mut self, quota: Option<crate::Quota>) -> Self {
            self.options.rate_budget = Some(quota);
            self
        }

        /// Replaces how the client waits between retries (tests use it to skip the waits).
        pub fn sleeper(mut self, sleeper: std::sync::Arc<dyn crate::Sleeper>) -> Self {
            self.options.sleeper = sleeper;
            self
        }

        /// Answers every request in process with `responder` instead of sending it (feature
        /// `test-util`, for unit tests; see [`test_util`](crate::test_util)). The base URL is
        /// still checked and still makes the URLs the responder sees.
        #[cfg(feature = "test-util")]
        #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
        pub fn responder(mut self, responder: crate::test_util::Responder) -> Self {
            self.options.responder = Some(responder);
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

/// The TLS settings of every client this crate builds: ring as the rustls provider, passed in
/// rather than installed process-wide (it builds in half the time of aws-lc, see
/// benches/README.md), and the platform's verifier. Built once per process and shared: it is
/// immutable, and building it (the verifier and provider set-up) took about 20 ms per client.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .and_then(|b| {
                    use rustls_platform_verifier::BuilderVerifierExt;
                    b.with_platform_verifier()
                })
                .map(|b| b.with_no_client_auth())
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::Config(format!("cannot set up TLS: {e}")))
}

/// Whether a base URL's host is this machine (`localhost`, `127.0.0.0/8`, `::1`), where plain
/// http does not cross a network.
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// A base URL as an error or `Debug` may show it: without user info, escaped, at most 100
/// characters.
pub(crate) fn shown_url(raw: &str) -> String {
    let without_user_info = match reqwest::Url::parse(raw) {
        Ok(mut url) => {
            let _ = url.set_password(None);
            let _ = url.set_username("");
            url.to_string()
        }
        // Not a URL: if there is an `@` anywhere, what precedes the last one may be user info
        // (a password with `/`, `?` or `#` in it ends the authority early for the parser).
        Err(_) => {
            let (scheme, rest) = raw.split_once("://").unwrap_or(("", raw));
            match rest.rfind('@') {
                Some(at) => format!("{scheme}://[redacted]@{}", &rest[at + 1..]),
                None => raw.to_string(),
            }
        }
    };
    let mut shown: String = without_user_info
        .chars()
        .take(100)
        .flat_map(char::escape_debug)
        .collect();
    if without_user_info.chars().count() > 100 {
        shown.push('…');
    }
    format!("\"{shown}\"")
}
