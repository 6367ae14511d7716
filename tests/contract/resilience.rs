//! Timeouts, retries, hostile IDs and hostile responses: every case ends in a typed error or a
//! correct value, never a panic or a hang.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apps_api::cloudflare::magic::MagicAppChanges;
use apps_api::hover::HoverAppChanges;
use apps_api::{AccountId, CallsAppId, Error, HoverAppId, MagicAppId, RetryConfig};
use httpmock::Method::{GET, PATCH, POST};
use httpmock::MockServer;
use serde_json::json;

use crate::support::*;

const APP: &str = "2a95132c15732412d22c1476fa83f27a";

/// A client whose waits between tries are recorded, not slept: each request's own retries. (A
/// rate budget waits for a 429's block itself, on tokio's clock: `budget`'s tests.)
fn recording(server: &MockServer) -> (apps_api::cloudflare::CloudflareClient, RecordingSleeper) {
    let sleeper = RecordingSleeper::default();
    let client = cf_builder(server)
        .rate_budget(None)
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .unwrap();
    (client, sleeper)
}

#[tokio::test]
async fn get_503_503_200_is_three_hits_and_success() {
    let server = MockServer::start_async().await;
    let failing = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path(&format!("/calls/apps/{APP}")));
            then.status(503).body("upstream unavailable");
        })
        .await;
    failing.up_to_n_times_async(2).await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path(&format!("/calls/apps/{APP}")));
            then.status(200)
                .json_body(fixture!("calls-get.response.json"));
        })
        .await;
    let sleeper = RecordingSleeper::default();
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = answers.clone();
    let client = cf_builder(&server)
        .rate_budget(None)
        .sleeper(Arc::new(sleeper.clone()))
        .on_response(move |answer| seen.lock().unwrap().push((answer.status, answer.attempt)))
        .build()
        .unwrap();
    client
        .calls(ACCOUNT)
        .get(&CallsAppId::new(APP))
        .await
        .unwrap();
    failing.assert_calls_async(2).await;
    ok.assert_calls_async(1).await;
    // Each answer is reported with the try it came to.
    assert_eq!(*answers.lock().unwrap(), [(503, 1), (503, 2), (200, 3)]);
    // Full jitter under 0.5 s, then under 1 s.
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 2);
    assert!(
        waits[0] <= Duration::from_millis(500) && waits[1] <= Duration::from_secs(1),
        "{waits:?}"
    );
}

#[tokio::test]
async fn post_that_gets_503_is_sent_once() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(503);
        })
        .await;
    let err = cf(&server)
        .calls(ACCOUNT)
        .create(Some("x"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Api(f) if f.status == 503), "{err:?}");
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn patch_is_retried_on_5xx_only_when_the_caller_opts_in() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PATCH).path("/api/apps/1");
            then.status(500);
        })
        .await;
    let changes = HoverAppChanges::new().name("n");
    let once = hover_with_token(&server);
    once.apps()
        .update(&HoverAppId::new("1"), &changes)
        .await
        .unwrap_err();
    mock.assert_calls_async(1).await;
    let opted_in = hover_builder(&server)
        .token(HOVER_JWT)
        .retry(RetryConfig::default().retry_non_idempotent(true))
        .build()
        .unwrap();
    opted_in
        .apps()
        .update(&HoverAppId::new("1"), &changes)
        .await
        .unwrap_err();
    mock.assert_calls_async(4).await;
}

#[tokio::test]
async fn post_that_gets_429_then_201_is_two_hits() {
    let server = MockServer::start_async().await;
    let limited = server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(429)
                .header("retry-after", "2")
                .json_body(cf_failure(971, "Please wait"));
        })
        .await;
    limited.up_to_n_times_async(1).await;
    let created = server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(201)
                .json_body(fixture!("calls-create.response.json"));
        })
        .await;
    let (client, sleeper) = recording(&server);
    client.calls(ACCOUNT).create(None).await.unwrap();
    limited.assert_calls_async(1).await;
    created.assert_calls_async(1).await;
    assert_eq!(
        sleeper.waits(),
        [Duration::from_secs(2)],
        "Retry-After is honoured"
    );
}

/// With the default sleeper (tokio's clock), a `Retry-After: 1` is a wait of exactly 1 s.
/// (Virtual time.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn retry_after_one_second_really_waits() {
    use crate::support::in_process::*;
    let (_, next) = counter();
    let once_limited = Responder::new(move |_| {
        if next() == 1 {
            let mut answer = json_response(429, "{}");
            answer
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("1"));
            answer
        } else {
            json_response(
                200,
                r#"{"success": true, "errors": [], "messages": [], "result": []}"#,
            )
        }
    });
    let client = cloudflare(once_limited).build().unwrap();
    let started = tokio::time::Instant::now();
    client.magic(ACCOUNT).list().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_returned_at_once() {
    let server = MockServer::start_async().await;
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(429)
                .header("retry-after", "120")
                .json_body(cf_failure(971, "Please wait"));
        })
        .await;
    let (client, sleeper) = recording(&server);
    let err = client.calls(ACCOUNT).list().await.unwrap_err();
    assert!(matches!(err, Error::RateLimited(_)), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(err.codes(), [971]);
    assert!(err.to_string().contains("retry after 120 s"), "{err}");
    limited.assert_calls_async(1).await;
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn persistent_429_ends_as_rate_limited_after_the_retries() {
    let server = MockServer::start_async().await;
    let limited = server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/magic/apps"));
            then.status(429).header("retry-after-ms", "1500");
        })
        .await;
    let (client, sleeper) = recording(&server);
    let app = apps_api::cloudflare::magic::NewMagicApp::new("a", "b").hostnames(["h"]);
    let err = client.magic(ACCOUNT).create(&app).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited(_)), "{err:?}");
    assert!(err.is_retryable());
    // Rate limits have their own, larger budget: 1 try and 10 retries.
    limited.assert_calls_async(11).await;
    assert_eq!(sleeper.waits(), [Duration::from_millis(1500); 10]);
}

#[tokio::test]
async fn retries_can_be_turned_off() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(503);
        })
        .await;
    cf_no_retry(&server)
        .calls(ACCOUNT)
        .list()
        .await
        .unwrap_err();
    mock.assert_calls_async(1).await;
}

/// A server that never answers: each try ends at its limit, a GET is tried three times.
/// (Virtual time: the answers would come after 30 s; the waits between tries are jittered.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_times_out() {
    use crate::support::in_process::*;
    let counts = Counts::default();
    let seen = counts.clone();
    let silent = Responder::from_async(move |request| {
        seen.add(&request);
        after(Duration::from_secs(30), json_response(200, "{}"))
    });
    let sleeper = RecordingSleeper::default();
    let client = cloudflare(silent)
        .request_timeout(Duration::from_millis(300))
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = client.calls(ACCOUNT).list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { after, .. } if *after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    // Three tries of 0.3 s (the recording sleeper skips the waits between them).
    assert_eq!(counts.of(&cf_path("/calls/apps")), 3);
    assert_eq!(sleeper.waits().len(), 2);
    assert_eq!(started.elapsed(), Duration::from_millis(900));
    assert!(err.to_string().contains("did not answer GET"), "{err}");
}

/// A POST that times out may have acted: it is not sent again. (Virtual time.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn a_post_that_times_out_is_not_retried() {
    use crate::support::in_process::*;
    let counts = Counts::default();
    let seen = counts.clone();
    let silent = Responder::from_async(move |request| {
        seen.add(&request);
        after(Duration::from_secs(30), json_response(201, "{}"))
    });
    let client = apps_api::hover::HoverClient::builder()
        .token(HOVER_JWT)
        .request_timeout(Duration::from_millis(200))
        .responder(silent)
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = client
        .apps()
        .create(&apps_api::hover::NewHoverApp::new("a", "b"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(counts.of("/api/apps"), 1);
    assert_eq!(started.elapsed(), Duration::from_millis(200));
}

#[tokio::test]
async fn half_a_body_then_a_stall_times_out() {
    let server = RawServer::start(|_| {
        (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"success\": true, \"res"
                .to_vec(),
            true,
        )
    })
    .await;
    let client = apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(TOKEN))
        .base_url(&server.url)
        .request_timeout(Duration::from_millis(300))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = client.calls(ACCOUNT).list().await.unwrap_err();
    // The kind says it: the limit of the try ran out (the stall is an hour long).
    assert!(
        matches!(&err, Error::Timeout { after, .. } if *after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert_eq!(server.requests.load(SeqCst), 1);
}

/// A Cloudflare client on a raw server, with this time limit per try and recorded waits.
fn cf_with_sleeper(
    url: &str,
    timeout: Duration,
    sleeper: &RecordingSleeper,
) -> apps_api::cloudflare::CloudflareClient {
    apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(TOKEN))
        .base_url(url)
        .request_timeout(timeout)
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_get_whose_body_stalls_is_tried_again() {
    // The first answer's body stalls after its headers (the body is read after the `exec`
    // hook, by progenitor); the second answer is whole.
    let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = tries.clone();
    let server = RawServer::start(move |_| {
        if counter.fetch_add(1, SeqCst) == 0 {
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"success\": true, \"res";
            (head.to_vec(), true)
        } else {
            let body = r#"{"success": true, "errors": [], "messages": [], "result": []}"#;
            (http_200(body), false)
        }
    })
    .await;
    let sleeper = RecordingSleeper::default();
    let client = cf_with_sleeper(&server.url, Duration::from_millis(300), &sleeper);
    let apps = client.calls(ACCOUNT).list().await.unwrap();
    assert!(apps.is_empty());
    assert_eq!(tries.load(SeqCst), 2);
    assert_eq!(sleeper.waits().len(), 1);
}

#[tokio::test]
async fn a_delete_whose_body_stalls_every_time_gives_up_after_the_retries() {
    let server = RawServer::start(|_| {
        let head =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{";
        (head.to_vec(), true)
    })
    .await;
    let sleeper = RecordingSleeper::default();
    let client = cf_with_sleeper(&server.url, Duration::from_millis(200), &sleeper);
    let app = CallsAppId::new("2a95132c15732412d22c1476fa83f27a");
    let err = client.calls(ACCOUNT).delete(&app).await.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { after, .. } if *after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert_eq!(server.requests.load(SeqCst), 3);
    assert_eq!(sleeper.waits().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_for_any_method_then_reported() {
    // A port that is bound but not listening: connections to it are refused, and no other
    // test can take it while this socket holds it.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let sleeper = RecordingSleeper::default();
    let client = apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(TOKEN))
        .base_url(format!("http://127.0.0.1:{port}/client/v4"))
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .unwrap();
    let err = client.calls(ACCOUNT).create(Some("x")).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(
        sleeper.waits().len(),
        2,
        "a POST that never left is retried"
    );
    let text = err.to_string();
    assert!(
        text.contains("could not complete POST") && !text.contains(TOKEN),
        "{text}"
    );
}

/// Records the raw request path of every request.
async fn path_recorder(server: &MockServer) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    server
        .mock_async(move |when, then| {
            when.is_true(move |req| {
                let uri = req.uri();
                sink.lock().unwrap().push(
                    uri.path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                );
                true
            });
            then.status(404).json_body(cf_failure(1000, "nothing here"));
        })
        .await;
    seen
}

/// `\` is `/` to the URL parser, which then resolves `..`: an ID that would send
/// `DELETE /client/v4/zones/<zone>` with the caller's token sends nothing.
#[tokio::test]
async fn a_backslash_traversal_id_sends_nothing() {
    let server = MockServer::start_async().await;
    let seen = path_recorder(&server).await;
    let id = CallsAppId::new(r"..\..\..\..\zones\023e105f4ecef8ad9ca31a8372d0c353");
    let err = cf(&server).calls(ACCOUNT).delete(&id).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.starts_with("Calls app ID") && !m.contains("zones")),
        "{err:?}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
}

#[tokio::test]
async fn hostile_ids_are_rejected_before_any_request() {
    let server = MockServer::start_async().await;
    let seen = path_recorder(&server).await;
    let cf = cf(&server);
    let hover = hover_with_token(&server);
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "a?b=1",
        "a#b",
        "100%",
        "../../x",
        "a b",
        "ünï",
        r"a\..\b",
        "%2e%2e%5c",
    ] {
        let errors = [
            cf.calls(ACCOUNT)
                .get(&CallsAppId::new(bad))
                .await
                .unwrap_err(),
            cf.calls(AccountId::new(bad)).list().await.unwrap_err(),
            cf.magic(ACCOUNT)
                .patch(&MagicAppId::new(bad), &MagicAppChanges::new().name("x"))
                .await
                .unwrap_err(),
            hover
                .apps()
                .archive(&HoverAppId::new(bad))
                .await
                .unwrap_err(),
        ];
        for err in errors {
            assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err:?}");
        }
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_calls_get_their_own_answers() {
    let server = MockServer::start_async().await;
    for i in 0..200 {
        let mut body = fixture!("hover-create.response.json");
        body["data"]["id"] = json!(i.to_string());
        body["data"]["attributes"]["id"] = json!(i);
        body["data"]["attributes"]["name"] = json!(format!("app {i}"));
        server
            .mock_async(|when, then| {
                when.method(GET).path(format!("/api/apps/{i}"));
                then.status(200).json_body(body);
            })
            .await;
    }
    let hover = hover_with_token(&server);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let hover = hover.clone();
            tokio::spawn(async move { (i, hover.apps().get(&HoverAppId::from(i as i64)).await) })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        let app = result.unwrap();
        assert_eq!(
            (app.id.as_str(), app.name.as_str()),
            (i.to_string().as_str(), format!("app {i}").as_str())
        );
    }
}

#[tokio::test]
async fn sequential_calls_reuse_one_connection() {
    let body = fixture!("calls-list.response.json").to_string();
    let server = RawServer::start(move |_| (http_200(&body), false)).await;
    let client = apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(TOKEN))
        .base_url(&server.url)
        .build()
        .unwrap();
    for _ in 0..50 {
        client.calls(ACCOUNT).list().await.unwrap();
    }
    assert_eq!(server.requests.load(SeqCst), 50);
    assert_eq!(server.connections.load(SeqCst), 1);
}

/// A handle's own time limit replaces the client's. (Virtual time.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn a_call_can_have_its_own_timeout() {
    use crate::support::in_process::*;
    let counts = Counts::default();
    let seen = counts.clone();
    let slow = Responder::from_async(move |request| {
        seen.add(&request);
        after(Duration::from_secs(30), json_response(201, "{}"))
    });
    // The client allows 60 s; this one call allows 250 ms.
    let hover = apps_api::hover::HoverClient::builder()
        .token(HOVER_JWT)
        .responder(slow)
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = hover
        .apps()
        .timeout(Duration::from_millis(250))
        .create(&apps_api::hover::NewHoverApp::new("a", "b"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { after, .. } if *after == Duration::from_millis(250)),
        "{err:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(counts.of("/api/apps"), 1);
}
