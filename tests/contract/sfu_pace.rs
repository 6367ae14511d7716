//! Cloudflare Realtime SFU: each session's one mutation at a time and its pace (with
//! in-process answers on tokio's paused clock), and an operator's per-session quota.
#![cfg(feature = "test-util")]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apps_api::cloudflare::sfu::{CloseTracks, RealtimeClient};
use apps_api::Error;
use tokio::time::Instant;

use crate::sfu::{OTHER, SESSION};
use crate::support::in_process::*;

const CLOSED: &str = r#"{"tracks": [{"mid": "0"}]}"#;
const SECRET_A: &str = "pace-secret-a";
const SECRET_B: &str = "pace-secret-b";
const SECRET_C: &str = "pace-secret-c";

/// Each request's path and when it came.
type Seen = Arc<Mutex<Vec<(String, Duration)>>>;

/// Answers after `delay`, recording when each request came and how many were in flight.
fn slow_server(delay: Duration) -> (Responder, Seen, Arc<AtomicUsize>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let most = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let (log, peak) = (seen.clone(), most.clone());
    let responder = Responder::from_async(move |request: Request| {
        let (log, peak, in_flight) = (log.clone(), peak.clone(), in_flight.clone());
        async move {
            log.lock()
                .unwrap()
                .push((request.uri().path().to_string(), start.elapsed()));
            let now = in_flight.fetch_add(1, SeqCst) + 1;
            peak.fetch_max(now, SeqCst);
            tokio::time::sleep(delay).await;
            in_flight.fetch_sub(1, SeqCst);
            json_response(200, CLOSED)
        }
    });
    (responder, seen, most)
}

/// A client whose secret is the test's own: every client with the same app, secret and
/// session shares that session's pace, and the tests of one binary share a process.
fn client(responder: Responder, secret: &str) -> RealtimeClient {
    RealtimeClient::builder(crate::sfu::APP, secret)
        .responder(responder)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn one_sessions_mutations_run_one_at_a_time_and_sessions_run_side_by_side() {
    let (responder, _, most) = slow_server(Duration::from_millis(100));
    let sfu = client(responder.clone(), SECRET_A);
    // Another client of the same app, built apart: the same session's gate.
    let also = client(responder, SECRET_A);
    let close = |sfu: &RealtimeClient, session: &str| {
        let handle = sfu.session(session);
        async move { handle.close_tracks(&["0"], &CloseTracks::Force).await }
    };
    let started = Instant::now();
    let (a, b, c) = tokio::join!(
        close(&sfu, SESSION),
        close(&also, SESSION),
        close(&sfu, SESSION)
    );
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    assert_eq!(most.load(SeqCst), 1, "one mutation of a session at a time");
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    most.store(0, SeqCst);
    let started = Instant::now();
    let (a, b) = tokio::join!(close(&sfu, SESSION), close(&also, OTHER));
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(most.load(SeqCst), 2, "two sessions side by side");
    assert_eq!(started.elapsed(), Duration::from_millis(100));
}

/// A session's turn is waited for within the call's deadline; past it, nothing is sent.
#[tokio::test(start_paused = true)]
async fn waiting_for_the_sessions_turn_counts_against_the_deadline() {
    let (responder, seen, _) = slow_server(Duration::from_secs(20));
    let sfu = client(responder, SECRET_B);
    let slow = sfu.session(SESSION);
    let hurried = sfu.session(SESSION).total_timeout(Duration::from_secs(5));
    let (first, second) = tokio::join!(slow.close_tracks(&["0"], &CloseTracks::Force), async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        hurried.close_tracks(&["0"], &CloseTracks::Force).await
    });
    assert!(first.is_ok(), "{first:?}");
    assert!(
        matches!(&second, Err(Error::Timeout { after, .. }) if *after == Duration::from_secs(5)),
        "{second:?}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the hurried close was not sent"
    );
}

/// 25 requests per second per session (under Cloudflare's 50 even across a window's edge);
/// reads are paced too, and another session has its own pace.
#[tokio::test(start_paused = true)]
async fn each_session_is_paced_under_fifty_requests_a_second() {
    let (responder, seen, _) = slow_server(Duration::from_millis(1));
    let sfu = client(responder, SECRET_C);
    let session = sfu.session(SESSION);
    let reads = (0..60).map(|_| session.state());
    let results = futures_util::future::join_all(reads).await;
    assert!(results.iter().all(Result::is_ok));
    let times: Vec<Duration> = seen.lock().unwrap().iter().map(|(_, t)| *t).collect();
    assert_eq!(times.len(), 60);
    for (i, t) in times.iter().enumerate() {
        let in_the_second_before = times[..i]
            .iter()
            .filter(|earlier| *t - **earlier < Duration::from_secs(1))
            .count();
        assert!(in_the_second_before < 50, "request {i} at {t:?}");
    }
    assert!(times[59] >= Duration::from_secs(2), "{:?}", times[59]);
    let other = sfu.session(OTHER);
    let started = Instant::now();
    other.state().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(10),
        "its own pace"
    );
}

/// An operator's per-session quota that lets nothing through is refused when the client is
/// built.
#[test]
fn a_per_session_quota_of_nothing_is_refused() {
    let built = RealtimeClient::builder("2a95132c15732412d22c1476fa83f27a", "s")
        .rate_budget(Some(apps_api::Quota::new(
            0,
            std::time::Duration::from_secs(1),
        )))
        .build();
    assert!(matches!(built, Err(Error::Config(_))), "{built:?}");
}
