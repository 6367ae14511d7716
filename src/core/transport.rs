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
use crate::core::error::{scrub_message, snippet, ApiError, CallSite, Failure, Provider};
use crate::core::retry::{self, RetryConfig, Sleeper};
use crate::Error;

// Header names built once: looking a name up by `&str` parses it on every call.
const API_VERSION: HeaderName = HeaderName::from_static("api-version");
const CF_RAY: HeaderName = HeaderName::from_static("cf-ray");

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
}

impl Op {
    /// An operation with the client's time limit.
    pub(crate) const fn new(id: &'static str, method: &'static str, path: &'static str) -> Self {
        Self {
            id,
            method,
            path,
            timeout: None,
        }
    }

    /// The same operation with its own time limit, if one is given.
    pub(crate) fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout.or(self.timeout);
        self
    }
}

/// Authentication the `pre` hook adds to every request.
pub(crate) enum Auth {
    /// Fixed headers (Cloudflare's bearer token, or email + key), marked sensitive.
    Headers(Vec<(HeaderName, HeaderValue)>),
    /// Hover's JWT, replaced when it is refreshed; sent bare in `Authorization`. The secret
    /// is kept beside the header to scrub it from error messages.
    Token(RwLock<Option<(HeaderValue, crate::Secret)>>),
}

/// Shared state of one client: HTTP client, auth, policy. Cheap to share (`Arc`).
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) provider: Provider,
    pub(crate) auth: Auth,
    user_agent: HeaderValue,
    retry: RetryConfig,
    request_timeout: Duration,
    /// `http` was built here and applies `request_timeout` itself: only per-call limits are
    /// set per request.
    http_is_ours: bool,
    max_body_bytes: usize,
    sleeper: Arc<dyn Sleeper>,
    /// The client's own secrets, scrubbed from any body snippet.
    known_secrets: Vec<crate::Secret>,
    #[cfg(test)]
    responder: Option<Responder>,
}

/// An in-process answer to a request, for tests that feed the decoders without a network.
#[cfg(test)]
type Respond = dyn Fn(&Request) -> http::Response<Bytes> + Send + Sync;

#[cfg(test)]
#[derive(Clone)]
pub(crate) struct Responder(pub(crate) Arc<Respond>);

#[cfg(test)]
impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder")
    }
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
    status: Option<StatusCode>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    path: Option<String>,
    /// The call's own time limit, if it has one.
    timeout: Option<Duration>,
    /// The body passed the size cap; `exec` cannot say so as a `reqwest::Error`.
    body_too_large: bool,
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
}

impl Transport {
    pub(crate) fn new(
        provider: Provider,
        options: &Options,
        auth: Auth,
        known_secrets: Vec<crate::Secret>,
    ) -> Result<Self, Error> {
        let user_agent = HeaderValue::from_str(&options.user_agent).map_err(|_| {
            Error::Config(format!(
                "user agent {:?} is not a valid header value",
                options.user_agent
            ))
        })?;
        let (http, http_is_ours) = options.http_client()?;
        Ok(Self {
            http,
            http_is_ours,
            provider,
            auth,
            user_agent,
            retry: options.retry.clone(),
            request_timeout: options.request_timeout,
            max_body_bytes: options.max_body_bytes,
            sleeper: options.sleeper.clone(),
            known_secrets,
            #[cfg(test)]
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
        *cell.write().unwrap_or_else(|p| p.into_inner()) = Some((value, token.clone()));
        Ok(())
    }

    pub(crate) fn has_token(&self) -> bool {
        match &self.auth {
            Auth::Headers(_) => true,
            Auth::Token(cell) => cell.read().unwrap_or_else(|p| p.into_inner()).is_some(),
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
                if let Some((token, _)) = cell.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    headers.insert(AUTHORIZATION, token.clone());
                }
            }
        }
    }

    /// The `exec` hook: one try. Sends with the call's time limit, records what came back,
    /// and keeps a body of unknown length under the size cap. Retries are [`Transport::run`]'s:
    /// it rebuilds the request only when a retry happens, instead of copying every request in
    /// case one does.
    async fn execute(&self, mut request: Request) -> reqwest::Result<Response> {
        let _ = CALL.try_with(|state| {
            let mut seen = state.lock();
            match seen.timeout {
                Some(limit) => *request.timeout_mut() = Some(limit),
                None if !self.http_is_ours => *request.timeout_mut() = Some(self.request_timeout),
                None => {}
            }
            if seen.path.is_none() {
                seen.path = Some(request.url().path().to_string());
            }
            seen.status = None;
            seen.request_id = None;
            seen.retry_after = None;
            seen.body_too_large = false;
        });
        #[cfg(test)]
        let mut response = match &self.responder {
            Some(respond) => Response::from((respond.0)(&request)),
            None => self.http.execute(request).await?,
        };
        #[cfg(not(test))]
        let mut response = self.http.execute(request).await?;
        let status = response.status();
        let request_id = response
            .headers()
            .get(CF_RAY)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Only error answers carry a wait worth reading.
        let retry_after = if status.as_u16() >= 400 {
            retry::retry_after(response.headers())
        } else {
            None
        };
        let _ = CALL.try_with(|state| {
            let mut seen = state.lock();
            seen.status = Some(status);
            seen.request_id = request_id;
            seen.retry_after = retry_after;
        });
        // Everything the facade needs from the headers is read; progenitor would only clone
        // them into a value nobody reads. (Taken, not cleared: a cleared map keeps its
        // capacity, and the clone would allocate it again.)
        drop(std::mem::take(response.headers_mut()));

        match response.content_length() {
            // Within the cap: progenitor reads it as it is. hyper stops at the declared
            // length, so a lying server cannot exceed it.
            Some(n) if n <= self.max_body_bytes as u64 => Ok(response),
            Some(_) => Ok(self.too_large(&response)),
            // Boxed: rare (a body of unknown length), and its future would enlarge every call's.
            None => match Box::pin(self.collect_capped(&mut response)).await? {
                Some(body) => Ok(rebuilt(&response, body)),
                None => Ok(self.too_large(&response)),
            },
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
        let replayable = retry::is_idempotent(op.method) || self.retry.retry_non_idempotent;
        let state = Arc::new(CallState {
            inner: Mutex::new(Seen {
                timeout: op.timeout,
                ..Seen::default()
            }),
        });
        let mut attempt: u32 = 0;
        let result = loop {
            attempt += 1;
            // The call writes its (large) result here, so that what each poll passes up
            // through the task-local scope and the span is `()`, not the result.
            let mut outcome = None;
            {
                let call = std::pin::pin!(async { outcome = Some(make().await) });
                // Entering a span on every poll costs something even when nobody listens.
                if span.is_disabled() {
                    CALL.scope(state.clone(), call).await;
                } else {
                    span.record("attempt", attempt);
                    CALL.scope(state.clone(), call.instrument(span.clone()))
                        .await;
                    let seen = state.lock();
                    if let Some(status) = seen.status {
                        span.record("status", status.as_u16());
                    }
                    if let Some(ray) = &seen.request_id {
                        span.record("cf_ray", ray.as_str());
                    }
                }
            }
            let Some(result) = outcome else {
                unreachable!("the call completed, so it stored its result")
            };
            let Err(error) = result else { break result };
            let wait = if attempt <= self.retry.max_retries {
                self.retry_wait(&error, &state.lock(), replayable, attempt)
            } else {
                None
            };
            let Some(wait) = wait else { break Err(error) };
            if let progenitor_client::Error::UnexpectedResponse(mut response) = error {
                drain(&mut response).await;
            }
            tracing::debug!(
                parent: &span,
                attempt,
                wait_ms = wait.as_millis() as u64,
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
            Err(e) => {
                // Boxed: the error path's future would otherwise enlarge (and be copied
                // with) every call's future.
                let error = Box::pin(self.map_error(e, &state, op)).await;
                let _guard = span.enter();
                tracing::debug!(error = %error, "call failed");
                Err(error)
            }
        }
    }

    /// How long to wait before trying a failed call again, or `None` to give up.
    fn retry_wait<E>(
        &self,
        error: &progenitor_client::Error<E>,
        seen: &Seen,
        replayable: bool,
        attempt: u32,
    ) -> Option<Duration> {
        use progenitor_client::Error as P;
        match error {
            // A failure to connect never reached the server: safe for any method.
            P::CommunicationError(e) | P::ResponseBodyError(e) => (e.is_connect()
                || (replayable && e.is_timeout()))
            .then(|| self.retry.backoff(attempt)),
            P::ErrorResponse(_) | P::UnexpectedResponse(_) | P::InvalidResponsePayload(..) => {
                let status = seen.status?;
                if !retry::status_is_retryable(status, replayable) {
                    return None;
                }
                match seen.retry_after {
                    // Longer than we are willing to wait: answer now with RateLimited.
                    Some(wait) if wait > self.retry.max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(self.retry.backoff(attempt)),
                }
            }
            P::InvalidRequest(_) | P::InvalidUpgrade(_) | P::Custom(_) => None,
        }
    }

    /// Every secret this client holds now: its credentials and its current token.
    fn own_secrets(&self) -> Vec<crate::Secret> {
        let mut secrets = self.known_secrets.clone();
        if let Auth::Token(cell) = &self.auth {
            if let Some((_, token)) = cell.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
                secrets.push(token.clone());
            }
        }
        secrets
    }

    fn snippet(&self, body: &[u8]) -> String {
        let secrets = self.own_secrets();
        let known: Vec<&str> = secrets.iter().map(|s| s.expose()).collect();
        snippet(body, &known)
    }

    /// A failed answer, as the variant its status calls for.
    pub(crate) fn failure(
        &self,
        call: CallSite,
        status: u16,
        errors: Vec<ApiError>,
        request_id: Option<String>,
        retry_after: Option<Duration>,
        body: Option<&[u8]>,
    ) -> Error {
        // An API that echoes the request can quote credentials in its messages.
        let secrets = self.own_secrets();
        let known: Vec<&str> = secrets.iter().map(|s| s.expose()).collect();
        let mut errors = errors;
        for error in &mut errors {
            error.message = scrub_message(&error.message, &known);
        }
        let failure = Box::new(Failure {
            call,
            status,
            errors,
            request_id,
            retry_after,
            body_snippet: body.map(|b| self.snippet(b)),
        });
        match status {
            401 | 403 => Error::Auth(failure),
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
        let (call, status, request_id, retry_after, too_large) = {
            let seen = state.lock();
            (
                seen.call_site(self.provider, op),
                seen.status.map(|s| s.as_u16()),
                seen.request_id.clone(),
                seen.retry_after,
                seen.body_too_large,
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
                self.transport_error(call, e, op.timeout.unwrap_or(self.request_timeout))
            }
            P::ErrorResponse(value) => {
                let status = value.status().as_u16();
                self.failure(
                    call,
                    status,
                    value.into_inner().api_errors(),
                    request_id,
                    retry_after,
                    None,
                )
            }
            P::InvalidResponsePayload(body, e) => {
                let status = status.unwrap_or(0);
                if (200..300).contains(&status) {
                    self.parse_error(call, status, &e.to_string(), &body)
                } else {
                    self.failure(
                        call,
                        status,
                        Vec::new(),
                        request_id,
                        retry_after,
                        Some(&body),
                    )
                }
            }
            P::UnexpectedResponse(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                if (200..300).contains(&status) {
                    let reason = format!("HTTP {status} is not an answer this operation documents");
                    self.parse_error(call, status, &reason, &body)
                } else {
                    let errors = serde_json::from_slice::<E>(&body)
                        .map(ErrorBody::api_errors)
                        .unwrap_or_default();
                    let snippet_body = errors.is_empty().then_some(&body[..]);
                    self.failure(call, status, errors, request_id, retry_after, snippet_body)
                }
            }
            P::Custom(message) => Error::Transport {
                call: Box::new(call),
                source: message.clone().into(),
                message,
            },
        }
    }

    /// A success status whose body could not be used.
    pub(crate) fn decode_error(
        &self,
        call: CallSite,
        status: u16,
        reason: &str,
        body: &[u8],
    ) -> Error {
        Error::Decode {
            call: Box::new(call),
            status,
            // serde's messages can quote a value; scrub them like a body.
            reason: snippet(reason.as_bytes(), &[]),
            snippet: self.snippet(body),
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
            message,
            source: Box::new(error),
        }
    }
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
#[cfg(feature = "cloudflare-magic")]
transport_hooks!(crate::generated::magic::Client);
#[cfg(feature = "hover")]
transport_hooks!(crate::generated::hover::Client);
