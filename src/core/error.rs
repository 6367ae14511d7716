//! The crate's one error type.

use std::fmt;
use std::time::Duration;

/// Which service a call went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// api.cloudflare.com (Calls and Magic apps).
    Cloudflare,
    /// usehover.com.
    Hover,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Cloudflare => "Cloudflare",
            Provider::Hover => "Hover",
        })
    }
}

/// The call an error happened on: operation, method and the path that was requested.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallSite {
    /// The service.
    pub provider: Provider,
    /// The spec's operationId, e.g. `calls-apps-list`.
    pub operation: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// The request path as sent (percent-encoded), or the path template before sending.
    pub path: String,
}

impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// One error reported by the API: Cloudflare's `{code, message, documentation_url, source}`,
/// or a message from a Hover error body (which has no code).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// Cloudflare's error code (1000 and above); `None` for Hover.
    pub code: Option<i64>,
    /// What went wrong, as the API said it.
    pub message: String,
    /// Where the API documents this error.
    pub documentation_url: Option<String>,
    /// JSON pointer into the request body the error is about.
    pub pointer: Option<String>,
}

impl ApiError {
    pub(crate) fn message(message: impl Into<String>) -> Self {
        Self {
            code: None,
            message: message.into(),
            documentation_url: None,
            pointer: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{code} ({})", self.message)?,
            None => f.write_str(&self.message)?,
        }
        if let Some(pointer) = &self.pointer {
            write!(f, " at {pointer}")?;
        }
        Ok(())
    }
}

/// An HTTP error answer from the API, or a `success: false` envelope.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Failure {
    /// The call that failed.
    pub call: CallSite,
    /// HTTP status (200 for a Cloudflare `success: false` on HTTP 200).
    pub status: u16,
    /// The errors the body listed, if it was an error envelope.
    pub errors: Vec<ApiError>,
    /// Cloudflare's `cf-ray` header, to quote to Cloudflare support.
    pub request_id: Option<String>,
    /// How long the server asked to wait (`Retry-After`), if it said.
    pub retry_after: Option<Duration>,
    /// The start of a body that was not an error envelope, secrets removed.
    pub body_snippet: Option<String>,
    /// For a redirect (3xx), the host its `Location` pointed to. These APIs never redirect, so
    /// the client does not follow one: its credentials would go along.
    pub redirect_host: Option<String>,
}

/// Everything that can go wrong in a call.
///
/// `Display` reads as a sentence that says what happened, on which call, and what the API
/// said; it never contains a secret.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error (any status not covered by a more specific variant), or a
    /// Cloudflare envelope said `success: false`.
    Api(Box<Failure>),
    /// The credentials were missing, wrong or expired (HTTP 401), or not allowed (HTTP 403).
    /// A 403 that is an HTML page (an edge or firewall block, not the API) is [`Error::Api`].
    Auth(Box<Failure>),
    /// Nothing exists at that ID (HTTP 404).
    NotFound(Box<Failure>),
    /// Too many requests (HTTP 429), still after the retries allowed, or with a `Retry-After`
    /// longer than the client is configured to wait.
    RateLimited(Box<Failure>),
    /// No complete answer within the configured time.
    Timeout {
        /// The call.
        call: Box<CallSite>,
        /// The time limit that ran out.
        after: Duration,
    },
    /// The request could not be sent or the answer not received (DNS, TCP, TLS, reset).
    Transport {
        /// The call.
        call: Box<CallSite>,
        /// What happened.
        message: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A success status whose body is not what the operation returns (not JSON, wrong shape,
    /// empty, missing `result`, over the size limit).
    Decode {
        /// The call.
        call: Box<CallSite>,
        /// HTTP status of the answer.
        status: u16,
        /// What is wrong with the body.
        reason: String,
        /// The start of the body, secrets removed.
        snippet: String,
    },
    /// An argument was rejected before any request was sent.
    InvalidArgument(String),
    /// The client could not be configured (a missing or contradictory environment variable, a
    /// bad base URL).
    Config(String),
    /// The client was built with `dry_run(true)`: this is the request it would have sent,
    /// and nothing was sent.
    DryRun(Box<crate::core::transport::PreparedRequest>),
}

impl Error {
    /// The HTTP status of the answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(f) | Error::Auth(f) | Error::NotFound(f) | Error::RateLimited(f) => {
                Some(f.status)
            }
            Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The failed answer's details, for the variants that have them.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::Api(f) | Error::Auth(f) | Error::NotFound(f) | Error::RateLimited(f) => Some(f),
            _ => None,
        }
    }

    /// The errors the API listed (empty if it listed none).
    pub fn api_errors(&self) -> &[ApiError] {
        self.failure().map(|f| f.errors.as_slice()).unwrap_or(&[])
    }

    /// The API's error codes (Cloudflare), in order.
    pub fn codes(&self) -> Vec<i64> {
        self.api_errors().iter().filter_map(|e| e.code).collect()
    }

    /// Cloudflare's `cf-ray` of the failed answer.
    pub fn request_id(&self) -> Option<&str> {
        self.failure().and_then(|f| f.request_id.as_deref())
    }

    /// How long the server asked to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        self.failure().and_then(|f| f.retry_after)
    }

    /// The call the error happened on, if a call was made.
    pub fn call(&self) -> Option<&CallSite> {
        match self {
            Error::Api(f) | Error::Auth(f) | Error::NotFound(f) | Error::RateLimited(f) => {
                Some(&f.call)
            }
            Error::Timeout { call, .. }
            | Error::Transport { call, .. }
            | Error::Decode { call, .. } => Some(call),
            Error::InvalidArgument(_) | Error::Config(_) | Error::DryRun(_) => None,
        }
    }

    /// A copy of this error for another caller waiting on the same outcome (a shared Hover
    /// login). A `Transport` error's source is carried as its message.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Api(f) => Error::Api(f.clone()),
            Error::Auth(f) => Error::Auth(f.clone()),
            Error::NotFound(f) => Error::NotFound(f.clone()),
            Error::RateLimited(f) => Error::RateLimited(f.clone()),
            Error::Timeout { call, after } => Error::Timeout {
                call: call.clone(),
                after: *after,
            },
            Error::Transport { call, message, .. } => Error::Transport {
                call: call.clone(),
                message: message.clone(),
                source: message.clone().into(),
            },
            Error::Decode {
                call,
                status,
                reason,
                snippet,
            } => Error::Decode {
                call: call.clone(),
                status: *status,
                reason: reason.clone(),
                snippet: snippet.clone(),
            },
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::Config(m) => Error::Config(m.clone()),
            Error::DryRun(request) => Error::DryRun(request.clone()),
        }
    }

    /// Whether trying the same call again later may succeed: rate limits, timeouts, transport
    /// failures, 408 and 5xx. Note that a POST may have taken effect even when it failed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited(_) | Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Api(f) => f.status == 408 || f.status >= 500,
            _ => false,
        }
    }
}

fn write_errors(f: &mut fmt::Formatter<'_>, errors: &[ApiError]) -> fmt::Result {
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            f.write_str("; ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

fn write_tail(f: &mut fmt::Formatter<'_>, failure: &Failure) -> fmt::Result {
    write!(f, " on {}, HTTP {}", failure.call, failure.status)?;
    if (300..400).contains(&failure.status) {
        match &failure.redirect_host {
            Some(host) => write!(f, ", a redirect to {host}")?,
            None => f.write_str(", a redirect")?,
        }
        f.write_str(
            " (not followed: these APIs never redirect, and the credentials would go along)",
        )?;
    }
    if let Some(ray) = &failure.request_id {
        write!(f, ", cf-ray {ray}")?;
    }
    if failure.errors.is_empty() {
        if let Some(snippet) = failure.body_snippet.as_deref().filter(|s| !s.is_empty()) {
            write!(f, ", body: {snippet}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api(failure) => {
                let provider = failure.call.provider;
                match failure.errors.len() {
                    0 => write!(f, "{provider} API error")?,
                    1 => write!(f, "{provider} API error ")?,
                    _ => write!(f, "{provider} API errors ")?,
                }
                write_errors(f, &failure.errors)?;
                write_tail(f, failure)
            }
            Error::Auth(failure) => {
                write!(f, "{} rejected the credentials", failure.call.provider)?;
                if !failure.errors.is_empty() {
                    f.write_str(": ")?;
                    write_errors(f, &failure.errors)?;
                }
                write_tail(f, failure)
            }
            Error::NotFound(failure) => {
                write!(f, "{} found nothing there", failure.call.provider)?;
                if !failure.errors.is_empty() {
                    f.write_str(": ")?;
                    write_errors(f, &failure.errors)?;
                }
                write_tail(f, failure)
            }
            Error::RateLimited(failure) => {
                write!(f, "{} rate-limited the call", failure.call.provider)?;
                if let Some(wait) = failure.retry_after {
                    write!(f, " (retry after {} s)", wait.as_secs_f64())?;
                }
                write_tail(f, failure)
            }
            Error::Timeout { call, after } => write!(
                f,
                "{} did not answer {call} within {} s",
                call.provider,
                after.as_secs_f64()
            ),
            Error::Transport { call, message, .. } => {
                write!(
                    f,
                    "could not complete {call} with {}: {message}",
                    call.provider
                )
            }
            Error::Decode {
                call,
                status,
                reason,
                snippet,
            } => {
                write!(
                    f,
                    "{} answered {call} with HTTP {status} and a body that is not the expected \
                     JSON ({reason})",
                    call.provider
                )?;
                if !snippet.is_empty() {
                    write!(f, ": {snippet}")?;
                }
                Ok(())
            }
            Error::InvalidArgument(message) => write!(f, "invalid argument: {message}"),
            Error::Config(message) => write!(f, "configuration error: {message}"),
            Error::DryRun(request) => write!(
                f,
                "dry run: {} {} was not sent",
                request.method, request.url
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// The errors a body of no documented format lists, read leniently: `{"errorCode",
/// "errorDescription"}`, `{"error": ...}`,
/// `{"message": ...}`, `{"errors": [...]}` (strings, or objects with `detail`, `title` or
/// `message`, and a `code` if they have one) and Rails' `{"errors": {"field": [...]}}`.
pub(crate) fn lenient_api_errors(value: &serde_json::Value) -> Vec<ApiError> {
    use serde_json::Value;
    fn text(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("detail")
                .or_else(|| o.get("title"))
                .or_else(|| o.get("message"))
                .and_then(text),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
    let error = |item: &Value| {
        text(item).map(|message| {
            let mut error = ApiError::message(message);
            error.code = item.get("code").and_then(Value::as_i64);
            error
        })
    };
    let mut out = Vec::new();
    // Cloudflare Realtime's `{"errorCode", "errorDescription"}`.
    if let Some(description) = value.get("errorDescription").and_then(text) {
        let message = match value.get("errorCode").and_then(text) {
            Some(code) => format!("{code}: {description}"),
            None => description,
        };
        out.push(ApiError::message(message));
    }
    for key in ["error", "message"] {
        if let Some(message) = value.get(key).and_then(text) {
            out.push(ApiError::message(message));
        }
    }
    match value.get("errors") {
        Some(Value::Array(items)) => out.extend(items.iter().filter_map(error)),
        Some(Value::Object(fields)) => {
            for (field, problems) in fields {
                let problems = match problems {
                    Value::Array(list) => list.iter().filter_map(text).collect(),
                    other => text(other).into_iter().collect::<Vec<_>>(),
                };
                for problem in problems {
                    let mut error = ApiError::message(format!("{field} {problem}"));
                    error.pointer = Some(format!("/app/{field}"));
                    out.push(error);
                }
            }
        }
        Some(other) => out.extend(text(other).map(ApiError::message)),
        None => {}
    }
    out
}
