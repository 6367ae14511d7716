//! The seam between the generated clients and the facade.
//!
//! Every generated client carries an `Arc<Transport>` (progenitor's `inner` value) and runs its
//! requests through the [`ClientHooks`] implemented here once for all three: `pre` adds auth and
//! user agent, `exec` retries, reads the body under a size cap and records what the call saw.
//! [`Transport::run`] wraps a generated call in a tracing span and turns progenitor's result
//! into this crate's [`Error`].

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
/// task-local, since progenitor's hooks have no per-call parameter.
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
        self.state.call_site(self.provider, self.op)
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
        Ok(Self {
            http: options.http_client()?,
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

    /// The `exec` hook: send, retry by the policy, and buffer the body under the size cap.
    async fn execute(&self, mut request: Request) -> reqwest::Result<Response> {
        let state = CALL.try_with(Arc::clone).unwrap_or_default();
        {
            let mut seen = state.lock();
            *request.timeout_mut() = Some(seen.timeout.unwrap_or(self.request_timeout));
            seen.path = Some(request.url().path().to_string());
        }
        let replayable = retry::is_idempotent(request.method()) || self.retry.retry_non_idempotent;
        let span = tracing::Span::current();

        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            let may_retry = attempt <= self.retry.max_retries;
            let copy = if may_retry { request.try_clone() } else { None };
            let this_try = match copy {
                Some(copy) => copy,
                // Last try (or a body that cannot be copied): send the original.
                _ => {
                    return self
                        .send_and_buffer(request, &state, &span, replayable, false)
                        .await
                        .map(|outcome| match outcome {
                            Sent::Done(response) => response,
                            Sent::Retry(response, _) => response,
                        })
                }
            };
            match self
                .send_and_buffer(this_try, &state, &span, replayable, true)
                .await
            {
                Ok(Sent::Done(response)) => return Ok(response),
                Ok(Sent::Retry(_, wait)) => {
                    let wait = wait.unwrap_or_else(|| self.retry.backoff(attempt));
                    tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    self.sleeper.sleep(wait).await;
                }
                Err(e) => {
                    // A failure to connect never reached the server: safe for any method.
                    let retry = e.is_connect() || (replayable && e.is_timeout());
                    if !(retry && may_retry) {
                        return Err(e);
                    }
                    let wait = self.retry.backoff(attempt);
                    tracing::debug!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        connect = e.is_connect(),
                        timeout = e.is_timeout(),
                        "retrying after a transport error"
                    );
                    self.sleeper.sleep(wait).await;
                }
            }
        }
    }

    async fn send_and_buffer(
        &self,
        request: Request,
        state: &CallState,
        span: &tracing::Span,
        replayable: bool,
        may_retry: bool,
    ) -> reqwest::Result<Sent> {
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
        span.record("status", status.as_u16());
        if let Some(ray) = &request_id {
            span.record("cf_ray", ray.as_str());
        }
        {
            let mut seen = state.lock();
            seen.status = Some(status);
            seen.request_id = request_id;
            seen.retry_after = retry_after;
        }

        if may_retry && retry::status_is_retryable(status, replayable) {
            match retry_after {
                // Longer than we are willing to wait: answer now with RateLimited.
                Some(wait) if wait > self.retry.max_retry_after => {}
                wait => {
                    drain(&mut response).await;
                    return Ok(Sent::Retry(response, wait));
                }
            }
        }

        let headers = std::mem::take(response.headers_mut());
        let version = response.version();
        // Carried over so reqwest need not parse a placeholder URL for the rebuilt response.
        let url = response.url().clone();
        let body = match self.read_capped(&mut response).await? {
            Some(body) => body,
            None => {
                state.lock().body_too_large = true;
                Bytes::new()
            }
        };
        let mut rebuilt = http::Response::builder()
            .status(status)
            .version(version)
            .url(url)
            .body(body)
            .expect("status and version come from a valid response");
        *rebuilt.headers_mut() = headers;
        Ok(Sent::Done(Response::from(rebuilt)))
    }

    /// Reads the whole body, or `None` once it passes the cap (the rest is never read).
    async fn read_capped(&self, response: &mut Response) -> reqwest::Result<Option<Bytes>> {
        let cap = self.max_body_bytes;
        match response.content_length() {
            Some(n) if n > cap as u64 => return Ok(None),
            // A declared length within the cap: read it in one go (no copy for one chunk).
            // hyper stops at the declared length, so a lying server cannot exceed it.
            Some(_) => {
                return match response.chunk().await? {
                    None => Ok(Some(Bytes::new())),
                    Some(first) => match response.chunk().await? {
                        None => Ok(Some(first)),
                        Some(second) => self.collect(response, vec![first, second]).await,
                    },
                }
            }
            None => {}
        }
        self.collect(response, Vec::new()).await
    }

    /// Collects the rest of a body after `chunks`, or `None` once it passes the cap.
    async fn collect(
        &self,
        response: &mut Response,
        chunks: Vec<Bytes>,
    ) -> reqwest::Result<Option<Bytes>> {
        let cap = self.max_body_bytes;
        let mut body = BytesMut::new();
        for chunk in chunks {
            if body.len() + chunk.len() > cap {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > cap {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body.freeze()))
    }

    /// Runs one generated call: span, per-call state, and error mapping.
    ///
    /// Not an `async fn`: the generated future is large, and boxing it here, before the
    /// returned future is built, saves copying it through every layer above.
    pub(crate) fn run<'a, T, E, F>(
        &'a self,
        op: Op,
        account: Option<&'a str>,
        call: F,
    ) -> impl Future<Output = Result<(T, Meta), Error>> + 'a
    where
        T: 'a,
        E: ErrorBody + 'a,
        F: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>> + 'a,
    {
        let call = Box::pin(call);
        async move {
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
            let state = Arc::new(CallState {
                inner: Mutex::new(Seen {
                    timeout: op.timeout,
                    ..Seen::default()
                }),
            });
            // Entering a span on every poll costs something even when nobody listens.
            let result = if span.is_disabled() {
                CALL.scope(state.clone(), call).await
            } else {
                CALL.scope(state.clone(), call.instrument(span.clone()))
                    .await
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
        let call = state.call_site(self.provider, op);
        let (status, request_id, retry_after, too_large) = {
            let seen = state.lock();
            (
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

enum Sent {
    Done(Response),
    Retry(Response, Option<Duration>),
}

impl CallState {
    /// The call as errors name it: operation, method and the path actually sent.
    fn call_site(&self, provider: Provider, op: Op) -> CallSite {
        CallSite {
            provider,
            operation: op.id,
            method: op.method,
            path: self
                .lock()
                .path
                .clone()
                .unwrap_or_else(|| op.path.to_string()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
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
