//! The fake's rate limit on the Cloudflare API, off unless asked for: a fixed window per
//! credential, as Cloudflare keeps one per user or token. A request past the quota gets 429
//! with code 971 and blocks that credential for a whole window; every answer (refusals
//! included) carries `Ratelimit` and `Ratelimit-Policy`, as Cloudflare's do since 2025-09-03.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use tokio::time::Instant;

use crate::Quota;

/// The limit and each credential's window.
#[derive(Debug, Default)]
pub(crate) struct RateLimit {
    quota: Option<Quota>,
    /// By credential (only credentials the fake accepts are counted: a handful).
    windows: HashMap<String, Window>,
}

#[derive(Debug)]
struct Window {
    starts: Instant,
    count: u32,
    blocked_until: Option<Instant>,
}

/// What the limit says of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Served; `remaining` more fit before `reset`.
    Allowed { remaining: u32, reset: Duration },
    /// Refused: blocked for `wait`.
    Refused { wait: Duration },
}

impl RateLimit {
    /// Sets (or, with `None`, lifts) the limit; every window starts afresh.
    pub(crate) fn set(&mut self, quota: Option<Quota>) {
        self.quota = quota;
        self.windows.clear();
    }

    pub(crate) fn quota(&self) -> Option<Quota> {
        self.quota
    }

    /// Counts a request of `credential` at `now`; `None` when there is no limit.
    pub(crate) fn check(&mut self, credential: &str, now: Instant) -> Option<(Quota, Verdict)> {
        let quota = self.quota?;
        let window = self
            .windows
            .entry(credential.to_string())
            .or_insert(Window {
                starts: now,
                count: 0,
                blocked_until: None,
            });
        if let Some(until) = window.blocked_until {
            if now < until {
                return Some((quota, Verdict::Refused { wait: until - now }));
            }
            *window = Window {
                starts: now,
                count: 0,
                blocked_until: None,
            };
        }
        // Windows follow each other from the first: a fixed window, not a sliding one.
        let elapsed = now - window.starts;
        if elapsed >= quota.window {
            let windows = elapsed.as_nanos() / quota.window.as_nanos();
            let whole = quota
                .window
                .saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX));
            window.starts += whole;
            window.count = 0;
        }
        if window.count >= quota.requests {
            window.blocked_until = Some(now + quota.window);
            return Some((quota, Verdict::Refused { wait: quota.window }));
        }
        window.count += 1;
        let reset = (window.starts + quota.window) - now;
        Some((
            quota,
            Verdict::Allowed {
                remaining: quota.requests - window.count,
                reset,
            },
        ))
    }
}

/// Whole seconds, rounded up (as `Retry-After` is): a reset is never announced early.
fn seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The answer to a request past the budget, as Cloudflare gives it.
pub(crate) fn refusal(wait: Duration) -> Response {
    let mut response = super::cloudflare::error_envelope(
        StatusCode::TOO_MANY_REQUESTS,
        &[(
            971,
            "Please wait and consider throttling your request speed",
        )],
    );
    if let Ok(value) = HeaderValue::from_str(&seconds(wait).to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// Adds `Ratelimit` and `Ratelimit-Policy` to an answer.
pub(crate) fn with_headers(mut response: Response, quota: Quota, verdict: Verdict) -> Response {
    let (remaining, reset) = match verdict {
        Verdict::Allowed { remaining, reset } => (remaining, reset),
        Verdict::Refused { wait } => (0, wait),
    };
    let headers = response.headers_mut();
    let limit = format!("\"default\";r={remaining};t={}", seconds(reset));
    let policy = format!(
        "\"default\";q={};w={}",
        quota.requests,
        seconds(quota.window)
    );
    for (name, value) in [("ratelimit", limit), ("ratelimit-policy", policy)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// Fixed windows from the first request; past the quota, a 429 and a block of a whole
    /// window; then a new window from the first request after it.
    #[tokio::test(start_paused = true)]
    async fn a_fixed_window_per_credential() {
        let mut limit = RateLimit::default();
        let start = Instant::now();
        assert_eq!(limit.check("a", start), None, "off by default");
        let quota = Quota::new(2, 6 * SECOND);
        limit.set(Some(quota));
        let allowed = |remaining, reset| Some((quota, Verdict::Allowed { remaining, reset }));
        assert_eq!(limit.check("a", start), allowed(1, 6 * SECOND));
        assert_eq!(limit.check("b", start + SECOND), allowed(1, 6 * SECOND));
        assert_eq!(limit.check("a", start + 2 * SECOND), allowed(0, 4 * SECOND));
        // The next window of "a" starts at 6 s, not at its next request.
        assert_eq!(limit.check("a", start + 7 * SECOND), allowed(1, 5 * SECOND));
        assert_eq!(limit.check("a", start + 8 * SECOND), allowed(0, 4 * SECOND));
        let refused = |wait| Some((quota, Verdict::Refused { wait }));
        assert_eq!(limit.check("a", start + 9 * SECOND), refused(6 * SECOND));
        // Blocked for a whole window, past its end (12 s).
        assert_eq!(limit.check("a", start + 14 * SECOND), refused(SECOND));
        assert_eq!(
            limit.check("a", start + 15 * SECOND),
            allowed(1, 6 * SECOND)
        );
        // Many windows later: aligned still.
        assert_eq!(
            limit.check("b", start + 61 * SECOND),
            allowed(1, 6 * SECOND)
        );
        assert_eq!(
            limit.check("b", start + 62 * SECOND),
            allowed(0, 5 * SECOND)
        );
        limit.set(None);
        assert_eq!(limit.check("a", start + 62 * SECOND), None);
    }

    #[test]
    fn the_headers_round_up() {
        let quota = Quota::new(30, Duration::from_millis(5500));
        let verdict = Verdict::Allowed {
            remaining: 7,
            reset: Duration::from_millis(4001),
        };
        let response = with_headers(refusal(SECOND), quota, verdict);
        let header = |name| response.headers()[name].to_str().unwrap().to_string();
        assert_eq!(header("ratelimit"), "\"default\";r=7;t=5");
        assert_eq!(header("ratelimit-policy"), "\"default\";q=30;w=6");
        assert_eq!(header("retry-after"), "1");
        assert_eq!(response.status(), 429);
    }
}
