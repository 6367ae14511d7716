//! The rate budget: how many requests a credential may send per window, kept by the client so
//! that a job of many requests from many tasks goes at the API's limit and is never refused.
//!
//! A request takes its place in the budget before it is sent (in-flight requests count against
//! what is left) and waits when the window is spent, until it resets. Each answer's
//! `Ratelimit`/`Ratelimit-Policy` headers correct the count, the reset and the quota. A 429
//! blocks the whole budget for the wait the retry rules read from it, instead of each request
//! retrying into it. Waits use tokio's clock: they are shared by tasks, so they are not the
//! [`Sleeper`](crate::Sleeper)'s (which paces one request's retries).
//!
//! Which budgets a request goes through, and how long they are kept: [`registry`].

mod headers;
mod registry;
#[cfg(test)]
mod tests;

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

pub(crate) use headers::{reported, Reported};
pub(crate) use registry::{Budgets, Permits, Registry};

/// A rate budget: at most `requests` per `window`.
///
/// ```
/// use std::time::Duration;
/// use apps_api::Quota;
/// assert_eq!(Quota::CLOUDFLARE, Quota::new(1200, Duration::from_secs(300)));
/// assert_eq!("30/6s".parse::<Quota>().unwrap(), Quota::new(30, Duration::from_secs(6)));
/// assert_eq!("1200/5m".parse::<Quota>().unwrap(), Quota::CLOUDFLARE);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Requests per window.
    pub requests: u32,
    /// The window.
    pub window: Duration,
}

impl Quota {
    /// Cloudflare's API limit: 1,200 requests per 5 minutes for each user or token.
    pub const CLOUDFLARE: Quota = Quota::new(1200, Duration::from_secs(300));

    /// At most `requests` per `window`.
    pub const fn new(requests: u32, window: Duration) -> Self {
        Quota { requests, window }
    }

    /// A quota a budget can keep: at least one request, in a window of at least a millisecond
    /// and at most a day.
    fn check(self) -> Result<Self, String> {
        if self.requests == 0 {
            return Err("a rate budget of 0 requests lets nothing through".into());
        }
        if self.window < Duration::from_millis(1) || self.window > Duration::from_secs(86_400) {
            return Err(format!(
                "a rate budget's window must be 1 ms to 1 day, not {:?}",
                self.window
            ));
        }
        Ok(self)
    }
}

/// `quota`, if a budget can keep it; else why not.
pub(crate) fn checked(quota: Quota) -> Result<Quota, String> {
    quota.check()
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let window = self.window;
        if window.subsec_nanos() == 0 {
            write!(f, "{}/{}s", self.requests, window.as_secs())
        } else {
            write!(f, "{}/{}ms", self.requests, window.as_millis())
        }
    }
}

/// Reads `REQUESTS/WINDOW`, the window a whole number with a unit: `30/6s`, `1200/5m`,
/// `100/1h`, `5/500ms` (seconds without a unit).
impl std::str::FromStr for Quota {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let malformed = || format!("{text:?} is not a rate budget such as 30/6s or 1200/5m");
        let (requests, window) = text.trim().split_once('/').ok_or_else(malformed)?;
        let requests: u32 = requests.trim().parse().map_err(|_| malformed())?;
        let window = window.trim();
        let digits = window
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(window.len());
        let (number, unit) = window.split_at(digits);
        let number: u64 = number.parse().map_err(|_| malformed())?;
        let window = match unit {
            "ms" => Duration::from_millis(number),
            "" | "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            _ => return Err(malformed()),
        };
        Quota::new(requests, window).check()
    }
}

/// What a budget knows now ([`CloudflareClient::rate_budget`](crate::cloudflare::CloudflareClient::rate_budget)
/// and the other clients'), every time relative to the moment it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetSnapshot {
    /// The quota it keeps: the one configured, or the server's `Ratelimit-Policy` once it has
    /// sent one (unless a quota was set on the builder, which stays the limit).
    pub policy: Quota,
    /// Requests it may still send in this window (requests in flight are already counted).
    pub remaining: u32,
    /// Requests sent and not yet answered.
    pub in_flight: u32,
    /// When the window resets; `None` before the first request.
    pub resets_in: Option<Duration>,
    /// How long a 429 blocks every request; `None` when not blocked.
    pub blocked_for: Option<Duration>,
}

/// A budget's setting: its quota, and whether it was set by hand (then the server's policy does
/// not replace it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Setting {
    pub(crate) quota: Quota,
    pub(crate) explicit: bool,
}

/// How much a reset the server reports may differ from the one the budget holds and still be
/// the same window (`t` is whole seconds).
const SAME_WINDOW: Duration = Duration::from_secs(1);

/// Added to the reset the server reports: the time between the server's clock reading and this
/// answer is already on the safe side (`t` is rounded up, as Cloudflare rounds `Retry-After`,
/// and the answer comes after the server read its clock), so this only covers scheduling. It
/// is not added again at each window: a window's end is the earliest reset reported for it.
/// A server that rounds `t` down shows it with a 429 in a window opened at its reported reset:
/// from then on the budget adds [`SAME_WINDOW`] more.
const RESET_MARGIN: Duration = Duration::from_millis(50);

/// The least time a request must have left after waiting for its place.
const LEAST_TRY: Duration = Duration::from_millis(100);

/// A credential's budget.
#[derive(Debug)]
pub(crate) struct Budget {
    state: Mutex<State>,
    /// Woken when room appears before a window's end (a server reports more than was counted).
    room: Notify,
}

/// Why there is no place now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NoPlace {
    /// When there may be one.
    until: Instant,
    /// Whether a 429's block is the reason (else the window is spent).
    blocked: bool,
}

#[derive(Debug)]
struct State {
    quota: Quota,
    explicit: bool,
    /// Requests the window has room for beyond those already sent.
    remaining: u32,
    in_flight: u32,
    window_ends: Option<Instant>,
    /// Whether `window_ends` and `remaining` come from the server (else they are estimates).
    reported: bool,
    blocked_until: Option<Instant>,
    /// Requests sent so far; each request's number is the count before it.
    sent: u64,
    /// The number of the first request of this window: answers to earlier ones speak of an
    /// earlier window.
    window_first: u64,
    /// Whether the quota is the server's or set by hand (not a default nobody confirmed).
    quota_known: bool,
    /// Whether answers' `Ratelimit-Policy` is worth reading: not yet in this window (a quota
    /// changes rarely, and matters only when a window starts), and no quota set by hand.
    policy_wanted: bool,
    /// What is added to a reported reset ([`RESET_MARGIN`], more once `t` proved early).
    margin: Duration,
    /// Whether this window opened at a reset the server reported (a 429 in it says the report
    /// was early).
    opened_by_report: bool,
    /// The longest window the budget believes: the configured quota's. A server that says
    /// `t=86400` or `w=86400` on every answer (lying, or broken) would otherwise pace every
    /// request on the credential to one a day. (A 429's block is another matter: what the
    /// server asked for is kept, and requests that will not wait that long fail at once.)
    longest_window: Duration,
}

impl State {
    fn new(setting: Setting) -> Self {
        let Setting { quota, explicit } = setting;
        State {
            quota,
            explicit,
            remaining: quota.requests,
            in_flight: 0,
            window_ends: None,
            reported: false,
            blocked_until: None,
            sent: 0,
            window_first: 0,
            quota_known: explicit,
            policy_wanted: !explicit,
            margin: RESET_MARGIN,
            opened_by_report: false,
            longest_window: quota.window,
        }
    }

    /// A new window from `now`: the whole quota, less what is still in flight (the server may
    /// count those in it).
    fn next_window(&mut self, now: Instant) {
        self.remaining = self.quota.requests.saturating_sub(self.in_flight);
        self.window_ends = Some(now + self.quota.window);
        self.opened_by_report = self.reported;
        self.reported = false;
        self.window_first = self.sent;
        self.policy_wanted = !self.explicit;
    }

    /// Takes a place (the request's number), or says until when there is none.
    fn take(&mut self, now: Instant) -> Result<u64, NoPlace> {
        if let Some(until) = self.blocked_until {
            if now < until {
                return Err(NoPlace {
                    until,
                    blocked: true,
                });
            }
            self.blocked_until = None;
            self.next_window(now);
        }
        match self.window_ends {
            Some(end) if now < end => {}
            _ => self.next_window(now),
        }
        if self.remaining == 0 {
            return Err(NoPlace {
                // (`next_window` just set it.)
                until: self.window_ends.unwrap_or(now),
                blocked: false,
            });
        }
        self.remaining -= 1;
        self.in_flight += 1;
        self.sent += 1;
        Ok(self.sent - 1)
    }

    /// A place taken for request number `request` and never used (nothing was sent): the
    /// window has it again, if it is still the window it was taken from.
    fn unused(&mut self, request: u64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if request >= self.window_first && self.blocked_until.is_none() {
            self.remaining = (self.remaining + 1).min(self.quota.requests);
        }
    }

    /// The answer to request number `request`: the limits it reported, and `block`, how long
    /// every request must wait (a 429's wait, as the retry rules read it). Returns whether
    /// there is more room than before, or the window ends sooner.
    fn answered(
        &mut self,
        now: Instant,
        request: u64,
        block: Option<Duration>,
        report: Option<Reported>,
    ) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        let (before, ends_before) = (self.remaining, self.window_ends);
        let report = report.unwrap_or_default();
        if let (Some(policy), false) = (report.policy, self.explicit) {
            self.quota = Quota::new(policy.requests, policy.window.min(self.longest_window));
            self.quota_known = true;
            self.policy_wanted = false;
        }
        // An answer to a request of an earlier window speaks of that window.
        let current = request >= self.window_first;
        if let (Some((reported, reset)), true) = (report.remaining, current) {
            // What is left: what the server reports (less when others share the credential),
            // but no more than the quota less what this window has sent, which counts the
            // requests in flight whatever order the server takes them in. Without a known
            // quota, every request in flight may be one the report does not count yet.
            let sent = u32::try_from(self.sent - self.window_first).unwrap_or(u32::MAX);
            let left = if self.quota_known {
                reported.min(self.quota.requests.saturating_sub(sent))
            } else {
                reported.saturating_sub(self.in_flight)
            };
            let server_end = now + reset.min(self.longest_window) + self.margin;
            match self.window_ends {
                // A quota set by hand is a limit of its own: the server only lowers it.
                _ if self.explicit => self.remaining = self.remaining.min(left),
                Some(end) if self.reported && server_end + SAME_WINDOW < end => {
                    // About a window that has ended.
                }
                Some(end) if self.reported && server_end <= end + SAME_WINDOW => {
                    // The same window: `t` is rounded up, so each report is a bound on its
                    // end, and the earliest is the closest.
                    self.remaining = self.remaining.min(left);
                    self.window_ends = Some(end.min(server_end));
                }
                _ => {
                    self.remaining = left;
                    self.window_ends = Some(server_end);
                    self.reported = true;
                }
            }
        }
        if let Some(block) = block {
            if current && self.opened_by_report {
                // Refused in a window opened at the reported reset: `t` was rounded down.
                self.margin = SAME_WINDOW + RESET_MARGIN;
            }
            // Every request waits out the block; then a new window starts.
            let until = now.checked_add(block).unwrap_or_else(|| far_from(now));
            self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
            self.remaining = 0;
            self.window_ends = self.blocked_until;
            self.reported = false;
        }
        // More room, the same room sooner, or a block (which a waiting request may not wait
        // out): the waiting look again.
        let sooner = matches!((self.window_ends, ends_before), (Some(now), Some(was)) if now < was);
        self.remaining > before || sooner || block.is_some()
    }

    /// Whether nothing is left to remember at `now`: nothing in flight, no block, the window
    /// over. A budget nobody holds is forgotten then, and not before.
    fn is_spent(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self.blocked_until.is_none_or(|until| until <= now)
            && self.window_ends.is_none_or(|end| end <= now)
    }
}

/// As far as the clock goes from `now` (`Instant + Duration` panics on overflow).
fn far_from(now: Instant) -> Instant {
    now + Duration::from_secs(100 * 365 * 24 * 60 * 60)
}

/// A place in the budget for one request. Dropped without an answer, it stays spent once the
/// request was on its way (it may have been counted), and is given back before that (a caller
/// gave up while another budget kept it waiting).
#[derive(Debug)]
pub(crate) struct Permit {
    budget: Arc<Budget>,
    /// The request's number.
    request: u64,
    answered: bool,
    sent: bool,
}

impl Permit {
    /// The answer came: the limits it reported, and how long it blocks every request.
    pub(crate) fn answered(mut self, block: Option<Duration>, report: Option<Reported>) {
        self.answered = true;
        let more = self
            .budget
            .lock()
            .answered(Instant::now(), self.request, block, report);
        if more {
            self.budget.room.notify_waiters();
        }
    }

    /// The request is on its way: from now on, dropped without an answer, the place stays spent.
    pub(crate) fn sending(&mut self) {
        self.sent = true;
    }

    /// Nothing was sent with this place (or nothing reached the server): it is given back.
    pub(crate) fn unused(mut self) {
        self.sent = false;
        drop(self);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let mut state = self.budget.lock();
        if self.sent {
            // No answer (lost, timed out, cancelled): it may have been counted, so it stays spent.
            state.in_flight = state.in_flight.saturating_sub(1);
        } else {
            state.unused(self.request);
            drop(state);
            self.budget.room.notify_waiters();
        }
    }
}

/// A fingerprint of a credential: a keyed hash, with a key random to this process.
pub(crate) fn fingerprint<'a>(secrets: impl IntoIterator<Item = &'a str>) -> u64 {
    static KEY: OnceLock<std::hash::RandomState> = OnceLock::new();
    let key = KEY.get_or_init(std::hash::RandomState::new);
    let secrets: Vec<&str> = secrets.into_iter().collect();
    key.hash_one(secrets)
}

impl Budget {
    /// A budget keeping `setting`'s quota, with the whole quota left.
    fn new(setting: Setting) -> Self {
        Budget {
            state: Mutex::new(State::new(setting)),
            room: Notify::new(),
        }
    }

    /// Whether an answer's `Ratelimit-Policy` should be read.
    pub(crate) fn wants_policy(&self) -> bool {
        self.lock().policy_wanted
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one request, waiting for one if need be; or, if none comes in time, how
    /// long the wait would have been. In time: before `deadline`, with a try's worth of time
    /// left, and, when a 429 blocks the budget, within `longest_block` (a request that would
    /// not wait that long for its own 429 does not wait that long for another's).
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        deadline: Instant,
        longest_block: Duration,
        span: &tracing::Span,
    ) -> Result<Permit, Duration> {
        // Most requests find room at once, without registering to be woken.
        if let Ok(request) = self.lock().take(Instant::now()) {
            return Ok(Permit {
                budget: self.clone(),
                request,
                answered: false,
                sent: false,
            });
        }
        let mut announced = false;
        loop {
            // Registered before looking, so that room made in between is not missed.
            let room = self.room.notified();
            let mut room = std::pin::pin!(room);
            room.as_mut().enable();
            let now = Instant::now();
            let NoPlace { until, blocked } = match self.lock().take(now) {
                Ok(request) => {
                    return Ok(Permit {
                        budget: self.clone(),
                        request,
                        answered: false,
                        sent: false,
                    })
                }
                Err(no_place) => no_place,
            };
            let wait = until.saturating_duration_since(now);
            // A place that comes with less than a try's worth of time left is no place: the
            // try would time out, and a create that timed out may have been sent.
            if until + LEAST_TRY > deadline || (blocked && wait > longest_block) {
                return Err(wait);
            }
            if !announced {
                announced = true;
                tracing::info!(
                    parent: span,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "waiting for the rate budget"
                );
            }
            // Whichever comes first: the wait is over, or another request made room.
            let _ = tokio::time::timeout_at(until, room).await;
        }
    }

    /// What the budget knows now.
    pub(crate) fn snapshot(&self) -> BudgetSnapshot {
        let now = Instant::now();
        let state = self.lock();
        let blocked_for = state
            .blocked_until
            .filter(|until| *until > now)
            .map(|until| until - now);
        let window_over = state.window_ends.is_none_or(|end| end <= now);
        BudgetSnapshot {
            policy: state.quota,
            remaining: if blocked_for.is_some() {
                0
            } else if window_over {
                state.quota.requests.saturating_sub(state.in_flight)
            } else {
                state.remaining
            },
            in_flight: state.in_flight,
            resets_in: state
                .window_ends
                .map(|end| end.saturating_duration_since(now)),
            blocked_for,
        }
    }
}
