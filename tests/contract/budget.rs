//! The rate budget, on tokio's paused clock with in-process answers (feature `test-util`): a
//! server that keeps Cloudflare's fixed window, many tasks and clients sharing one credential,
//! a 429's block, and a deadline the budget cannot meet.
#![cfg(feature = "test-util")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apps_api::{Error, Quota};
use tokio::time::Instant;

use crate::support::in_process::*;
use crate::support::*;

const LIST: &str = r#"{"success": true, "errors": [], "messages": [], "result": []}"#;

/// What a limited server saw: requests served and refused, and when.
#[derive(Default)]
struct Log {
    served: Vec<Duration>,
    refused: usize,
}

/// A server keeping `quota` as Cloudflare does: fixed windows from the first request, a 429
/// (971) past the quota blocking for a whole window, `Ratelimit` and `Ratelimit-Policy` on
/// every answer.
fn limited_server(quota: Quota) -> (Responder, Arc<Mutex<Log>>) {
    limited_server_since(quota, Duration::ZERO)
}

/// [`limited_server`] whose first window began `age` ago (its windows keep that phase).
fn limited_server_since(quota: Quota, age: Duration) -> (Responder, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let start = Instant::now();
    let window: Arc<Mutex<(Instant, u32, Option<Instant>)>> =
        Arc::new(Mutex::new((start - age, 0, None)));
    let seen = log.clone();
    let responder = Responder::new(move |_| {
        let now = Instant::now();
        let mut w = window.lock().unwrap();
        let ceil = |d: Duration| d.as_secs() + u64::from(d.subsec_nanos() > 0);
        let (mut answer, remaining, reset) = match w.2 {
            Some(until) if now < until => {
                seen.lock().unwrap().refused += 1;
                (json_response(429, "{}"), 0, until - now)
            }
            _ => {
                if w.2.take().is_some() {
                    *w = (now, 0, None);
                }
                while now >= w.0 + quota.window {
                    w.0 += quota.window;
                    w.1 = 0;
                }
                if w.1 >= quota.requests {
                    w.2 = Some(now + quota.window);
                    seen.lock().unwrap().refused += 1;
                    let body = r#"{"success": false, "errors": [{"code": 971, "message": "Please wait"}], "messages": [], "result": null}"#;
                    (json_response(429, body), 0, quota.window)
                } else {
                    w.1 += 1;
                    seen.lock().unwrap().served.push(now - start);
                    (
                        json_response(200, LIST),
                        quota.requests - w.1,
                        w.0 + quota.window - now,
                    )
                }
            }
        };
        let refused = answer.status() == 429;
        let headers = answer.headers_mut();
        let value = |text: String| http::HeaderValue::from_str(&text).unwrap();
        headers.insert(
            "ratelimit",
            value(format!("\"default\";r={remaining};t={}", ceil(reset))),
        );
        headers.insert(
            "ratelimit-policy",
            value(format!(
                "\"default\";q={};w={}",
                quota.requests,
                ceil(quota.window)
            )),
        );
        if refused {
            headers.insert("retry-after", value(ceil(reset).to_string()));
        }
        answer
    });
    (responder, log)
}

/// A client with the default budget, its requests answered by `responder`, at `host`: budgets
/// are per process, so each test has a host of its own.
fn client(responder: &Responder, host: &str) -> apps_api::cloudflare::CloudflareClient {
    cloudflare(responder.clone())
        .base_url(format!("https://{host}/client/v4"))
        .build()
        .unwrap()
}

/// `tasks` tasks of `each` list requests over `clients` (round robin); how long it took.
async fn job(
    clients: &[apps_api::cloudflare::CloudflareClient],
    tasks: usize,
    each: usize,
) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let client = clients[task % clients.len()].clone();
            tokio::spawn(async move {
                for _ in 0..each {
                    client.calls(ACCOUNT).list().await.unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    start.elapsed()
}

/// 120 requests from 8 tasks on one client, against 30 per 6 s: none refused, and the job
/// takes its four windows (18 s), at most 5 % more. The same from two clients built apart from
/// the same token, and against windows whose phase began 2.4 s before the job (its least time
/// is then the 3.6 s left of the first window and two more: 15.6 s). Without the budget, the
/// same job runs into the limit.
#[tokio::test(start_paused = true)]
async fn a_job_from_many_tasks_is_paced_and_never_refused() {
    let quota = Quota::new(30, Duration::from_secs(6));
    for (clients, age, least) in [(1, 0, 18_000), (2, 0, 18_000), (1, 2_400, 15_600)] {
        let (server, log) = limited_server_since(quota, Duration::from_millis(age));
        let host = format!("job-{clients}-{age}.example");
        let clients: Vec<_> = (0..clients).map(|_| client(&server, &host)).collect();
        let took = job(&clients, 8, 15).await;
        let log = log.lock().unwrap();
        let case = format!("{} clients, first window {age} ms old", clients.len());
        assert_eq!((log.served.len(), log.refused), (120, 0), "{case}");
        let least = Duration::from_millis(least);
        assert!(
            took >= least && took.as_secs_f64() <= least.as_secs_f64() * 1.05,
            "{case}: {took:?}"
        );
    }
    let (server, log) = limited_server(quota);
    let unbudgeted = cloudflare(server)
        .base_url("https://unbudgeted.example/client/v4")
        .rate_budget(None)
        .build()
        .unwrap();
    let calls = unbudgeted.calls(ACCOUNT);
    let _ = tokio::join!(calls.list(), async {
        for _ in 0..40 {
            let _ = calls.list().await;
        }
    });
    assert!(log.lock().unwrap().refused > 0, "the limit is real");
}

/// Clients built apart with the same token and base URL share one budget; another token has
/// its own. Hover and TURN clients have none unless asked.
#[tokio::test(start_paused = true)]
async fn clients_with_one_credential_share_one_budget() {
    let (server, _) = limited_server(Quota::new(30, Duration::from_secs(6)));
    let (a, b) = (
        client(&server, "shared.example"),
        client(&server, "shared.example"),
    );
    let other = cloudflare(server.clone())
        .credentials(apps_api::cloudflare::Credentials::api_token(
            "another-token",
        ))
        .base_url("https://shared.example/client/v4")
        .build()
        .unwrap();
    a.calls(ACCOUNT).list().await.unwrap();
    a.calls(ACCOUNT).list().await.unwrap();
    let seen = b.rate_budget().unwrap();
    assert_eq!((seen.remaining, seen.in_flight), (28, 0));
    assert_eq!(seen.policy, Quota::new(30, Duration::from_secs(6)));
    assert_eq!(seen.resets_in, Some(Duration::from_millis(6050)));
    assert_eq!(
        other.rate_budget().unwrap().remaining,
        Quota::CLOUDFLARE.requests
    );
    assert!(hover(server.clone())
        .build()
        .unwrap()
        .rate_budget()
        .is_none());
    let turn = apps_api::cloudflare::turn::TurnCredentials::builder(
        "2a95132c15732412d22c1476fa83f27a",
        "key",
    );
    assert!(turn
        .responder(server.clone())
        .build()
        .unwrap()
        .rate_budget()
        .is_none());
    let limited = hover(server)
        .rate_budget(Some(Quota::new(5, Duration::from_secs(1))))
        .build()
        .unwrap();
    assert_eq!(limited.rate_budget().unwrap().remaining, 5);
    // A client that fails to build sets no quota for the others.
    let failed = cloudflare(server_for_failed_build())
        .base_url("https://shared.example/client/v4")
        .user_agent("bad\nagent")
        .rate_budget(Some(Quota::new(1, Duration::from_secs(3600))))
        .build();
    assert!(matches!(failed, Err(apps_api::Error::Config(_))));
    assert_eq!(
        b.rate_budget().unwrap().policy,
        Quota::new(30, Duration::from_secs(6))
    );
}

fn server_for_failed_build() -> Responder {
    Responder::new(|_| http::Response::new(bytes::Bytes::new()))
}

/// A 429 blocks every request through the budget until its `Retry-After`: nothing is sent in
/// between, and each request waits (its deadline allowing) instead of failing.
#[tokio::test(start_paused = true)]
async fn a_429_blocks_every_request_until_its_wait() {
    let start = Instant::now();
    let sent: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let log = sent.clone();
    let server = Responder::new(move |_| {
        let mut sent = log.lock().unwrap();
        sent.push(start.elapsed());
        if sent.len() == 1 {
            let mut answer = json_response(429, "{}");
            answer
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("10"));
            answer
        } else {
            json_response(200, LIST)
        }
    });
    let client = client(&server, "blocked.example");
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.calls(ACCOUNT).list().await.map(drop) }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let blocked = client.rate_budget().unwrap().blocked_for;
    assert_eq!(blocked, Some(Duration::from_secs(9)));
    let others: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.calls(ACCOUNT).list().await.map(drop) })
        })
        .collect();
    first.await.unwrap().unwrap();
    for other in others {
        other.await.unwrap().unwrap();
    }
    let sent = sent.lock().unwrap();
    assert_eq!(sent[0], Duration::ZERO);
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert!(
        sent[1..].iter().all(|at| *at == Duration::from_secs(10)),
        "{sent:?}"
    );
}

/// A block that outlasts a request's deadline: the request that got the 429 ends with it, and
/// the next fails at once with `RateLimited` saying how long the wait would have been, having
/// sent nothing.
#[tokio::test(start_paused = true)]
async fn a_block_past_the_deadline_fails_at_once_and_sends_nothing() {
    let (count, next) = counter();
    let server = Responder::new(move |_| {
        next();
        let mut answer = json_response(
            429,
            r#"{"success": false, "errors": [{"code": 971, "message": "Please wait"}], "messages": [], "result": null}"#,
        );
        answer
            .headers_mut()
            .insert("retry-after", http::HeaderValue::from_static("300"));
        answer
    });
    let client = client(&server, "deadline.example");
    let start = Instant::now();
    let got = client.calls(ACCOUNT).list().await.unwrap_err();
    assert!(
        matches!(&got, Error::RateLimited(f) if f.sent && f.status == 429),
        "{got:?}"
    );
    assert_eq!(got.codes(), [971]);
    let held = client.calls(ACCOUNT).list().await.unwrap_err();
    let Error::RateLimited(failure) = &held else {
        panic!("{held:?}")
    };
    assert!(!failure.sent);
    assert_eq!(failure.retry_after, Some(Duration::from_secs(300)));
    assert_eq!(
        held.to_string(),
        format!(
            "GET /accounts/{{account_id}}/calls/apps was not sent: the rate budget of this \
             client's credential has no room for another 300 s, longer than the request may wait"
        )
    );
    assert!(held.is_retryable());
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
    // A client that waits longer for a 429 than the block lasts, within its deadline, waits
    // it out.
    let patient = cloudflare(server)
        .base_url("https://deadline.example/client/v4")
        .retry(apps_api::RetryConfig::default().max_retry_after(Duration::from_secs(400)))
        .total_timeout(Duration::from_secs(400))
        .build()
        .unwrap();
    patient.calls(ACCOUNT).list().await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(300));
}

/// Pacing lasts as long as it matters, not as long as a handle: a handle per request (or a
/// client per request) is paced like one long-lived one, and a 429's block survives
/// rebuilding the client.
#[tokio::test(start_paused = true)]
async fn a_handle_or_client_per_request_is_paced_like_one() {
    use apps_api::cloudflare::sfu::RealtimeClient;
    let state = || json_response(200, r#"{"tracks": [], "dataChannels": []}"#);
    let sfu = |paced: bool| {
        let builder = RealtimeClient::builder("2a95132c15732412d22c1476fa83f27a", "secret")
            .responder(Responder::new(move |_| state()));
        if paced {
            builder
        } else {
            builder.rate_budget(None)
        }
        .build()
        .unwrap()
    };
    for (paced, least) in [(true, Duration::from_secs(2)), (false, Duration::ZERO)] {
        let client = sfu(paced);
        let start = Instant::now();
        for _ in 0..60 {
            client.session("s-1").state().await.unwrap();
        }
        // 25 per 1 s window: the 60th request goes in the third window.
        assert_eq!(start.elapsed(), least, "paced {paced}");
    }

    // A client per request against the limited server: none refused.
    let (server, log) = limited_server(Quota::new(30, Duration::from_secs(6)));
    for _ in 0..70 {
        client(&server, "per-request.example")
            .calls(ACCOUNT)
            .list()
            .await
            .unwrap();
    }
    assert_eq!(log.lock().unwrap().refused, 0);

    // A block caused through a client that is gone holds for the next one built.
    let start = Instant::now();
    let sent: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let log = sent.clone();
    let once_limited = Responder::new(move |_| {
        let mut sent = log.lock().unwrap();
        sent.push(start.elapsed());
        if sent.len() == 1 {
            let mut answer = json_response(429, "{}");
            answer
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("10"));
            answer
        } else {
            json_response(200, LIST)
        }
    });
    let first = client(&once_limited, "rebuilt.example");
    let calls = first.calls(ACCOUNT).total_timeout(Duration::from_secs(5));
    assert!(calls.list().await.is_err(), "the 10 s wait is past 5 s");
    drop(first);
    client(&once_limited, "rebuilt.example")
        .calls(ACCOUNT)
        .list()
        .await
        .unwrap();
    assert_eq!(
        *sent.lock().unwrap(),
        [Duration::ZERO, Duration::from_secs(10)]
    );
}

/// A quota set by hand limits the client that set it, never another, and goes with it.
#[tokio::test(start_paused = true)]
async fn a_quota_set_by_hand_is_its_clients_own() {
    let (count, next) = counter();
    let server = Responder::new(move |_| {
        next();
        json_response(200, LIST)
    });
    let default = client(&server, "by-hand.example");
    let strict = cloudflare(server.clone())
        .base_url("https://by-hand.example/client/v4")
        .rate_budget(Some(Quota::new(1, Duration::from_secs(86_400))))
        .build()
        .unwrap();
    strict.calls(ACCOUNT).list().await.unwrap();
    // Its second request has no room for a day: refused, unsent.
    let held = strict.calls(ACCOUNT).list().await.unwrap_err();
    assert!(
        matches!(&held, Error::RateLimited(f) if !f.sent),
        "{held:?}"
    );
    assert_eq!(strict.rate_budget().unwrap().remaining, 0);
    // The other client of the same credential is not held by it, while it lives or after.
    let start = Instant::now();
    default.calls(ACCOUNT).list().await.unwrap();
    drop(strict);
    default.calls(ACCOUNT).list().await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    // It still counted in the credential's budget, which every client shares.
    assert_eq!(
        default.rate_budget().unwrap().remaining,
        Quota::CLOUDFLARE.requests - 3
    );
}

/// A request that never reached the server (it could not connect) takes nothing from the
/// budget: each of its tries gives its place back.
#[tokio::test]
async fn a_request_that_could_not_connect_costs_no_place() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/client/v4", closed.local_addr().unwrap());
    drop(closed);
    let client = apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(
            "token-of-a-closed-port",
        ))
        .base_url(url)
        .sleeper(Arc::new(RecordingSleeper::default()))
        .build()
        .unwrap();
    let error = client.calls(ACCOUNT).list().await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    let budget = client.rate_budget().unwrap();
    assert_eq!(
        (budget.remaining, budget.in_flight),
        (Quota::CLOUDFLARE.requests, 0)
    );
}
