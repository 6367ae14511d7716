//! ICE servers that never expire on a caller: [`IceServerCache`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{ttl_seconds, IceServers, TurnCredentials};
use crate::Error;

/// The share of its lifetime a credential is handed out for.
const HANDED_OUT: f64 = 0.8;

/// How long after a failed mint the next one may start.
pub const RETRY_PAUSE: Duration = Duration::from_secs(5);

/// How long a caller waits for a mint before taking the last good credential, if it lives.
const MINT_WAIT: Duration = Duration::from_secs(2);

/// ICE servers that never expire on a caller: one TURN credential, minted once and handed to
/// every caller, refreshed before it ages.
///
/// Apps that mint a credential per page load spend the key's allocations (and the service's
/// budget) for nothing; apps that cache one past its expiry hand out a credential the browser's
/// next allocation refresh fails with. The cache does neither:
/// - **one mint at a time**, however many callers wait; a caller waits for at most one;
/// - **refreshed before 80 % of its lifetime**, in the background, while callers still get the
///   credential they have (a caller waits only when there is none fit to hand out, and then
///   at most 2 s while the last good one still lives);
/// - **never a credential with less than 20 % of its life left**, unless a mint has just failed:
///   then the last good one is served until it expires, and an error after that (a failed mint
///   is not tried again for [`RETRY_PAUSE`], so a broken service is not asked by every caller);
/// - **a revoke drops it**: the next caller gets a new one.
///
/// Time is tokio's clock, so it is virtual under `tokio::time::pause`.
///
/// ```no_run
/// # async fn run() -> Result<(), apps_api::Error> {
/// use std::time::Duration;
/// use apps_api::cloudflare::turn::{IceServerCache, TurnCredentials};
/// let cache = IceServerCache::new(TurnCredentials::from_env()?, Duration::from_secs(3600))?;
/// // Per page load: the same credential for everybody until it is refreshed.
/// let ice = cache.ice_servers().await?.without_port_53();
/// # let _ = ice;
/// # Ok(()) }
/// ```
///
/// Cheap to clone (one `Arc`); `Send + Sync`.
#[derive(Clone)]
pub struct IceServerCache {
    shared: Arc<Shared>,
}

struct Shared {
    turn: TurnCredentials,
    ttl: Duration,
    state: Mutex<State>,
    /// Bumped when a mint ends, well or not: what a waiting caller waits for.
    minted: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    current: Option<Fresh>,
    minting: bool,
    /// The last mint's failure, and when it ended.
    failed: Option<(Error, Instant)>,
    mints: u64,
    /// A credential dropped whose revoke failed: the next `revoke` tries it again.
    unrevoked: Option<crate::TurnUsername>,
}

/// A credential and its life, on tokio's clock.
#[derive(Clone)]
struct Fresh {
    ice: IceServers,
    minted_at: Instant,
    expires: Instant,
}

impl std::fmt::Debug for IceServerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServerCache")
            .field("key_id", self.shared.turn.key_id())
            .field("ttl", &self.shared.ttl)
            .finish_non_exhaustive()
    }
}

/// What a caller does after looking at the state.
enum Look {
    Ready(IceServers),
    Failed(Error),
    Wait(watch::Receiver<u64>),
}

impl IceServerCache {
    /// A cache of credentials minted with `turn`, each valid for `ttl` (1 s to 48 hours,
    /// checked now). Nothing is minted until a caller asks.
    pub fn new(turn: TurnCredentials, ttl: Duration) -> Result<Self, Error> {
        ttl_seconds(ttl)?;
        Ok(Self {
            shared: Arc::new(Shared {
                turn,
                ttl,
                state: Mutex::new(State::default()),
                minted: watch::channel(0).0,
            }),
        })
    }

    /// ICE servers with a credential that has at least 20 % of its life left: the one in the
    /// cache, or, when there is none fit, the one the next mint brings (waiting for that one
    /// mint only). A mint that fails leaves the last good credential served until it expires;
    /// after that, the mint's error.
    pub async fn ice_servers(&self) -> Result<IceServers, Error> {
        let mut minted = match self.look(false) {
            Look::Ready(ice) => return Ok(ice),
            Look::Failed(error) => return Err(error),
            Look::Wait(minted) => minted,
        };
        // The mint runs apart: a caller that gives up does not stop it. A closed channel (the
        // cache gone) is as good as an end. A mint slower than [`MINT_WAIT`] leaves the caller
        // the last good credential, if it still lives; else it waits the mint out.
        if tokio::time::timeout(MINT_WAIT, minted.changed())
            .await
            .is_err()
        {
            if let Some(alive) = self.alive() {
                return Ok(alive);
            }
            let _ = minted.changed().await;
        }
        match self.look(true) {
            Look::Ready(ice) => Ok(ice),
            Look::Failed(error) => Err(error),
            // (`after_a_mint` never asks to wait.)
            Look::Wait(_) => Err(Error::Config(
                "the TURN credential cache lost a mint".into(),
            )),
        }
    }

    /// Revokes the credential the cache hands out (if it has one) and drops it: the next caller
    /// gets a new one. A mint under way when this is called still lands. A revoke that fails is
    /// tried again by the next call (the credential is no longer handed out either way).
    pub async fn revoke(&self) -> Result<(), Error> {
        let username = {
            let mut state = self.lock();
            let dropped = state.current.take().and_then(|fresh| fresh.ice.username());
            dropped.or_else(|| state.unrevoked.take())
        };
        let Some(username) = username else {
            return Ok(());
        };
        let revoked = self.shared.turn.revoke(&username).await;
        if revoked.is_err() {
            self.lock().unrevoked = Some(username);
        }
        revoked
    }

    /// The last good credential, if it has not expired.
    fn alive(&self) -> Option<IceServers> {
        let now = Instant::now();
        let state = self.lock();
        let fresh = state.current.as_ref().filter(|fresh| now < fresh.expires)?;
        Some(fresh.ice.clone())
    }

    /// How many credentials it has minted so far (for metrics).
    pub fn mints(&self) -> u64 {
        self.lock().mints
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the state offers now; `after_a_mint`: the caller has waited for one already, and
    /// waits for no other.
    fn look(&self, after_a_mint: bool) -> Look {
        let now = Instant::now();
        let ttl = self.shared.ttl;
        let mut state = self.lock();
        let current = state.current.clone();
        let handed_out_until = |fresh: &Fresh| fresh.minted_at + ttl.mul_f64(HANDED_OUT);
        // Refreshed early enough that the new one lands before the old stops being handed out:
        // a hundredth of the lifetime ahead, at most a minute.
        let lead = (ttl / 100).min(Duration::from_secs(60));
        if let Some(fresh) = &current {
            if now < handed_out_until(fresh) {
                if now + lead >= handed_out_until(fresh) {
                    self.start_mint(&mut state);
                }
                return Look::Ready(fresh.ice.clone());
            }
        }
        let paused = state
            .failed
            .as_ref()
            .is_some_and(|(_, at)| now < *at + RETRY_PAUSE);
        if after_a_mint || paused {
            // The last good credential while it lives; then the failure.
            return match (&current, &state.failed) {
                (Some(fresh), _) if now < fresh.expires => Look::Ready(fresh.ice.clone()),
                (_, Some((error, _))) => Look::Failed(error.duplicate()),
                _ => Look::Failed(Error::Config(
                    "the TURN credential cache has no credential".into(),
                )),
            };
        }
        let waiting = self.shared.minted.subscribe();
        self.start_mint(&mut state);
        Look::Wait(waiting)
    }

    /// Starts a mint in a task of its own, unless one is under way.
    fn start_mint(&self, state: &mut State) {
        if state.minting {
            return;
        }
        state.minting = true;
        let mint = Mint {
            shared: self.shared.clone(),
            outcome: None,
        };
        tokio::spawn(mint.run());
    }
}

/// One mint. However it ends (its task dropped with its runtime included), the cache learns
/// that it ended and its waiters are woken: none waits for a mint that will never land.
struct Mint {
    shared: Arc<Shared>,
    outcome: Option<(Result<IceServers, Error>, Instant, Instant)>,
}

impl Mint {
    async fn run(mut self) {
        let minted_at = Instant::now();
        let result = self.shared.turn.ice_servers(self.shared.ttl).await;
        self.outcome = Some((result, minted_at, Instant::now()));
    }
}

impl Drop for Mint {
    fn drop(&mut self) {
        let shared = &self.shared;
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.minting = false;
        match self.outcome.take() {
            Some((Ok(ice), minted_at, _)) => {
                state.mints += 1;
                state.failed = None;
                state.current = Some(Fresh {
                    ice,
                    minted_at,
                    expires: minted_at + shared.ttl,
                });
            }
            Some((Err(error), _, ended)) => state.failed = Some((error, ended)),
            None => {
                let stopped = Error::Config("the TURN credential mint was stopped".into());
                state.failed = Some((stopped, Instant::now()));
            }
        }
        drop(state);
        shared.minted.send_modify(|generation| *generation += 1);
    }
}

#[cfg(all(test, feature = "test-util"))]
#[path = "cache_tests.rs"]
mod tests;
