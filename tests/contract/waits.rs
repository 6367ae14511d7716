//! The one rule for waiting, on the client users get by default (with its rate budget) and
//! without a budget alike: every case of a table run on both, on tokio's paused clock with
//! in-process answers (feature `test-util`), must send the same requests, take the same time
//! and end the same way. Then what only a budget adds: others fail fast on a block longer than
//! they wait, and an SFU session's pace never shortens the server's wait.
#![cfg(feature = "test-util")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apps_api::cloudflare::sfu::RealtimeClient;
use apps_api::cloudflare::CloudflareClient;
use apps_api::{Error, RetryConfig};
use tokio::time::Instant;

use crate::support::in_process::*;
use crate::support::*;

const LIST: &str = r#"{"success": true, "errors": [], "messages": [], "result": []}"#;
const CREATED: &str = r#"{"success": true, "errors": [], "messages": [], "result": {"uid": "2a95132c15732412d22c1476fa83f27a", "name": "x", "secret": "s3cr3t-value-0123456789"}}"#;

/// An answer the server gives: a status and its headers (the last one repeats).
type Answer = (u16, &'static [(&'static str, &'static str)]);

/// How a call ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Ok,
    RateLimited,
    Api,
}

/// A server answering `answers` in turn (repeating the last), logging when each came.
fn server(answers: &'static [Answer], ok: &'static str) -> (Responder, Arc<Mutex<Vec<Instant>>>) {
    let log: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = log.clone();
    let responder = Responder::new(move |_| {
        let mut seen = seen.lock().unwrap();
        seen.push(Instant::now());
        let (status, headers) = answers[(seen.len() - 1).min(answers.len() - 1)];
        let body = match status {
            200 | 201 => ok.to_string(),
            _ => cf_failure(971, "Please wait").to_string(),
        };
        let mut answer = json_response(status, body);
        for (name, value) in headers {
            let value = if *value == "PAST" {
                httpdate::fmt_http_date(std::time::SystemTime::now() - Duration::from_secs(3600))
            } else {
                value.to_string()
            };
            answer.headers_mut().insert(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_str(&value).unwrap(),
            );
        }
        answer
    });
    (responder, log)
}

fn end_of<T>(result: &Result<T, Error>) -> End {
    match result {
        Ok(_) => End::Ok,
        Err(Error::RateLimited(_)) => End::RateLimited,
        Err(Error::Api(_)) => End::Api,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// Both configurations: the default (a budget) and none.
fn clients(responder: &Responder) -> [(&'static str, CloudflareClient); 2] {
    [
        ("default", cloudflare(responder.clone()).build().unwrap()),
        (
            "unbudgeted",
            cloudflare(responder.clone())
                .rate_budget(None)
                .build()
                .unwrap(),
        ),
    ]
}

const ZERO: &[(&str, &str)] = &[("retry-after", "0")];
const PAST: &[(&str, &str)] = &[("retry-after", "PAST")];
const RESET_NOW: &[(&str, &str)] = &[("ratelimit", "\"default\";r=0;t=0")];
const TWO: &[(&str, &str)] = &[("retry-after", "2")];
const MINUTE: &[(&str, &str)] = &[("retry-after", "60")];
const NINETY: &[(&str, &str)] = &[("retry-after", "90")];
const HOUR: &[(&str, &str)] = &[("retry-after", "3600")];
const NOTHING: &[(&str, &str)] = &[];
const MS_1500: &[(&str, &str)] = &[("retry-after-ms", "1500")];
const MS_1: &[(&str, &str)] = &[("retry-after-ms", "1")];

/// (name, method, answers, requests sent, how it ends, least and most time it takes)
type Case = (
    &'static str,
    &'static str,
    &'static [Answer],
    usize,
    End,
    Duration,
    Duration,
);

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Every case, on both clients: the same requests, the same end, the same time.
#[tokio::test(start_paused = true)]
async fn the_wait_rule_is_the_same_with_and_without_a_budget() {
    #[rustfmt::skip]
    let cases: &[Case] = &[
        // A server cannot make a client spin: a zero or past wait is at least 100 ms.
        ("Retry-After: 0, eleven times", "GET", &[(429, ZERO)], 11, End::RateLimited, MS(1000), MS(5000)),
        ("a Retry-After in the past", "GET", &[(429, PAST)], 11, End::RateLimited, MS(1000), MS(5000)),
        ("Ratelimit r=0;t=0 alone", "GET", &[(429, RESET_NOW)], 11, End::RateLimited, MS(1000), MS(5000)),
        ("retry-after-ms: 1, eleven times", "GET", &[(429, MS_1)], 11, End::RateLimited, MS(1000), MS(5000)),
        ("Retry-After: 0, then served", "GET", &[(429, ZERO), (200, NOTHING)], 2, End::Ok, MS(100), MS(500)),
        // A wait within max_retry_after is waited out, exactly.
        ("Retry-After: 2, then served", "GET", &[(429, TWO), (200, NOTHING)], 2, End::Ok, MS(2000), MS(2000)),
        ("Retry-After: 60 (the most), then served", "GET", &[(429, MINUTE), (200, NOTHING)], 2, End::Ok, MS(60_000), MS(60_000)),
        ("a POST refused, then created", "POST", &[(429, TWO), (201, NOTHING)], 2, End::Ok, MS(2000), MS(2000)),
        ("retry-after-ms every time", "POST", &[(429, MS_1500)], 11, End::RateLimited, MS(15_000), MS(15_000)),
        // A 429 that says nothing: jittered backoff, never under 100 ms.
        ("a bare 429, then served", "GET", &[(429, NOTHING), (200, NOTHING)], 2, End::Ok, MS(100), MS(1000)),
        // Past max_retry_after: the request ends at once.
        ("Retry-After: 90", "GET", &[(429, NINETY)], 1, End::RateLimited, MS(0), MS(0)),
        ("Retry-After: 3600", "GET", &[(429, HOUR)], 1, End::RateLimited, MS(0), MS(0)),
        // A 5xx's Retry-After is the same rule (no budget block).
        ("503 with Retry-After: 2, then served", "GET", &[(503, TWO), (200, NOTHING)], 2, End::Ok, MS(2000), MS(2000)),
        ("503 with Retry-After: 90", "GET", &[(503, NINETY)], 1, End::Api, MS(0), MS(0)),
    ];
    for &(name, method, answers, requests, end, least, most) in cases {
        let ok = if method == "GET" { LIST } else { CREATED };
        for config in ["default", "unbudgeted"] {
            let (responder, log) = server(answers, ok);
            let client = clients(&responder)
                .into_iter()
                .find(|(named, _)| *named == config)
                .unwrap()
                .1;
            let start = Instant::now();
            let ended = if method == "GET" {
                end_of(&client.calls(ACCOUNT).list().await)
            } else {
                end_of(&client.calls(ACCOUNT).create(None).await)
            };
            let took = start.elapsed();
            let case = format!("{name}, {config}");
            assert_eq!(log.lock().unwrap().len(), requests, "{case}: requests");
            assert_eq!(ended, end, "{case}");
            assert!(least <= took && took <= most, "{case}: took {took:?}");
            // Each wait between two requests is at least 100 ms.
            let sent = log.lock().unwrap().clone();
            for pair in sent.windows(2) {
                assert!(pair[1] - pair[0] >= MS(100), "{case}: {sent:?}");
            }
        }
    }
}

/// A 429 past the client's max_retry_after ends the call at once with the server's wait, on
/// both clients; with the budget, the next call meets the block and fails at once, unsent,
/// instead of sleeping past what it would wait (without one, it asks again). The same for a
/// block within the call's deadline (90 s of 120) as for one past it (an hour).
#[tokio::test(start_paused = true)]
async fn a_block_past_max_retry_after_fails_fast_for_everyone() {
    for (answers, asked) in [(&[(429, NINETY)][..], 90), (&[(429, HOUR)][..], 3600)] {
        let answers: &'static [Answer] = answers;
        for (config, sent_again) in [("default", false), ("unbudgeted", true)] {
            let case = format!("Retry-After {asked}, {config}");
            let (responder, log) = server(answers, LIST);
            let client = clients(&responder)
                .into_iter()
                .find(|(named, _)| *named == config)
                .unwrap()
                .1;
            let start = Instant::now();
            let first = client.calls(ACCOUNT).list().await.unwrap_err();
            assert_eq!(first.retry_after(), Some(Duration::from_secs(asked)));
            let second = client.calls(ACCOUNT).list().await.unwrap_err();
            let Error::RateLimited(failure) = &second else {
                panic!("{second:?}")
            };
            assert_eq!(failure.sent, sent_again, "{case}");
            assert_eq!(log.lock().unwrap().len(), 1 + usize::from(sent_again));
            assert_eq!(start.elapsed(), Duration::ZERO, "{case}");
            if !sent_again {
                // What is left of the server's wait, and a message that says it was not sent.
                assert_eq!(second.retry_after(), Some(Duration::from_secs(asked)));
                assert!(second.to_string().contains("was not sent"), "{second}");
            }
            // A client that waits longer than the server asked waits it out, then asks.
            let patient = cloudflare(responder)
                .retry(RetryConfig::default().max_retry_after(Duration::from_secs(7200)))
                .total_timeout(Duration::from_secs(7200))
                .build()
                .unwrap()
                .calls(ACCOUNT)
                .total_timeout(Duration::from_secs(asked + 400))
                .list()
                .await;
            assert!(matches!(patient, Err(Error::RateLimited(_))), "{patient:?}");
            assert!(start.elapsed() >= Duration::from_secs(asked), "{case}");
        }
    }
}

const SESSION: &str = "2a95132c15732412d22c1476fa83f27a";
const STATE: &str = r#"{"tracks": [], "dataChannels": []}"#;

fn realtime(responder: &Responder, paced: bool) -> RealtimeClient {
    let builder = RealtimeClient::builder("2a95132c15732412d22c1476fa83f27a", "sfu-app-secret")
        .responder(responder.clone());
    if paced {
        builder.build().unwrap()
    } else {
        builder.rate_budget(None).build().unwrap()
    }
}

/// A session's pace (1 s windows) never shortens the server's wait: a session read answered
/// 429 with Retry-After 5 is asked again after 5 s, not 1 s; one with Retry-After 3600 ends at
/// once (it was asked 11 times, a second apart), paced or not.
#[tokio::test(start_paused = true)]
async fn a_sessions_pace_never_shortens_the_servers_wait() {
    for paced in [true, false] {
        let (responder, log) = server(&[(429, &[("retry-after", "5")]), (200, NOTHING)], STATE);
        let session = realtime(&responder, paced).session(SESSION);
        let start = Instant::now();
        session.state().await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(5), "paced {paced}");
        assert_eq!(log.lock().unwrap().len(), 2);

        let (responder, log) = server(&[(429, HOUR)], STATE);
        let start = Instant::now();
        let error = realtime(&responder, paced)
            .session(SESSION)
            .state()
            .await
            .unwrap_err();
        assert!(matches!(error, Error::RateLimited(_)), "{error:?}");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
        assert_eq!(log.lock().unwrap().len(), 1, "paced {paced}");
        assert_eq!(start.elapsed(), Duration::ZERO);
        // The session's next read, from another handle a minute later: paced, the hour's
        // block holds it (unsent), not the pace's one-second window; unpaced, it asks.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let again = realtime(&responder, paced)
            .session(SESSION)
            .state()
            .await
            .unwrap_err();
        assert!(
            matches!(&again, Error::RateLimited(f) if f.sent != paced),
            "{again:?}"
        );
        assert_eq!(log.lock().unwrap().len(), 1 + usize::from(!paced));
    }
}
