//! Hover logins: at most one in flight, its outcome shared, and spaced in time, so that no
//! pattern of requests, failures, timeouts or server answers can turn into a burst of password
//! attempts (which can lock the account).
//!
//! - A login runs in a task of its own, with the client's limits, and records its outcome when
//!   it ends, whether or not the callers waiting for it are still there: a caller that times
//!   out or is cancelled cannot leave a login unrecorded and cause another.
//! - Callers that need a login while one is in flight wait for that one (each until its own
//!   limit) and get its outcome.
//! - It is sent once: a 429 or a 5xx is its outcome, not a reason to send the password again.
//! - After a rejection (401, 403, 429) no login is sent for the cooldown (5 s, doubling up to 5
//!   minutes), counted from when the rejection arrived; callers get the rejection at once.
//! - After a success, no login is sent for the cooldown either: a token that is rejected
//!   moments after it was issued will not be helped by another, so its 401 is the answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{gen, HoverClient, HOVER_AUTHENTICATE};
use crate::core::error::{Endpoint, Provider};
use crate::core::plan::{deadline_after, Planned};
use crate::Error;

/// How long no login is sent after the last one (doubling with each rejection in a row).
pub(crate) const LOGIN_COOLDOWN: Duration = Duration::from_secs(5);

/// The longest the cooldown grows to.
const LONGEST_COOLDOWN: Duration = Duration::from_secs(5 * 60);

/// The outcome of a login, as waiting callers receive it.
type Outcome = Option<Result<(), Error>>;

/// A client's login state.
pub(crate) struct Logins {
    cooldown: Duration,
    state: Mutex<State>,
    /// Bumped when a login ends; a caller that saw an older value knows a newer outcome exists.
    generation: AtomicU64,
}

#[derive(Default)]
struct State {
    /// When the last login ended, and how it failed (`None`: it succeeded).
    last: Option<(Instant, Option<Error>)>,
    /// Rejected logins in a row.
    rejections: u32,
    /// The login in flight, if any: its outcome arrives here.
    in_flight: Option<watch::Receiver<Outcome>>,
}

/// What a request for a login came to.
pub(crate) enum Refresh {
    /// A login (this caller's or a shared one) succeeded: there is a fresh token.
    LoggedIn,
    /// The last login succeeded moments ago: the token is as fresh as one can be, and no
    /// login was sent.
    TooSoon,
}

impl Logins {
    pub(crate) fn new(cooldown: Duration) -> Self {
        Self {
            cooldown,
            state: Mutex::new(State::default()),
            generation: AtomicU64::new(0),
        }
    }

    /// The current generation, to pass back to [`HoverClient::refresh_token`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long after `rejections` rejections in a row no login is sent.
    fn cooldown_after(&self, rejections: u32) -> Duration {
        self.cooldown
            .saturating_mul(2u32.saturating_pow(rejections.saturating_sub(1)))
            .min(LONGEST_COOLDOWN.max(self.cooldown))
    }

    /// Records a login that ended now.
    fn record(&self, outcome: &Result<(), Error>) {
        let mut state = self.lock();
        let rejected = matches!(outcome, Err(Error::Auth(_) | Error::RateLimited(_)));
        state.rejections = if rejected { state.rejections + 1 } else { 0 };
        state.last = Some((Instant::now(), outcome.as_ref().err().map(Error::duplicate)));
        state.in_flight = None;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl HoverClient {
    /// Gets a fresh token unless another login ended since `seen` was read (its outcome is then
    /// this caller's), the last one was rejected too recently (that rejection is the answer) or
    /// succeeded moments ago ([`Refresh::TooSoon`]). Waits for the login at most as long as
    /// one try of `limits` may take, within its deadline.
    pub(crate) async fn refresh_token(&self, seen: u64, limits: Planned) -> Result<Refresh, Error> {
        if self.inner.credentials.is_none() {
            return Err(Error::Config(
                "this Hover client was built from a token; it cannot log in again".into(),
            ));
        }
        // A dry run sends nothing: the login is prepared where the caller waits (a task of its
        // own would be outside the dry run), and never recorded.
        if crate::core::dry_run::active() {
            return self.log_in_once().await.map(|()| Refresh::LoggedIn);
        }
        let logins = &self.inner.logins;
        let mut outcome = {
            let mut state = logins.lock();
            let shared = |state: &State| match &state.last {
                Some((_, Some(failure))) => Err(failure.duplicate()),
                _ => Ok(Refresh::LoggedIn),
            };
            if logins.generation() != seen {
                return shared(&state);
            }
            if let Some((at, failure)) = &state.last {
                let since = at.elapsed();
                if failure.is_some()
                    && state.rejections > 0
                    && since < logins.cooldown_after(state.rejections)
                {
                    tracing::debug!("a login was rejected moments ago; not sending another yet");
                    return shared(&state);
                }
                // A login exactly `cooldown` ago may go.
                if failure.is_none() && since < logins.cooldown {
                    return Ok(Refresh::TooSoon);
                }
            }
            match &state.in_flight {
                Some(in_flight) => in_flight.clone(),
                None => {
                    let in_flight = self.start_login();
                    state.in_flight = Some(in_flight.clone());
                    in_flight
                }
            }
        };
        let per_try = limits
            .timeout
            .unwrap_or(self.inner.transport.request_timeout());
        let deadline = limits
            .deadline
            .unwrap_or_else(|| deadline_after(self.inner.transport.total_timeout()))
            .min(deadline_after(per_try));
        let waited = tokio::time::timeout_at(deadline, outcome.wait_for(Option::is_some))
            .await
            .map(|ended| {
                ended.map(|ended| match ended.as_ref() {
                    Some(Ok(())) => Ok(Refresh::LoggedIn),
                    Some(Err(e)) => Err(e.duplicate()),
                    None => unreachable!("waited for an outcome"),
                })
            });
        match waited {
            Ok(Ok(result)) => result,
            // The login's task ended without an outcome (its runtime shut down).
            Ok(Err(_)) => Err(Error::Transport {
                endpoint: Box::new(login_endpoint()),
                message: "the login ended without an answer".into(),
                source: "the login task ended".into(),
            }),
            Err(_) => Err(Error::Timeout {
                endpoint: Box::new(login_endpoint()),
                after: per_try.min(limits.total.unwrap_or(self.inner.transport.total_timeout())),
            }),
        }
    }

    /// Starts a login in a task of its own and returns where its outcome will arrive.
    fn start_login(&self) -> watch::Receiver<Outcome> {
        let (sender, receiver) = watch::channel(None);
        let client = self.clone();
        let login = async move {
            let outcome = client.log_in_once().await;
            client.inner.logins.record(&outcome);
            let _ = sender.send(Some(outcome));
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(login);
            }
            // No runtime to spawn on (reqwest needs one anyway): the login is not sent, and
            // the waiting caller hears so.
            Err(_) => drop(login),
        }
        receiver
    }

    /// Sends the login once (no retry: a 429 or a 5xx is its outcome) with the client's
    /// limits, and keeps the token.
    async fn log_in_once(&self) -> Result<(), Error> {
        let Some((email, password)) = &self.inner.credentials else {
            return Err(Error::Config("no credentials to log in with".into()));
        };
        let body = gen::HoverCredentials {
            email: email.clone(),
            password: password.clone(),
        };
        let api = self
            .inner
            .api
            .client(&self.inner.transport, HOVER_AUTHENTICATE);
        let (answer, _) =
            crate::core::run::run(&api, None, || api.hover_authenticate(&body)).await?;
        super::use_token(&self.inner.transport, &answer.auth_token)
    }
}

fn login_endpoint() -> Endpoint {
    Endpoint {
        provider: Provider::Hover,
        operation: HOVER_AUTHENTICATE.id(),
        method: HOVER_AUTHENTICATE.method(),
        path: HOVER_AUTHENTICATE.path().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cooldown doubles with each rejection in a row, up to five minutes (or the cooldown
    /// itself, when set longer).
    #[test]
    fn the_cooldown_doubles_up_to_five_minutes() {
        let s = Duration::from_secs;
        let logins = Logins::new(LOGIN_COOLDOWN);
        let waits: Vec<Duration> = [0, 1, 2, 3, 6, 7, 8, 40, u32::MAX]
            .into_iter()
            .map(|n| logins.cooldown_after(n))
            .collect();
        assert_eq!(
            waits,
            [
                s(5),
                s(5),
                s(10),
                s(20),
                s(160),
                s(300),
                s(300),
                s(300),
                s(300)
            ]
        );
        assert_eq!(Logins::new(s(600)).cooldown_after(3), s(600));
        assert_eq!(
            Logins::new(Duration::ZERO).cooldown_after(3),
            Duration::ZERO
        );
    }
}
