//! The crate's one error type.

use std::fmt;
use std::time::Duration;

/// Which service a request went to.
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

/// The endpoint a request went to: the service, the operation, the method and the path.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// The service.
    pub provider: Provider,
    /// The spec's operationId, e.g. `calls-apps-list`.
    pub operation: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// The request path as sent (percent-encoded), or the path template before sending.
    pub path: String,
}

impl fmt::Display for Endpoint {
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
    /// The request that failed.
    pub endpoint: Endpoint,
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
    /// Whether the request was sent. `false` only for an [`Error::RateLimited`] the client
    /// decided itself: its rate budget had no room in the time the request may wait (before
    /// its deadline, and, when a 429 blocks the budget, within its
    /// [`max_retry_after`](crate::RetryConfig::max_retry_after)); `status` is then 429,
    /// `retry_after` the wait there would have been, and no server answered.
    pub sent: bool,
}

/// Everything that can go wrong in a request.
///
/// `Display` reads as a sentence that says what happened, on which request, and what the API
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
        /// The request.
        endpoint: Box<Endpoint>,
        /// The time limit that ran out.
        after: Duration,
    },
    /// The request could not be sent or the answer not received (DNS, TCP, TLS, reset).
    Transport {
        /// The request.
        endpoint: Box<Endpoint>,
        /// What happened.
        message: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A success status whose body is not what the operation returns (not JSON, wrong shape,
    /// empty, missing `result`, over the size limit).
    Decode {
        /// The request.
        endpoint: Box<Endpoint>,
        /// HTTP status of the answer.
        status: u16,
        /// What is wrong with the body.
        reason: String,
        /// What the body is (its kind, size and first keys; empty when the body was not kept),
        /// never its content: a success answer may hold a secret the client does not know.
        body: String,
    },
    /// A call made of several requests stopped before sending one per item a server listed:
    /// there were more than the call sends (its bound, so that a server cannot make one call
    /// cost thousands of requests). Nothing was sent for the items.
    FanOut {
        /// The call, as the facade names it (`Magic::configs_using`).
        call: &'static str,
        /// What the items are (`sites`).
        items: &'static str,
        /// How many the server listed.
        listed: usize,
        /// How many one call visits at most.
        limit: usize,
    },
    /// An argument was rejected before any request was sent.
    InvalidArgument(String),
    /// The client could not be configured (a missing or contradictory environment variable, a
    /// bad base URL).
    Config(String),
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

    /// The endpoint the error happened on, if a request was made.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Error::Api(f) | Error::Auth(f) | Error::NotFound(f) | Error::RateLimited(f) => {
                Some(&f.endpoint)
            }
            Error::Timeout { endpoint, .. }
            | Error::Transport { endpoint, .. }
            | Error::Decode { endpoint, .. } => Some(endpoint),
            Error::FanOut { .. } | Error::InvalidArgument(_) | Error::Config(_) => None,
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
            Error::Timeout { endpoint, after } => Error::Timeout {
                endpoint: endpoint.clone(),
                after: *after,
            },
            Error::Transport {
                endpoint, message, ..
            } => Error::Transport {
                endpoint: endpoint.clone(),
                message: message.clone(),
                source: message.clone().into(),
            },
            Error::Decode {
                endpoint,
                status,
                reason,
                body,
            } => Error::Decode {
                endpoint: endpoint.clone(),
                status: *status,
                reason: reason.clone(),
                body: body.clone(),
            },
            Error::FanOut {
                call,
                items,
                listed,
                limit,
            } => Error::FanOut {
                call,
                items,
                listed: *listed,
                limit: *limit,
            },
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::Config(m) => Error::Config(m.clone()),
        }
    }

    /// Whether trying the same request again later may succeed: rate limits, timeouts, transport
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
    write!(f, " on {}, HTTP {}", failure.endpoint, failure.status)?;
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
                let provider = failure.endpoint.provider;
                match failure.errors.len() {
                    0 => write!(f, "{provider} API error")?,
                    1 => write!(f, "{provider} API error ")?,
                    _ => write!(f, "{provider} API errors ")?,
                }
                write_errors(f, &failure.errors)?;
                write_tail(f, failure)
            }
            Error::Auth(failure) => {
                write!(f, "{} rejected the credentials", failure.endpoint.provider)?;
                if !failure.errors.is_empty() {
                    f.write_str(": ")?;
                    write_errors(f, &failure.errors)?;
                }
                write_tail(f, failure)
            }
            Error::NotFound(failure) => {
                write!(f, "{} found nothing there", failure.endpoint.provider)?;
                if !failure.errors.is_empty() {
                    f.write_str(": ")?;
                    write_errors(f, &failure.errors)?;
                }
                write_tail(f, failure)
            }
            Error::RateLimited(failure) if !failure.sent => {
                write!(
                    f,
                    "{} was not sent: the rate budget of this client's credential",
                    failure.endpoint
                )?;
                match failure.retry_after {
                    Some(wait) => write!(
                        f,
                        " has no room for another {} s, longer than the request may wait",
                        wait.as_secs_f64()
                    ),
                    None => f.write_str(" has no room in the time the request may wait"),
                }
            }
            Error::RateLimited(failure) => {
                write!(f, "{} rate-limited the request", failure.endpoint.provider)?;
                if let Some(wait) = failure.retry_after {
                    write!(f, " (retry after {} s)", wait.as_secs_f64())?;
                }
                write_tail(f, failure)
            }
            Error::Timeout { endpoint, after } => write!(
                f,
                "{} did not answer {endpoint} within {} s",
                endpoint.provider,
                after.as_secs_f64()
            ),
            Error::Transport {
                endpoint, message, ..
            } => {
                write!(
                    f,
                    "could not complete {endpoint} with {}: {message}",
                    endpoint.provider
                )
            }
            Error::Decode {
                endpoint,
                status,
                reason,
                body,
            } => {
                write!(
                    f,
                    "{} answered {endpoint} with HTTP {status} and a body that is not the \
                     expected JSON ({reason})",
                    endpoint.provider
                )?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            Error::FanOut {
                call,
                items,
                listed,
                limit,
            } => write!(
                f,
                "{call} stopped: the server listed {listed} {items}, and one call sends a \
                 request for at most {limit}; nothing was sent for them"
            ),
            Error::InvalidArgument(message) => write!(f, "invalid argument: {message}"),
            Error::Config(message) => write!(f, "configuration error: {message}"),
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

/// The errors a body of no documented format lists in the shapes JSON APIs commonly use,
/// read leniently: `{"error": ...}`, `{"message": ...}`, `{"errors": [...]}` (strings, or objects
/// with `detail`, `title` or `message`, and a `code` if they have one). Providers read their own
/// shapes besides.
pub(crate) fn common_api_errors(value: &serde_json::Value) -> Vec<ApiError> {
    use serde_json::Value;
    let error = |item: &Value| {
        error_text(item).map(|message| {
            let mut error = ApiError::message(message);
            error.code = item.get("code").and_then(Value::as_i64);
            error
        })
    };
    let mut out = Vec::new();
    for key in ["error", "message"] {
        if let Some(message) = value.get(key).and_then(error_text) {
            out.push(ApiError::message(message));
        }
    }
    match value.get("errors") {
        Some(Value::Array(items)) => out.extend(items.iter().filter_map(error)),
        Some(Value::Object(_)) | None => {}
        Some(other) => out.extend(error_text(other).map(ApiError::message)),
    }
    out
}

/// The text of an error given as a string, or as an object's `detail`, `title` or `message`.
pub(crate) fn error_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("detail")
            .or_else(|| o.get("title"))
            .or_else(|| o.get("message"))
            .and_then(error_text),
        Value::Null => None,
        other => Some(other.to_string()),
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
