//! The cache on tokio's paused clock, its credentials minted in process: how many mints a day
//! of callers costs, how long a caller waits, what it is handed, and what a failing service
//! leaves.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::test_util::{json_response, Responder};

const HOUR: Duration = Duration::from_secs(3600);

/// The service, in process: each mint's username says when it was minted (seconds on the
/// paused clock since `start`); `failing` makes it answer 503; revokes are counted.
struct Service {
    mints: Arc<AtomicU64>,
    revokes: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
    start: Instant,
}

fn service() -> (Service, TurnCredentials) {
    let service = Service {
        mints: Arc::default(),
        revokes: Arc::default(),
        failing: Arc::default(),
        start: Instant::now(),
    };
    let (mints, revokes, failing, start) = (
        service.mints.clone(),
        service.revokes.clone(),
        service.failing.clone(),
        service.start,
    );
    let responder = Responder::new(move |request| {
        if request.uri().path().ends_with("/revoke") {
            revokes.fetch_add(1, SeqCst);
            return json_response(204, "");
        }
        if failing.load(SeqCst) {
            return json_response(503, r#"{"error": "unavailable"}"#);
        }
        let n = mints.fetch_add(1, SeqCst);
        let at = start.elapsed().as_millis();
        json_response(
            200,
            format!(
                r#"{{"iceServers": [{{"urls": ["stun:stun.cloudflare.com:3478",
                "turn:turn.cloudflare.com:3478?transport=udp"],
                "username": "u{n}at{at}", "credential": "c{n}"}}]}}"#
            ),
        )
    });
    let turn = TurnCredentials::builder("2a95132c15732412d22c1476fa83f27a", "key")
        .responder(responder)
        .retry(crate::RetryConfig::disabled())
        .build()
        .unwrap();
    (service, turn)
}

/// When the credential in `ice` was minted, as its username says.
fn minted_at(service: &Service, ice: &IceServers) -> Instant {
    let username = ice.username().unwrap();
    let at: u64 = username
        .as_str()
        .split("at")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    service.start + Duration::from_millis(at)
}

/// A day of 1,000 callers, each asking every 2 to 12 minutes, with a 1 h TTL: 30 mints (one
/// per 48 minutes), every caller handed a credential with at least 20 % of its life left, and
/// none waiting on more than one mint (nor on any, once the first has landed).
#[tokio::test(start_paused = true)]
async fn a_day_of_callers_costs_thirty_mints() {
    let (service, turn) = service();
    let service = Arc::new(service);
    let cache = IceServerCache::new(turn, HOUR).unwrap();
    let worst: Arc<Mutex<(Duration, u64)>> = Arc::default();
    let day = Instant::now() + 24 * HOUR;
    let callers: Vec<_> = (0..1000u64)
        .map(|caller| {
            let (cache, service, worst) = (cache.clone(), service.clone(), worst.clone());
            tokio::spawn(async move {
                let mut step = caller;
                while Instant::now() < day {
                    let before = (Instant::now(), service.mints.load(SeqCst));
                    let ice = cache.ice_servers().await.unwrap();
                    let after = (Instant::now(), service.mints.load(SeqCst));
                    let life_left = (minted_at(&service, &ice) + HOUR) - after.0;
                    assert!(life_left >= HOUR / 5, "{life_left:?} left");
                    {
                        let mut worst = worst.lock().unwrap();
                        worst.0 = worst.0.max(after.0 - before.0);
                        if after.0 > before.0 {
                            worst.1 = worst.1.max(after.1 - before.1);
                        }
                    }
                    step = step.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let pause = Duration::from_secs(120 + step % 600);
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    let mints = service.mints.load(SeqCst);
    assert!((29..=31).contains(&mints), "{mints} mints");
    assert_eq!(cache.mints(), mints);
    let (longest_wait, mints_waited) = *worst.lock().unwrap();
    assert_eq!(longest_wait, Duration::ZERO, "mints land at once here");
    assert!(mints_waited <= 1, "a caller waited on {mints_waited} mints");
}

/// Many callers at once, nothing minted yet: one mint, one credential for all.
#[tokio::test(start_paused = true)]
async fn many_callers_at_once_cost_one_mint() {
    let (service, turn) = service();
    let cache = IceServerCache::new(turn, HOUR).unwrap();
    let asked: Vec<_> = (0..500)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.ice_servers().await.unwrap() })
        })
        .collect();
    let mut usernames = std::collections::HashSet::new();
    for ice in asked {
        usernames.insert(ice.await.unwrap().username().unwrap().as_str().to_string());
    }
    assert_eq!(usernames.len(), 1);
    assert_eq!(service.mints.load(SeqCst), 1);
}

/// A failing service: the last good credential is served until it expires (past its 80 %),
/// no mint is tried again within the pause, and after the expiry every caller gets the
/// failure at once; when the service is back, the next caller waits for one mint.
#[tokio::test(start_paused = true)]
async fn a_failed_mint_serves_the_last_good_until_it_expires() {
    let (service, turn) = service();
    let cache = IceServerCache::new(turn, HOUR).unwrap();
    let first = cache.ice_servers().await.unwrap();
    service.failing.store(true, SeqCst);
    // Past 80 %: a mint is needed, it fails, the last good one is served.
    tokio::time::sleep(HOUR * 9 / 10).await;
    let served = cache.ice_servers().await.unwrap();
    assert_eq!(served.username(), first.username());
    let asked = service.mints.load(SeqCst);
    // Within the pause, no new mint is tried.
    for _ in 0..100 {
        assert_eq!(
            cache.ice_servers().await.unwrap().username(),
            first.username()
        );
    }
    assert_eq!(service.mints.load(SeqCst), asked);
    // Expired: the failure, at once.
    tokio::time::sleep(HOUR / 10).await;
    let started = Instant::now();
    let error = cache.ice_servers().await.unwrap_err();
    assert!(error.status() == Some(503), "{error:?}");
    assert_eq!(started.elapsed(), Duration::ZERO);
    // Back: one mint, a new credential.
    service.failing.store(false, SeqCst);
    tokio::time::sleep(RETRY_PAUSE).await;
    let fresh = cache.ice_servers().await.unwrap();
    assert_ne!(fresh.username(), first.username());
}

/// A caller that had to wait, and whose mint failed, gets the failure: it does not wait for a
/// second mint.
#[tokio::test(start_paused = true)]
async fn a_caller_waits_for_one_mint_only() {
    let (service, turn) = service();
    service.failing.store(true, SeqCst);
    let cache = IceServerCache::new(turn, HOUR).unwrap();
    let error = cache.ice_servers().await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(service.mints.load(SeqCst), 0);
}

/// A revoke revokes the credential handed out and drops it: the next caller gets a new one.
#[tokio::test(start_paused = true)]
async fn a_revoke_drops_the_credential() {
    let (service, turn) = service();
    let cache = IceServerCache::new(turn, HOUR).unwrap();
    let first = cache.ice_servers().await.unwrap();
    cache.revoke().await.unwrap();
    assert_eq!(service.revokes.load(SeqCst), 1);
    let second = cache.ice_servers().await.unwrap();
    assert_ne!(first.username(), second.username());
    // Nothing to revoke twice.
    cache.revoke().await.unwrap();
    cache.revoke().await.unwrap();
    assert_eq!(service.revokes.load(SeqCst), 2);
}

/// A TTL the service would refuse is refused before anything is minted.
#[test]
fn a_ttl_out_of_range_is_refused() {
    let (_, turn) = service();
    for ttl in [
        Duration::ZERO,
        super::super::MAX_TTL + Duration::from_secs(1),
    ] {
        assert!(matches!(
            IceServerCache::new(turn.clone(), ttl),
            Err(Error::InvalidArgument(_))
        ));
    }
}

/// A mint that hangs while a credential still lives: the caller waits at most `MINT_WAIT`,
/// then gets the last good one; nobody waits past that while it lives.
#[tokio::test(start_paused = true)]
async fn a_hung_mint_leaves_callers_the_last_good_credential() {
    let slow = Arc::new(AtomicBool::new(false));
    let stalling = slow.clone();
    let mints = Arc::new(AtomicU64::new(0));
    let counted = mints.clone();
    let responder = Responder::from_async(move |_| {
        let (slow, n) = (stalling.load(SeqCst), counted.fetch_add(1, SeqCst));
        async move {
            if slow {
                // Slow, within a try's time limit.
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            json_response(
                200,
                format!(
                    r#"{{"iceServers": [{{"urls": ["turn:t.example:3478"], "username": "u{n}", "credential": "c"}}]}}"#
                ),
            )
        }
    });
    let turn = TurnCredentials::builder("2a95132c15732412d22c1476fa83f27a", "key")
        .responder(responder)
        .build()
        .unwrap();
    let cache = IceServerCache::new(turn, HOUR).unwrap();
    let first = cache.ice_servers().await.unwrap();
    slow.store(true, SeqCst);
    tokio::time::sleep(HOUR * 85 / 100).await;
    let started = Instant::now();
    let served = cache.ice_servers().await.unwrap();
    assert_eq!(served.username(), first.username());
    assert_eq!(started.elapsed(), MINT_WAIT);
    // The mint lands later; from then on the new credential.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let later = cache.ice_servers().await.unwrap();
    assert_ne!(later.username(), first.username());
    assert_eq!(mints.load(SeqCst), 2);
}

/// A revoke that fails is tried again by the next call; the credential is not handed out
/// meanwhile.
#[tokio::test(start_paused = true)]
async fn a_failed_revoke_is_tried_again() {
    let revokes = Arc::new(AtomicU64::new(0));
    let counted = revokes.clone();
    let mints = Arc::new(AtomicU64::new(0));
    let minted = mints.clone();
    let responder = Responder::new(move |request| {
        if request.uri().path().ends_with("/revoke") {
            return match counted.fetch_add(1, SeqCst) {
                0 => json_response(503, "{}"),
                _ => json_response(204, ""),
            };
        }
        let n = minted.fetch_add(1, SeqCst);
        json_response(
            200,
            format!(
                r#"{{"iceServers": [{{"urls": ["turn:t.example:3478"], "username": "u{n}", "credential": "c"}}]}}"#
            ),
        )
    });
    let turn = TurnCredentials::builder("2a95132c15732412d22c1476fa83f27a", "key")
        .responder(responder)
        .retry(crate::RetryConfig::disabled())
        .build()
        .unwrap();
    let cache = IceServerCache::new(turn, HOUR).unwrap();
    let first = cache.ice_servers().await.unwrap();
    assert!(cache.revoke().await.is_err());
    assert_ne!(
        cache.ice_servers().await.unwrap().username(),
        first.username()
    );
    cache.revoke().await.unwrap();
    cache.revoke().await.unwrap();
    assert_eq!(
        revokes.load(SeqCst),
        3,
        "the failed one, then it again, then the second"
    );
}
