//! When to retry, and how long to wait. Acted on by [`crate::core::transport`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// Retry policy: how many times, and how long to wait between tries.
///
/// Defaults: 2 retries, exponential backoff with full jitter from 0.5 s capped at 8 s, and a
/// server's `Retry-After` honoured up to 60 s (a longer one ends the call at once with
/// [`Error::RateLimited`](crate::Error::RateLimited)).
///
/// What is retried: any method on 429 and on a failure to connect (the request never left);
/// `GET`, `PUT` and `DELETE` also on timeouts, 408 and 5xx. A `POST` or `PATCH` that reached
/// the server is never retried unless [`RetryConfig::retry_non_idempotent`] is set: a retried
/// create makes a second app, and a Calls create returns its secret only once.
///
/// ```
/// use std::time::Duration;
/// use apps_api::RetryConfig;
/// let patient = RetryConfig::default().max_retries(5).cap(Duration::from_secs(30));
/// let never = RetryConfig::disabled();
/// # let _ = (patient, never);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    pub(crate) max_retries: u32,
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) retry_non_idempotent: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            retry_non_idempotent: false,
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn disabled() -> Self {
        Self::default().max_retries(0)
    }

    /// How many times a call is retried after its first try.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first backoff step; each retry doubles it (before jitter).
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The longest backoff between two tries.
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The longest `Retry-After` the client waits for; a longer one ends the call at once.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Also retry `POST` and `PATCH` on timeouts, 408 and 5xx. Only for callers who make
    /// their writes idempotent themselves: a retried create can make a second app.
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// Full-jitter exponential backoff before retry number `retry` (1-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        let ceiling = exp.min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Whether a method (as the operation names it) can be sent twice without a second effect.
pub(crate) fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE")
}

/// Whether an answer with this status is worth another try.
pub(crate) fn status_is_retryable(status: StatusCode, replayable: bool) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (replayable && (status == StatusCode::REQUEST_TIMEOUT || status.is_server_error()))
}

const RETRY_AFTER_MS: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static("retry-after-ms");

/// The wait a server asked for: `retry-after-ms`, or `Retry-After` in seconds or as an HTTP
/// date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get(RETRY_AFTER_MS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Waits between retries. The default uses `tokio::time::sleep`; tests inject one that records
/// the waits and returns at once.
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The default [`Sleeper`]: `tokio::time::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_is_full_jitter_under_the_exponential_cap() {
        let config = RetryConfig::default();
        for retry in 1..10 {
            let ceiling = Duration::from_millis(500 * 2u64.pow(retry - 1)).min(config.cap);
            for _ in 0..100 {
                assert!(config.backoff(retry) <= ceiling);
            }
        }
    }

    #[test]
    fn retry_after_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            "retry-after",
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(115) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after-ms", HeaderValue::from_static("nonsense"));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn classifier() {
        assert!(status_is_retryable(StatusCode::TOO_MANY_REQUESTS, false));
        assert!(!status_is_retryable(StatusCode::SERVICE_UNAVAILABLE, false));
        assert!(status_is_retryable(StatusCode::SERVICE_UNAVAILABLE, true));
        assert!(status_is_retryable(StatusCode::REQUEST_TIMEOUT, true));
        assert!(!status_is_retryable(StatusCode::NOT_FOUND, true));
        assert!(is_idempotent("PUT") && !is_idempotent("PATCH") && !is_idempotent("POST"));
    }
}
