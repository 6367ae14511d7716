//! When to retry, and how long to wait. Acted on by [`crate::core::transport`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// Retry policy: how many times, and how long to wait between tries.
///
/// Defaults:
/// - failures (timeouts, lost connections, 408 and 5xx): 2 retries, exponential backoff with
///   full jitter from 0.5 s, capped at 8 s;
/// - rate limits (429): up to 10 retries, waiting as long as the server asks (`Retry-After`,
///   `retry-after-ms`, else the reset its `Ratelimit` header reports) up to 60 s
///   ([`max_retry_after`](RetryConfig::max_retry_after)); a longer wait ends the request at
///   once with [`Error::RateLimited`](crate::Error::RateLimited). A wait under 100 ms (zero, a
///   date in the past) is a short jittered one (100 ms up to `base`), so a server cannot make
///   the client spin; a 429 that says nothing is waited out with full jitter from 1 s capped at 30 s,
///   never under 100 ms. Sustained rate limiting needs more patience than an outage:
///   Cloudflare's own Go SDK retries 429s 10 times with a 30 s cap;
/// - the same rule with a rate budget (the default for Cloudflare clients and SFU sessions):
///   a 429 blocks the budget for exactly that wait, so every request of the credential (or
///   session) waits it out; a request that meets a block longer than its `max_retry_after`
///   fails at once with `Error::RateLimited`, not sent. Nothing shortens the server's wait: not
///   the budget's window, not a session's pace;
/// - everything within the request's overall deadline (2 minutes by default, see the builders'
///   `total_timeout`).
///
/// What is retried: any method on 429 and on a failure to connect (the request never left);
/// `GET`, `PUT` and `DELETE` also on timeouts, lost connections (a reset, or a connection the
/// server closed without answering), 408 and 5xx. A `POST` or `PATCH` that reached the server is
/// never retried unless [`RetryConfig::retry_non_idempotent`] is set: a retried create makes a
/// second app, and a Calls create returns its secret only once. A 429 is retried for every
/// method by design: the server refused the request before acting on it.
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
    pub(crate) max_rate_limit_retries: u32,
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
    pub(crate) rate_limit_base: Duration,
    pub(crate) rate_limit_cap: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) retry_non_idempotent: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            max_rate_limit_retries: 10,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            rate_limit_base: Duration::from_secs(1),
            rate_limit_cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            retry_non_idempotent: false,
        }
    }
}

impl RetryConfig {
    /// No retries at all, of failures or of rate limits.
    pub fn disabled() -> Self {
        Self::default().max_retries(0).max_rate_limit_retries(0)
    }

    /// How many times a request is retried after a failure (timeout, lost connection, 408, 5xx).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// How many times a request is retried after a 429 (counted apart from failures).
    pub fn max_rate_limit_retries(mut self, retries: u32) -> Self {
        self.max_rate_limit_retries = retries;
        self
    }

    /// The first backoff step after a failure; each retry doubles it (before jitter).
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The longest backoff between two tries after a failure.
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The longest backoff after a 429 that carries no `Retry-After`.
    pub fn rate_limit_cap(mut self, cap: Duration) -> Self {
        self.rate_limit_cap = cap;
        self
    }

    /// The longest wait a 429 (or a 5xx's `Retry-After`) may ask for and still be waited out;
    /// a longer one ends the request at once, and a request meeting a rate budget blocked for
    /// longer fails at once too.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Also retry `POST` and `PATCH` on timeouts, lost connections, 408 and 5xx. Only for
    /// callers who make their writes idempotent themselves: a retried create can make a second
    /// app.
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// Full-jitter exponential backoff before retry number `retry` (1-based) after a failure.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        jittered(self.base, self.cap, retry)
    }

    /// Full-jitter exponential backoff before retry number `retry` after a 429 that says
    /// nothing of its length; never under [`MIN_WAIT`], so a server cannot make the client spin.
    pub(crate) fn rate_limit_backoff(&self, retry: u32) -> Duration {
        jittered(self.rate_limit_base, self.rate_limit_cap, retry).max(MIN_WAIT)
    }

    /// The wait a server asked for, made safe: a wait under [`MIN_WAIT`] (`Retry-After: 0`, a
    /// date in the past, `retry-after-ms: 1`) becomes a short jittered one, so a server cannot
    /// make the client spin.
    pub(crate) fn honoured(&self, asked: Duration) -> Duration {
        if asked < MIN_WAIT {
            MIN_WAIT + self.base.saturating_sub(MIN_WAIT).mul_f64(fastrand::f64())
        } else {
            asked
        }
    }
}

/// The shortest wait after a server asked for none.
const MIN_WAIT: Duration = Duration::from_millis(100);

fn jittered(base: Duration, cap: Duration, retry: u32) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
    // `mul_f64` by a factor in [0, 1) of a finite duration cannot overflow.
    exp.min(cap).mul_f64(fastrand::f64())
}

/// What one try came to, as far as trying again is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The request never left (a failure to connect): safe to send again, whatever it is.
    NotSent,
    /// No complete answer within the try's time: the request may have reached the server.
    TimedOut,
    /// The connection was lost (a reset, a connection closed without an answer, a body cut
    /// short): the request may have reached the server.
    Lost,
    /// An answer with this status that is not what the operation returns (or does not decode).
    Status(u16),
    /// Anything else (a request that could not be built, an error with no answer): another try
    /// would end the same.
    Final,
}

/// Retries used so far in a request, by kind: failures and rate limits have budgets of their own.
#[derive(Debug, Default)]
pub(crate) struct Tries {
    failures: u32,
    rate_limits: u32,
}

/// What the retry rules make of a failed try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Next {
    /// Try again after this long; `None`: the request ends here.
    pub(crate) wait: Option<Duration>,
    /// For a 429: how long every request of the credential must wait, what a rate budget
    /// blocks for. The same wait the request itself would take, and set even when the request
    /// ends (its retries spent, or the server's wait longer than the client waits).
    pub(crate) block: Option<Duration>,
}

/// How long to wait before trying again after `outcome`, or `None` to give up, spending the
/// retry it takes from `tries`. `replayable`: the request may be sent twice (its method is
/// idempotent, or the operation or the caller says so); `server_wait`: the wait the answer
/// asked for (`Retry-After`, or for a 429 the reset its `Ratelimit` reports).
///
/// The one rule for waiting, with or without a rate budget: a zero or past wait becomes a
/// short jittered one; a wait longer than `max_retry_after` ends the request at once; a 429
/// that says nothing is waited out with jittered exponential backoff, never under 100 ms.
pub(crate) fn next_try(
    config: &RetryConfig,
    outcome: Outcome,
    replayable: bool,
    server_wait: Option<Duration>,
    tries: &mut Tries,
) -> Next {
    let failure = |tries: &mut Tries| {
        (tries.failures < config.max_retries).then(|| {
            tries.failures += 1;
            config.backoff(tries.failures)
        })
    };
    let wait = match outcome {
        Outcome::NotSent => failure(tries),
        Outcome::TimedOut | Outcome::Lost if replayable => failure(tries),
        Outcome::TimedOut | Outcome::Lost | Outcome::Final => None,
        Outcome::Status(429) => {
            let wait = match server_wait {
                Some(asked) => config.honoured(asked),
                None => config.rate_limit_backoff(tries.rate_limits + 1),
            };
            let block = Some(wait);
            if tries.rate_limits >= config.max_rate_limit_retries {
                return Next { wait: None, block };
            }
            tries.rate_limits += 1;
            // Longer than the client is willing to wait: answer now (RateLimited).
            let within = server_wait.is_none_or(|asked| asked <= config.max_retry_after);
            return Next {
                wait: within.then_some(wait),
                block,
            };
        }
        Outcome::Status(status)
            if replayable && (status == 408 || (500..600).contains(&status)) =>
        {
            if tries.failures >= config.max_retries {
                return Next::END;
            }
            tries.failures += 1;
            match server_wait {
                Some(wait) if wait > config.max_retry_after => None,
                Some(wait) => Some(config.honoured(wait)),
                None => Some(config.backoff(tries.failures)),
            }
        }
        Outcome::Status(_) => None,
    };
    Next { wait, block: None }
}

impl Next {
    /// The request ends here, blocking nobody.
    pub(crate) const END: Next = Next {
        wait: None,
        block: None,
    };
}

/// Whether a method (as the operation names it) can be sent twice without a second effect.
pub(crate) fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE")
}

const RETRY_AFTER_MS: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static("retry-after-ms");

/// The longest wait a server can ask for, as the client records it: anything longer (or
/// absurd: `1e30`, twenty digits, a date in the year 9999) is "too long" and reads as this.
pub(crate) const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 60 * 60);

/// The wait a server asked for: `retry-after-ms`, or `Retry-After` in seconds or as an HTTP
/// date, at most [`RETRY_AFTER_CEILING`]. Whatever the header holds, this cannot panic: values
/// that are not numbers or dates are ignored, absurd ones read as the ceiling, and past dates as
/// zero.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get(RETRY_AFTER_MS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| !ms.is_nan() && *ms >= 0.0)
    {
        // `try_from_secs_f64` refuses what a Duration cannot hold (`from_secs_f64` panics).
        let wait = Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(RETRY_AFTER_CEILING);
        return Some(wait.min(RETRY_AFTER_CEILING));
    }
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: a number of seconds, however many digits it has.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(RETRY_AFTER_CEILING));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(RETRY_AFTER_CEILING),
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

    /// Each setter sets its own field, and only it.
    #[test]
    fn every_setter_sets_its_own_field() {
        let ms = Duration::from_millis;
        let set = RetryConfig::default()
            .max_retries(7)
            .max_rate_limit_retries(8)
            .base(ms(3))
            .cap(ms(4))
            .rate_limit_cap(ms(5))
            .max_retry_after(ms(6))
            .retry_non_idempotent(true);
        assert_eq!(
            (
                set.max_retries,
                set.max_rate_limit_retries,
                set.base,
                set.cap
            ),
            (7, 8, ms(3), ms(4))
        );
        assert_eq!(
            (
                set.rate_limit_cap,
                set.max_retry_after,
                set.retry_non_idempotent
            ),
            (ms(5), ms(6), true)
        );
        assert_eq!(set.rate_limit_base, RetryConfig::default().rate_limit_base);
        let off = RetryConfig::disabled();
        assert_eq!((off.max_retries, off.max_rate_limit_retries), (0, 0));
        assert_eq!(off.base, RetryConfig::default().base);
    }

    #[test]
    fn backoff_is_full_jitter_under_the_exponential_cap() {
        let config = RetryConfig::default();
        for retry in 1..10 {
            let ceiling = Duration::from_millis(500 * 2u64.pow(retry - 1)).min(config.cap);
            let waits: Vec<Duration> = (0..200).map(|_| config.backoff(retry)).collect();
            assert!(waits.iter().all(|w| *w <= ceiling));
            // Spread over the range, not stuck at zero: 200 draws all under half the ceiling
            // happen once in 2^200.
            assert!(waits.iter().any(|w| *w > ceiling / 2), "retry {retry}");
            let limited: Vec<Duration> =
                (0..200).map(|_| config.rate_limit_backoff(retry)).collect();
            let ceiling = (config.rate_limit_base * 2u32.pow(retry - 1)).min(config.rate_limit_cap);
            assert!(limited.iter().all(|w| *w <= ceiling));
            assert!(limited.iter().any(|w| *w > ceiling / 2), "retry {retry}");
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

    /// Absurd values read as the ceiling; past dates as zero; none of them panics (this one
    /// did: `Duration::from_secs_f64(1e27)`).
    #[test]
    fn absurd_waits_are_too_long_not_a_panic() {
        let one = |name: &'static str, value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(value));
            retry_after(&headers)
        };
        for value in ["1e30", "inf", "1.8e308", "18446744073709551616000"] {
            assert_eq!(
                one("retry-after-ms", value),
                Some(RETRY_AFTER_CEILING),
                "{value}"
            );
        }
        for value in ["-1", "NaN", "-inf", "", "0x10"] {
            assert_eq!(one("retry-after-ms", value), None, "{value}");
        }
        assert_eq!(
            one("retry-after", "99999999999999999999999"),
            Some(RETRY_AFTER_CEILING)
        );
        assert_eq!(
            one("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(RETRY_AFTER_CEILING)
        );
        assert_eq!(
            one("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(one("retry-after", "-5"), None);
        assert_eq!(one("retry-after", "1.5"), None);
    }

    #[test]
    fn a_zero_wait_becomes_a_short_jittered_one() {
        let config = RetryConfig::default();
        for _ in 0..100 {
            let wait = config.honoured(Duration::ZERO);
            assert!(wait >= MIN_WAIT && wait <= config.base, "{wait:?}");
        }
        assert_eq!(
            config.honoured(Duration::from_millis(250)),
            Duration::from_millis(250)
        );
        assert_eq!(config.honoured(MIN_WAIT), MIN_WAIT);
        // A wait just over zero is no better than zero.
        for asked in [
            Duration::from_nanos(1),
            Duration::from_millis(1),
            MIN_WAIT - Duration::from_nanos(1),
        ] {
            let wait = config.honoured(asked);
            assert!(
                wait >= MIN_WAIT && wait <= config.base,
                "{asked:?}: {wait:?}"
            );
        }
    }

    /// Every kind of outcome, for a method that may and one that may not be replayed, with and
    /// without a `Retry-After`: whether another try follows, and which budget it takes.
    #[test]
    fn next_try_by_outcome_method_and_retry_after() {
        use Outcome::*;
        let config = RetryConfig::default();
        let long = config.max_retry_after + Duration::from_secs(1);
        // A wait of exactly the most the client will wait is still waited for.
        let most = Some(config.max_retry_after);
        let two = Some(Duration::from_secs(2));
        // (outcome, replayable, retry_after) → (a wait, or none; failures, rate limits spent)
        type Case = (Outcome, bool, Option<Duration>, Option<Duration>, u32, u32);
        #[rustfmt::skip]
        let table: &[Case] = &[
            (NotSent, false, None, Some(Duration::MAX), 1, 0),
            (NotSent, true, None, Some(Duration::MAX), 1, 0),
            (TimedOut, true, None, Some(Duration::MAX), 1, 0),
            (TimedOut, false, None, None, 0, 0),
            (Lost, true, None, Some(Duration::MAX), 1, 0),
            (Lost, false, None, None, 0, 0),
            (Final, true, None, None, 0, 0),
            (Status(429), false, two, two, 0, 1),
            (Status(429), true, None, Some(Duration::MAX), 0, 1),
            (Status(429), true, Some(long), None, 0, 1),
            (Status(429), true, most, most, 0, 1),
            (Status(503), true, two, two, 1, 0),
            (Status(503), true, None, Some(Duration::MAX), 1, 0),
            (Status(503), true, Some(long), None, 1, 0),
            (Status(503), true, most, most, 1, 0),
            (Status(503), false, two, None, 0, 0),
            (Status(500), true, None, Some(Duration::MAX), 1, 0),
            (Status(599), true, None, Some(Duration::MAX), 1, 0),
            (Status(408), true, None, Some(Duration::MAX), 1, 0),
            (Status(408), false, None, None, 0, 0),
            (Status(404), true, two, None, 0, 0),
            (Status(400), true, None, None, 0, 0),
            (Status(401), true, None, None, 0, 0),
            (Status(200), true, None, None, 0, 0),
            (Status(301), true, None, None, 0, 0),
            (Status(600), true, None, None, 0, 0),
        ];
        for &(outcome, replayable, retry_after, expected, failures, rate_limits) in table {
            let mut tries = Tries::default();
            let next = next_try(&config, outcome, replayable, retry_after, &mut tries);
            let wait = next.wait;
            let case = format!("{outcome:?} replayable={replayable} retry_after={retry_after:?}");
            // A 429 blocks a budget for the wait the request takes, or, when it takes none
            // because the server asked too much, for all the server asked; nothing else blocks.
            match (outcome, wait) {
                (Status(429), Some(wait)) => assert_eq!(next.block, Some(wait), "{case}"),
                (Status(429), None) => assert_eq!(next.block, retry_after, "{case}"),
                _ => assert_eq!(next.block, None, "{case}"),
            }
            match expected {
                // A backoff: jittered, so only bounded.
                Some(Duration::MAX) => {
                    let cap = if outcome == Status(429) {
                        config.rate_limit_cap
                    } else {
                        config.cap
                    };
                    assert!(wait.is_some_and(|w| w <= cap), "{case}: {wait:?}");
                }
                expected => assert_eq!(wait, expected, "{case}"),
            }
            assert_eq!(
                (tries.failures, tries.rate_limits),
                (failures, rate_limits),
                "{case}"
            );
        }
    }

    /// Each budget runs out on its own: failures after `max_retries`, rate limits after
    /// `max_rate_limit_retries`, and spending one leaves the other.
    #[test]
    fn budgets_run_out_apart() {
        let config = RetryConfig::default()
            .max_retries(2)
            .max_rate_limit_retries(3);
        let mut tries = Tries::default();
        for _ in 0..2 {
            assert!(
                next_try(&config, Outcome::Status(503), true, None, &mut tries)
                    .wait
                    .is_some()
            );
        }
        assert!(
            next_try(&config, Outcome::Status(503), true, None, &mut tries)
                .wait
                .is_none()
        );
        assert!(next_try(&config, Outcome::NotSent, true, None, &mut tries)
            .wait
            .is_none());
        for _ in 0..3 {
            assert!(
                next_try(&config, Outcome::Status(429), false, None, &mut tries)
                    .wait
                    .is_some()
            );
        }
        assert!(
            next_try(&config, Outcome::Status(429), false, None, &mut tries)
                .wait
                .is_none()
        );
        assert_eq!((tries.failures, tries.rate_limits), (2, 3));
        // Backoff grows with the failures spent: the second wait may be up to twice the first.
        let mut tries = Tries::default();
        let config = RetryConfig::default()
            .base(Duration::from_secs(1))
            .cap(Duration::from_secs(60));
        for expected_cap in [1, 2] {
            let wait = next_try(&config, Outcome::Lost, true, None, &mut tries)
                .wait
                .unwrap();
            assert!(wait <= Duration::from_secs(expected_cap), "{wait:?}");
        }
        assert!(is_idempotent("PUT") && is_idempotent("GET") && is_idempotent("DELETE"));
        assert!(!is_idempotent("PATCH") && !is_idempotent("POST"));
    }
}
