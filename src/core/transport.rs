//! The seam between the generated clients and the facade.
//!
//! Every generated client carries an `Arc<Transport>` (progenitor's `inner` value) and runs its
//! requests through the [`ClientHooks`] implemented here once for all three: `pre` adds auth and
//! user agent, `exec` sends one try, keeps the body under a size cap and records what the try
//! saw. [`Transport::run`] runs a generated call in a tracing span, runs it again when the retry
//! policy says so, and turns progenitor's result into this crate's [`Error`].

use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use progenitor_client::ResponseValue;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, USER_AGENT};
use reqwest::{Request, Response, ResponseBuilderExt, StatusCode};
use tracing::Instrument;

use crate::core::config::Options;
use crate::core::error::{ApiError, CallSite, Failure, Provider};
use crate::core::retry::{self, RetryConfig, Sleeper};
use crate::core::scrub::{self, Known};
use crate::Error;

// Header names built once: looking a name up by `&str` parses it on every call.
const API_VERSION: HeaderName = HeaderName::from_static("api-version");
const CF_RAY: HeaderName = HeaderName::from_static("cf-ray");

/// How many earlier Hover tokens are remembered, to scrub them from error messages after a
/// re-login (a server may echo the token a request carried).
const REMEMBERED_TOKENS: usize = 4;

/// An operation, as the facade names it for spans and errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    /// The spec's operationId.
    pub(crate) id: &'static str,
    pub(crate) method: &'static str,
    /// The spec's path template.
    pub(crate) path: &'static str,
    /// This call's time limit per try, instead of the client's.
    pub(crate) timeout: Option<Duration>,
    /// This call's overall time limit (tries and waits), instead of the client's.
    pub(crate) total: Option<Duration>,
    /// When the call must be over, if a caller running several steps (a Hover login, then the
    /// call) fixed it already.
    pub(crate) deadline: Option<tokio::time::Instant>,
    /// Safe to send again whatever its method says (a `POST` that creates nothing durable).
    pub(crate) replayable: bool,
    /// Sent once, whatever happens (a login: a second try is a second password attempt).
    pub(crate) once: bool,
    /// Its path carries something sensitive (a TURN username): errors, spans and dry runs
    /// show the path template instead.
    pub(crate) secret_path: bool,
}

impl Op {
    /// An operation with the client's time limits.
    pub(crate) const fn new(id: &'static str, method: &'static str, path: &'static str) -> Self {
        Self {
            id,
            method,
            path,
            timeout: None,
            total: None,
            deadline: None,
            replayable: false,
            once: false,
            secret_path: false,
        }
    }

    /// The same operation, its path shown only as its template.
    pub(crate) const fn secret_path(mut self) -> Self {
        self.secret_path = true;
        self
    }

    /// The same operation, never sent twice.
    pub(crate) const fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// The same operation, marked safe to send again although its method is not idempotent.
    pub(crate) const fn replayable(mut self) -> Self {
        self.replayable = true;
        self
    }

    /// The same operation with a handle's own time limits, where it has them.
    pub(crate) fn with_limits(mut self, limits: Limits) -> Self {
        self.timeout = limits.per_try.or(self.timeout);
        self.total = limits.total.or(self.total);
        self
    }

    /// The same operation, to be over by `deadline`.
    pub(crate) fn until(mut self, deadline: tokio::time::Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// A handle's own time limits (`.timeout(..)`, `.total_timeout(..)`), or none.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    pub(crate) per_try: Option<Duration>,
    pub(crate) total: Option<Duration>,
}

/// Adds the time-limit methods every resource handle shares (it has a `limits` field).
macro_rules! handle_limits {
    () => {
        /// Gives the calls made through this handle their own time limit per try, instead of
        /// the client's `request_timeout`.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.limits.per_try = Some(timeout);
            self
        }

        /// Gives the calls made through this handle their own overall time limit (every try
        /// and every wait between tries), instead of the client's `total_timeout`.
        pub fn total_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.limits.total = Some(timeout);
            self
        }
    };
}
pub(crate) use handle_limits;

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
    /// Which try of the call this was (1 for the first).
    pub attempt: u32,
    /// Cloudflare's `cf-ray` (bounded and escaped), if the answer had one.
    pub request_id: Option<&'a str>,
}

/// A request as a client would have sent it, when built with `dry_run(true)`: credentials in
/// headers and known secrets in the body are `[redacted]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedRequest {
    /// The spec's operationId.
    pub operation: &'static str,
    /// HTTP method.
    pub method: String,
    /// The full URL.
    pub url: String,
    /// The headers, in order, sensitive ones (`Authorization`, `X-Auth-Key`) redacted.
    pub headers: Vec<(String, String)>,
    /// The body, if the request has one (UTF-8; known secrets redacted).
    pub body: Option<String>,
}

/// Called with every answer a client receives (see [`ResponseInfo`]).
pub type ResponseHook = Arc<dyn Fn(&ResponseInfo<'_>) + Send + Sync>;

/// Authentication the `pre` hook adds to every request.
pub(crate) enum Auth {
    /// Fixed headers (Cloudflare's bearer token, or email + key), marked sensitive.
    Headers(Vec<(HeaderName, HeaderValue)>),
    /// Hover's JWT, replaced when it is refreshed; sent bare in `Authorization`.
    Token(RwLock<Tokens>),
}

/// Hover's current token, as a header and as a secret, and the few before it (kept only to
/// scrub them from error messages).
#[derive(Default)]
pub(crate) struct Tokens {
    current: Option<(HeaderValue, crate::Secret)>,
    earlier: std::collections::VecDeque<crate::Secret>,
}

/// Shared state of one client: HTTP client, auth, policy. Cheap to share (`Arc`).
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) provider: Provider,
    pub(crate) auth: Auth,
    user_agent: HeaderValue,
    retry: RetryConfig,
    request_timeout: Duration,
    total_timeout: Duration,
    /// The connect timeout of the client this crate builds: a timeout reqwest reports is it.
    connect_timeout: Duration,
    max_body_bytes: usize,
    sleeper: Arc<dyn Sleeper>,
    on_response: Option<ResponseHook>,
    /// Send nothing: record each request and end the call with `Error::DryRun`.
    dry_run: bool,
    /// The client's own secrets, scrubbed from any body snippet.
    known_secrets: Vec<crate::Secret>,
    /// Every spelling of them and of the current and earlier tokens, built once per change.
    known: RwLock<Arc<Known>>,
    /// Answers in process instead of `http` (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    responder: Option<crate::test_util::Responder>,
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

/// What one call saw, shared between [`Transport::run`] and the `exec` hook through a
/// task-local, since progenitor's hooks have no per-call parameter. (Shared through an `Arc`:
/// a task-local value is swapped in and out on every poll, so it should be pointer-sized.)
#[derive(Default)]
pub(crate) struct CallState {
    inner: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// The operation (for a dry run's record).
    operation: Option<&'static str>,
    /// Its path template, when the path sent must not be shown.
    secret_path: Option<&'static str>,
    status: Option<StatusCode>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    path: Option<String>,
    /// The host a redirect pointed to (bounded, escaped).
    redirect_host: Option<String>,
    /// The body passed the size cap; `exec` cannot say so as a `reqwest::Error`.
    body_too_large: bool,
    /// What a dry run would have sent.
    prepared: Option<Box<PreparedRequest>>,
}

tokio::task_local! {
    static CALL: Arc<CallState>;
}

/// What a successful call returns besides the body. The call site is built only when an
/// envelope turns out to be an error, so a success allocates nothing for it.
pub(crate) struct Meta {
    pub(crate) status: u16,
    provider: Provider,
    op: Op,
    state: Arc<CallState>,
}

impl Meta {
    pub(crate) fn call(&self) -> CallSite {
        self.state.lock().call_site(self.provider, self.op)
    }

    pub(crate) fn request_id(&self) -> Option<String> {
        self.state.lock().request_id.clone()
    }
}

/// Turns a generated error body into the errors it lists.
pub(crate) trait ErrorBody: serde::de::DeserializeOwned {
    fn api_errors(self) -> Vec<ApiError>;

    /// Whether this body, received with a success status, is a failure all the same (a
    /// Cloudflare envelope with `success: false`).
    fn reports_failure(&self) -> bool {
        false
    }
}

impl Transport {
    pub(crate) fn new(
        provider: Provider,
        options: &Options,
        base_url: &str,
        auth: Auth,
        known_secrets: Vec<crate::Secret>,
    ) -> Result<Self, Error> {
        let user_agent = HeaderValue::from_str(&options.user_agent).map_err(|_| {
            Error::Config(format!(
                "user agent {:?} is not a valid header value",
                options.user_agent
            ))
        })?;
        let http = options.http_client(base_url)?;
        Ok(Self {
            http,
            provider,
            auth,
            user_agent,
            retry: options.retry.clone(),
            request_timeout: options.request_timeout,
            total_timeout: options.total_timeout,
            connect_timeout: options.connect_timeout,
            max_body_bytes: options.max_body_bytes,
            sleeper: options.sleeper.clone(),
            on_response: options.on_response.clone(),
            dry_run: options.dry_run,
            known: RwLock::new(Arc::new(Known::new(
                known_secrets.iter().map(crate::Secret::expose),
            ))),
            known_secrets,
            #[cfg(any(test, feature = "test-util"))]
            responder: options.responder.clone(),
        })
    }

    /// Replaces Hover's token (after a login).
    pub(crate) fn set_token(&self, token: &crate::Secret) -> Result<(), Error> {
        let Auth::Token(cell) = &self.auth else {
            return Ok(());
        };
        let mut value = HeaderValue::from_str(token.expose())
            .map_err(|_| Error::Config("the token is not a valid header value".into()))?;
        value.set_sensitive(true);
        let mut tokens = cell.write().unwrap_or_else(|p| p.into_inner());
        if let Some((_, earlier)) = tokens.current.replace((value, token.clone())) {
            if tokens.earlier.len() == REMEMBERED_TOKENS {
                tokens.earlier.pop_front();
            }
            tokens.earlier.push_back(earlier);
        }
        let known = Known::new(
            self.known_secrets
                .iter()
                .chain(tokens.current.iter().map(|(_, t)| t))
                .chain(tokens.earlier.iter())
                .map(crate::Secret::expose),
        );
        *self.known.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(known);
        Ok(())
    }

    /// The client's overall time limit per call.
    pub(crate) fn total_timeout(&self) -> Duration {
        self.total_timeout
    }

    /// Whether this client sends nothing (built with `dry_run(true)`).
    pub(crate) fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The client's time limit per try.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    pub(crate) fn has_token(&self) -> bool {
        match &self.auth {
            Auth::Headers(_) => true,
            Auth::Token(cell) => cell
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .current
                .is_some(),
        }
    }

    /// The `pre` hook: auth, user agent, and no `api-version` header (progenitor adds one from
    /// the spec's `info.version`; neither API defines it).
    fn prepare(&self, request: &mut Request, operation_id: &str) {
        let headers = request.headers_mut();
        headers.remove(API_VERSION);
        headers.insert(USER_AGENT, self.user_agent.clone());
        match &self.auth {
            Auth::Headers(list) => {
                for (name, value) in list {
                    headers.insert(name.clone(), value.clone());
                }
            }
            // The login call must not carry a stale token.
            Auth::Token(_) if operation_id == "authenticate" => {}
            Auth::Token(cell) => {
                let tokens = cell.read().unwrap_or_else(|p| p.into_inner());
                if let Some((token, _)) = &tokens.current {
                    headers.insert(AUTHORIZATION, token.clone());
                }
            }
        }
    }

    /// The `exec` hook: one try. Sends, records what came back, and keeps a body of unknown
    /// length under the size cap. Retries and time limits are [`Transport::run`]'s: it rebuilds
    /// the request only when a retry happens, instead of copying every request in case one
    /// does.
    async fn execute(&self, request: Request) -> reqwest::Result<Response> {
        let _ = CALL.try_with(|state| {
            let mut seen = state.lock();
            if seen.path.is_none() && seen.secret_path.is_none() {
                seen.path = Some(request.url().path().to_string());
            }
            seen.status = None;
            seen.request_id = None;
            seen.retry_after = None;
            seen.redirect_host = None;
            seen.body_too_large = false;
        });
        if self.dry_run {
            let prepared = self.prepared(&request);
            let _ = CALL.try_with(|state| state.lock().prepared = Some(Box::new(prepared)));
            // An answer nobody reads: `run` ends the call with what was prepared.
            return Ok(Response::from(http::Response::new(Bytes::new())));
        }
        #[cfg(any(test, feature = "test-util"))]
        let mut response = match &self.responder {
            // Boxed: only tests take this path, and its future would enlarge every call's.
            Some(responder) => Box::pin(responder.respond(in_process(request)))
                .await
                .into(),
            None => self.http.execute(request).await?,
        };
        #[cfg(not(any(test, feature = "test-util")))]
        let mut response = self.http.execute(request).await?;
        let status = response.status();
        // Header values are server text: a server can echo the credentials it received.
        let request_id = response
            .headers()
            .get(CF_RAY)
            .and_then(|v| v.to_str().ok())
            .map(|v| scrub::header_value(v, &self.known()));
        // Only error answers carry a wait worth reading.
        let retry_after = if status.as_u16() >= 400 {
            retry::retry_after(response.headers())
        } else {
            None
        };
        let redirect_host = status
            .is_redirection()
            .then(|| redirect_host(&response, &self.known()))
            .flatten();
        let _ = CALL.try_with(|state| {
            let mut seen = state.lock();
            seen.status = Some(status);
            seen.request_id = request_id;
            seen.retry_after = retry_after;
            seen.redirect_host = redirect_host;
        });
        // Everything the facade needs from the headers is read; progenitor would only clone
        // them into a value nobody reads. (Taken, not cleared: a cleared map keeps its
        // capacity, and the clone would allocate it again.)
        drop(std::mem::take(response.headers_mut()));

        // An error answer needs no more than its start: it is parsed as an error envelope
        // and shown as a snippet, so its first 64 KiB are kept and the rest is never read.
        if status.is_client_error() || status.is_server_error() {
            let limit = scrub::SNIPPET_INPUT_BYTES.min(self.max_body_bytes);
            // (`usize as u64` never truncates on the platforms Rust supports.)
            if response.content_length().is_some_and(|n| n <= limit as u64) {
                return Ok(response);
            }
            // Boxed: rare, and its future would enlarge every call's.
            let start = Box::pin(collect_prefix(&mut response, limit)).await?;
            return Ok(rebuilt(&response, start));
        }
        match response.content_length() {
            // Within the cap: progenitor reads it as it is. hyper stops at the declared
            // length, so a lying server cannot exceed it. (`usize as u64` never truncates.)
            Some(n) if n <= self.max_body_bytes as u64 => Ok(response),
            Some(_) => Ok(self.too_large(&response)),
            // Boxed: rare (a body of unknown length), and its future would enlarge every call's.
            None => match Box::pin(self.collect_capped(&mut response)).await? {
                Some(body) => Ok(rebuilt(&response, body)),
                None => Ok(self.too_large(&response)),
            },
        }
    }

    /// What `request` would send, credentials redacted.
    fn prepared(&self, request: &Request) -> PreparedRequest {
        let known = self.known();
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let shown = if value.is_sensitive() {
                    "[redacted]".to_string()
                } else {
                    scrub::message(
                        &String::from_utf8_lossy(value.as_bytes()),
                        &known,
                        scrub::MESSAGE_BYTES,
                    )
                };
                (name.as_str().to_string(), shown)
            })
            .collect();
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .map(|bytes| scrub::redacted_body(bytes, &known));
        let (operation, secret_path) = CALL
            .try_with(|state| {
                let seen = state.lock();
                (seen.operation, seen.secret_path)
            })
            .unwrap_or_default();
        let url = request.url();
        let shown_url = match secret_path {
            // The base URL's own path, then the template in place of what was filled in.
            Some(template) => {
                let parts: Vec<&str> = url.path().split('/').collect();
                let keep = parts.len().saturating_sub(template.matches('/').count());
                format!(
                    "{}{}{template}",
                    url.origin().ascii_serialization(),
                    parts[..keep].join("/")
                )
            }
            None => url.to_string(),
        };
        PreparedRequest {
            operation: operation.unwrap_or(""),
            method: request.method().to_string(),
            url: shown_url,
            headers,
            body,
        }
    }

    /// An over-cap answer: recorded for `run`, and an empty body in its place (the rest is
    /// never read).
    fn too_large(&self, response: &Response) -> Response {
        let _ = CALL.try_with(|state| state.lock().body_too_large = true);
        rebuilt(response, Bytes::new())
    }

    /// Reads a body of unknown length, or `None` once it passes the cap.
    async fn collect_capped(&self, response: &mut Response) -> reqwest::Result<Option<Bytes>> {
        let cap = self.max_body_bytes;
        let Some(first) = response.chunk().await? else {
            return Ok(Some(Bytes::new()));
        };
        if first.len() > cap {
            return Ok(None);
        }
        let Some(second) = response.chunk().await? else {
            // One chunk: used as is, no copy.
            return Ok(Some(first));
        };
        let mut body = BytesMut::from(&first[..]);
        let mut next = Some(second);
        while let Some(chunk) = next {
            if body.len() + chunk.len() > cap {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
            next = response.chunk().await?;
        }
        Ok(Some(body.freeze()))
    }

    /// Runs one generated call: span, per-call state, retries and error mapping.
    ///
    /// `make` builds the call; it runs again for each retry. The whole call is boxed once:
    /// the generated future is large, and would otherwise be part of (and copied with) the
    /// caller's.
    pub(crate) fn run<'a, T, E, F, Fut>(
        &'a self,
        op: Op,
        account: Option<&'a str>,
        make: F,
    ) -> std::pin::Pin<Box<impl Future<Output = Result<(T, Meta), Error>> + 'a>>
    where
        T: 'a,
        E: ErrorBody + 'a,
        F: Fn() -> Fut + 'a,
        Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>> + 'a,
    {
        Box::pin(self.run_unboxed(op, account, make))
    }

    async fn run_unboxed<T, E, F, Fut>(
        &self,
        op: Op,
        account: Option<&str>,
        make: F,
    ) -> Result<(T, Meta), Error>
    where
        E: ErrorBody,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
    {
        let span = tracing::info_span!(
            "apps_api.call",
            provider = %self.provider,
            operation = op.id,
            method = op.method,
            path = op.path,
            account_id = account.unwrap_or(""),
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            cf_ray = tracing::field::Empty,
        );
        let replayable =
            op.replayable || retry::is_idempotent(op.method) || self.retry.retry_non_idempotent;
        let per_try = op.timeout.unwrap_or(self.request_timeout);
        let total = op.total.unwrap_or(self.total_timeout);
        let deadline = op.deadline.unwrap_or_else(|| deadline_after(total));
        let state = Arc::new(CallState {
            inner: Mutex::new(Seen {
                operation: Some(op.id),
                secret_path: op.secret_path.then_some(op.path),
                ..Seen::default()
            }),
        });
        let mut tries = retry::Tries::default();
        let mut attempt: u32 = 0;
        // The limit of the try that ran out of time, as a `Timeout` error names it: the call's
        // overall limit when the deadline cut the try short.
        let mut timed_out_after = per_try;
        let result = loop {
            attempt += 1;
            // A try may take what is left of the deadline, and no more; with nothing left it is
            // not started (a zero timer can fire after a fast answer, not before).
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout {
                    call: Box::new(state.lock().call_site(self.provider, op)),
                    after: total,
                });
            }
            let (limit, after) = if left < per_try {
                (left, total)
            } else {
                (per_try, per_try)
            };
            // The call writes its (large) result here, so that what each poll passes up
            // through the task-local scope, the span and the timer is `()`, not the result.
            let mut outcome = None;
            let in_time = {
                let call = std::pin::pin!(async { outcome = Some(make().await) });
                let call = CALL.scope(state.clone(), call);
                // Entering a span on every poll costs something even when nobody listens.
                if span.is_disabled() {
                    tokio::time::timeout(limit, call).await
                } else {
                    span.record("attempt", attempt);
                    let in_time = tokio::time::timeout(limit, call.instrument(span.clone())).await;
                    let seen = state.lock();
                    if let Some(status) = seen.status {
                        span.record("status", status.as_u16());
                    }
                    if let Some(ray) = &seen.request_id {
                        span.record("cf_ray", ray.as_str());
                    }
                    in_time
                }
            };
            let result = match (in_time, outcome) {
                (Ok(()), Some(result)) => result.map_err(Failed::Answer),
                _ => {
                    timed_out_after = after;
                    Err(Failed::TimedOut)
                }
            };
            if let Some(prepared) = state.lock().prepared.take() {
                return Err(Error::DryRun(prepared));
            }
            if let Some(hook) = &self.on_response {
                let seen = state.lock();
                if let Some(status) = seen.status {
                    hook(&ResponseInfo {
                        operation: op.id,
                        method: op.method,
                        status: status.as_u16(),
                        attempt,
                        request_id: seen.request_id.as_deref(),
                    });
                }
            }
            let Err(error) = result else { break result };
            let wait = if op.once {
                None
            } else {
                let seen = state.lock();
                retry::next_try(
                    &self.retry,
                    error.outcome(&seen),
                    replayable,
                    seen.retry_after,
                    &mut tries,
                )
            };
            let Some(wait) = wait else { break Err(error) };
            // A wait that would end past the deadline is not started: the call ends now with
            // what it has (a 429 with its Retry-After, a 503, a lost connection).
            if wait >= deadline.saturating_duration_since(tokio::time::Instant::now()) {
                break Err(error);
            }
            if let Failed::Answer(progenitor_client::Error::UnexpectedResponse(mut response)) =
                error
            {
                // Read the rest of the body so the connection can be reused, but only for the
                // time the wait leaves: a body that trickles must not push the wait past the
                // deadline.
                let until = deadline
                    .checked_sub(wait)
                    .unwrap_or_else(tokio::time::Instant::now);
                let _ = tokio::time::timeout_at(until, drain(&mut response)).await;
            }
            tracing::debug!(
                parent: &span,
                attempt,
                // Saturates: a wait is at most a day (RETRY_AFTER_CEILING).
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                status = state.lock().status.map(|s| s.as_u16()),
                "retrying"
            );
            self.sleeper.sleep(wait).await;
        };
        match result {
            Ok(value) => {
                let meta = Meta {
                    status: value.status().as_u16(),
                    provider: self.provider,
                    op,
                    state,
                };
                Ok((value.into_inner(), meta))
            }
            Err(Failed::TimedOut) => {
                let error = Error::Timeout {
                    call: Box::new(state.lock().call_site(self.provider, op)),
                    after: timed_out_after,
                };
                let _guard = span.enter();
                tracing::debug!(error = %error, "call failed");
                Err(error)
            }
            Err(Failed::Answer(e)) => {
                // Boxed: the error path's future would otherwise enlarge (and be copied
                // with) every call's future.
                let error = Box::pin(self.map_error(e, &state, op)).await;
                let _guard = span.enter();
                tracing::debug!(error = %error, "call failed");
                Err(error)
            }
        }
    }

    /// Every secret this client holds now: its credentials, its current token and the few
    /// before it.
    fn known(&self) -> Arc<Known> {
        self.known.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Server-supplied errors or messages made safe to show and log: at most 20, each
    /// message at most 1 KiB, known secrets and JWTs removed, control characters escaped.
    pub(crate) fn clean(&self, mut errors: Vec<ApiError>) -> Vec<ApiError> {
        if errors.is_empty() {
            return errors;
        }
        let known = self.known();
        let dropped = errors.len().saturating_sub(scrub::MAX_MESSAGES);
        errors.truncate(scrub::MAX_MESSAGES);
        for error in &mut errors {
            error.message = scrub::message(&error.message, &known, scrub::MESSAGE_BYTES);
            for field in [&mut error.documentation_url, &mut error.pointer] {
                if let Some(text) = field.as_mut() {
                    *text = scrub::message(text, &known, scrub::SHORT_BYTES);
                }
            }
        }
        if dropped > 0 {
            errors.push(ApiError::message(format!("… and {dropped} more not shown")));
        }
        errors
    }

    fn snippet(&self, body: &[u8]) -> String {
        scrub::snippet(body, &self.known())
    }

    /// A failed answer, as the variant its status calls for.
    pub(crate) fn failure(
        &self,
        call: CallSite,
        status: u16,
        errors: Vec<ApiError>,
        answer: Answer,
        body: Option<&[u8]>,
    ) -> Error {
        // A 401 or 403 that is a web page, not an API answer, comes from something in front
        // of the API (Cloudflare's edge blocking the request): not a verdict on credentials.
        let page =
            errors.is_empty() && body.is_some_and(|b| b.trim_ascii_start().first() == Some(&b'<'));
        let failure = Box::new(Failure {
            call,
            status,
            // An API that echoes the request can quote credentials in its messages.
            errors: self.clean(errors),
            request_id: answer.request_id,
            retry_after: answer.retry_after,
            body_snippet: body.map(|b| self.snippet(b)),
            redirect_host: answer.redirect_host,
        });
        match status {
            401 | 403 if !page => Error::Auth(failure),
            404 => Error::NotFound(failure),
            429 => Error::RateLimited(failure),
            _ => Error::Api(failure),
        }
    }

    async fn map_error<E: ErrorBody>(
        &self,
        error: progenitor_client::Error<E>,
        state: &CallState,
        op: Op,
    ) -> Error {
        use progenitor_client::Error as P;
        let (call, status, answer, too_large, limit) = {
            let seen = state.lock();
            // A timeout reqwest reports is its connect timeout.
            let limit = self.connect_timeout;
            (
                seen.call_site(self.provider, op),
                seen.status.map(|s| s.as_u16()),
                Answer {
                    request_id: seen.request_id.clone(),
                    retry_after: seen.retry_after,
                    redirect_host: seen.redirect_host.clone(),
                },
                seen.body_too_large,
                limit,
            )
        };
        if too_large {
            let reason = format!(
                "the body is larger than the {} byte limit",
                self.max_body_bytes
            );
            return self.decode_error(call, status.unwrap_or(0), &reason, b"");
        }
        match error {
            P::InvalidRequest(message) => Error::InvalidArgument(message),
            P::CommunicationError(e) | P::ResponseBodyError(e) | P::InvalidUpgrade(e) => {
                self.transport_error(call, e, limit)
            }
            P::ErrorResponse(value) => {
                let status = value.status().as_u16();
                self.failure(call, status, value.into_inner().api_errors(), answer, None)
            }
            P::InvalidResponsePayload(body, e) => {
                let status = status.unwrap_or(0);
                if let Some(failure) = self.failure_on_success::<E>(&call, status, &answer, &body) {
                    failure
                } else if (200..300).contains(&status) {
                    self.parse_error(call, status, &e.to_string(), &body)
                } else {
                    self.failure(call, status, Vec::new(), answer, Some(&body))
                }
            }
            P::UnexpectedResponse(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                if let Some(failure) = self.failure_on_success::<E>(&call, status, &answer, &body) {
                    failure
                } else if (200..300).contains(&status) {
                    let reason = format!("HTTP {status} is not an answer this operation documents");
                    self.parse_error(call, status, &reason, &body)
                } else {
                    // An error envelope is small; a larger body is not parsed as one.
                    let errors = if body.len() <= scrub::SNIPPET_INPUT_BYTES {
                        serde_json::from_slice::<E>(&body)
                            .map(ErrorBody::api_errors)
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    let snippet_body = errors.is_empty().then_some(&body[..]);
                    self.failure(call, status, errors, answer, snippet_body)
                }
            }
            P::Custom(message) => Error::Transport {
                call: Box::new(call),
                source: message.clone().into(),
                message: scrub::message(&message, &self.known(), scrub::MESSAGE_BYTES),
            },
        }
    }

    /// A success status whose body says the call failed (`success: false` on a status the
    /// operation does not document, or with a `result` its type does not allow): the API
    /// error it reports, not a decode error.
    fn failure_on_success<E: ErrorBody>(
        &self,
        call: &CallSite,
        status: u16,
        answer: &Answer,
        body: &[u8],
    ) -> Option<Error> {
        if !(200..300).contains(&status) || body.len() > scrub::SNIPPET_INPUT_BYTES {
            return None;
        }
        let parsed = serde_json::from_slice::<E>(body).ok()?;
        parsed.reports_failure().then(|| {
            self.failure(
                call.clone(),
                status,
                parsed.api_errors(),
                answer.clone(),
                None,
            )
        })
    }

    /// A success status whose body could not be used.
    pub(crate) fn decode_error(
        &self,
        call: CallSite,
        status: u16,
        reason: &str,
        body: &[u8],
    ) -> Error {
        let known = self.known();
        Error::Decode {
            call: Box::new(call),
            status,
            // serde's messages can quote a value from the body.
            reason: scrub::message(reason, &known, scrub::MESSAGE_BYTES),
            snippet: scrub::snippet(body, &known),
        }
    }

    /// A success status whose body did not parse as the operation's type.
    fn parse_error(&self, call: CallSite, status: u16, reason: &str, body: &[u8]) -> Error {
        let reason = if body.iter().all(u8::is_ascii_whitespace) {
            "the body is empty"
        } else if std::str::from_utf8(body).is_err() {
            "the body is not UTF-8"
        } else {
            reason
        };
        self.decode_error(call, status, reason, body)
    }

    fn transport_error(&self, call: CallSite, error: reqwest::Error, limit: Duration) -> Error {
        if error.is_timeout() {
            return Error::Timeout {
                call: Box::new(call),
                after: limit,
            };
        }
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::Transport {
            call: Box::new(call),
            message: scrub::message(&message, &self.known(), scrub::MESSAGE_BYTES),
            source: Box::new(error),
        }
    }
}

/// What an answer's headers said, for an error.
#[derive(Clone, Default)]
pub(crate) struct Answer {
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) redirect_host: Option<String>,
}

/// How a try failed: with an answer (or a transport error) progenitor reports, or by running
/// out of its time.
enum Failed<E> {
    Answer(progenitor_client::Error<E>),
    TimedOut,
}

impl<E> Failed<E> {
    /// What the try came to, for the retry policy.
    fn outcome(&self, seen: &Seen) -> retry::Outcome {
        use progenitor_client::Error as P;
        use retry::Outcome;
        match self {
            Failed::TimedOut => Outcome::TimedOut,
            Failed::Answer(P::CommunicationError(e)) if e.is_connect() => Outcome::NotSent,
            Failed::Answer(P::CommunicationError(e))
                if e.is_timeout() || e.is_request() || e.is_body() =>
            {
                Outcome::Lost
            }
            // The answer's body could not be read to its end (cut short, reset): progenitor
            // reports only read failures here (it parses the JSON itself).
            Failed::Answer(P::ResponseBodyError(_)) => Outcome::Lost,
            Failed::Answer(
                P::ErrorResponse(_) | P::UnexpectedResponse(_) | P::InvalidResponsePayload(..),
            ) => match seen.status {
                _ if seen.body_too_large => Outcome::Final,
                Some(status) => Outcome::Status(status.as_u16()),
                None => Outcome::Final,
            },
            Failed::Answer(_) => Outcome::Final,
        }
    }
}

/// `total` from now, or as far as the clock goes (`Instant + Duration` panics on overflow).
pub(crate) fn deadline_after(total: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(total)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 60 * 60))
}

/// The host a redirect's `Location` points to (resolved against the request URL), bounded and
/// escaped for an error message; withheld if it has a piece of one of the client's secrets in
/// it (URL parsing lowercases a host, maps it as UTS 46 does and writes a non-ASCII one in
/// punycode, so it is compared as loosely).
fn redirect_host(response: &Response, known: &Known) -> Option<String> {
    let location = response.headers().get(reqwest::header::LOCATION)?;
    let location = location.to_str().ok()?;
    let target = response.url().join(location).ok()?;
    let host = target.host_str()?;
    if known.shares_a_run_with(host) {
        return Some(scrub::WITHHELD.to_string());
    }
    Some(scrub::header_value(host, known))
}

impl Seen {
    /// The call as errors name it: operation, method and the path actually sent.
    fn call_site(&self, provider: Provider, op: Op) -> CallSite {
        CallSite {
            provider,
            operation: op.id,
            method: op.method,
            path: self.path.clone().unwrap_or_else(|| op.path.to_string()),
        }
    }
}

impl CallState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request as an in-process responder sees it (`test_util::Request`).
#[cfg(any(test, feature = "test-util"))]
fn in_process(request: Request) -> crate::test_util::Request {
    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .map(Bytes::copy_from_slice)
        .unwrap_or_default();
    let mut built = http::Request::builder()
        .method(request.method().clone())
        .uri(request.url().as_str());
    if let Some(headers) = built.headers_mut() {
        *headers = request.headers().clone();
    }
    built
        .body(body)
        .expect("a reqwest request is a valid http request")
}

/// A response with `body` in place of the one it came with, and no headers (the facade has
/// read what it needs from them). The URL is carried over so reqwest need not parse a
/// placeholder.
fn rebuilt(response: &Response, body: Bytes) -> Response {
    let rebuilt = http::Response::builder()
        .status(response.status())
        .version(response.version())
        .url(response.url().clone())
        .body(body)
        .expect("status and version come from a valid response");
    Response::from(rebuilt)
}

/// The first `limit` bytes of a body (all of it if shorter); the rest is never read.
async fn collect_prefix(response: &mut Response, limit: usize) -> reqwest::Result<Bytes> {
    let mut body = BytesMut::new();
    while body.len() < limit {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let take = chunk.len().min(limit - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(body.freeze())
}

/// Reads (a bounded part of) a body we are about to discard, so the connection can be reused.
async fn drain(response: &mut Response) {
    let mut left: usize = 64 * 1024;
    while let Ok(Some(chunk)) = response.chunk().await {
        match left.checked_sub(chunk.len()) {
            Some(rest) => left = rest,
            None => break,
        }
    }
}

/// Implements progenitor's hooks for a generated client, delegating to its [`Transport`].
macro_rules! transport_hooks {
    ($client:ty) => {
        impl progenitor_client::ClientHooks<std::sync::Arc<$crate::core::transport::Transport>>
            for $client
        {
            async fn pre<E>(
                &self,
                request: &mut reqwest::Request,
                info: &progenitor_client::OperationInfo,
            ) -> std::result::Result<(), progenitor_client::Error<E>> {
                self.inner.prepare(request, info.operation_id);
                Ok(())
            }

            async fn exec(
                &self,
                request: reqwest::Request,
                _info: &progenitor_client::OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                self.inner.execute(request).await
            }
        }
    };
}

#[cfg(feature = "cloudflare-calls")]
transport_hooks!(crate::generated::calls::Client);
#[cfg(feature = "cloudflare-calls")]
transport_hooks!(crate::generated::realtime::Client);
#[cfg(feature = "cloudflare-magic")]
transport_hooks!(crate::generated::magic::Client);
#[cfg(feature = "hover")]
transport_hooks!(crate::generated::hover::Client);
