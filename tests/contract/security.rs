//! Issue 11's hardening, as a hostile server, caller or operator would probe it: redirects,
//! cleartext and user info in base URLs, lost connections, the overall deadline, and server
//! text that is huge, forged or full of secrets.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::hover::HoverClient;
use apps_api::{CallsAppId, Error, HoverAppId, RetryConfig};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;

use crate::support::*;

const APP: &str = "2a95132c15732412d22c1476fa83f27a";

/// A `308` to another host would carry the Cloudflare global key and email, and a replayed Hover
/// login its password: no redirect is followed, and the 3xx is an API error naming its status
/// and the `Location` host.
#[tokio::test]
async fn redirects_are_not_followed_and_carry_no_credentials() {
    // On `localhost`: another host name than 127.0.0.1, as in the reproduction.
    let target = MockServer::start_async().await;
    let stolen = target
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({"auth_token": "stolen"}));
        })
        .await;
    let location = format!(
        "http://localhost:{}/client/v4/steal",
        target.address().port()
    );
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(308).header("location", location.as_str());
        })
        .await;

    let cf = CloudflareClient::builder()
        .credentials(Credentials::api_key(
            "ops@example.com",
            "global-key-0123456789",
        ))
        .base_url(format!("{}{CF_PREFIX}", server.base_url()))
        .build()
        .unwrap();
    let err = cf.magic(ACCOUNT).list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Api(f) if f.status == 308 && f.redirect_host.as_deref() == Some("localhost")),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains("HTTP 308") && shown.contains("redirect to localhost"),
        "{shown}"
    );
    assert!(!err.is_retryable());

    let hover = HoverClient::builder()
        .base_url(server.base_url())
        .credentials(HOVER_EMAIL, HOVER_PASSWORD)
        .build()
        .unwrap();
    let err = hover.authenticate().await.unwrap_err();
    assert!(matches!(&err, Error::Api(f) if f.status == 308), "{err:?}");
    stolen.assert_calls_async(0).await;
}

#[test]
fn plain_http_is_refused_off_loopback_unless_allowed() {
    let build = |url: &str, allow: bool| {
        CloudflareClient::builder()
            .credentials(Credentials::api_token(TOKEN))
            .base_url(url)
            .allow_insecure_http(allow)
            .build()
    };
    for url in [
        "http://api.example.com/client/v4",
        "http://10.0.0.1/client/v4",
        "http://localhost.example.com",
    ] {
        let err = build(url, false).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("cleartext")),
            "{url}: {err:?}"
        );
        build(url, true).unwrap();
    }
    for url in [
        "http://localhost:8787/client/v4",
        "http://127.0.0.1:1",
        "http://127.1.2.3:1",
        "http://[::1]:8787",
        "https://api.example.com/client/v4",
    ] {
        build(url, false).unwrap();
    }
    let hover = HoverClient::builder()
        .token("t0ken")
        .base_url("http://stage.usehover.com")
        .build()
        .unwrap_err();
    assert!(matches!(&hover, Error::Config(m) if m.contains("cleartext")));
}

#[test]
fn user_info_in_a_base_url_is_refused_without_echoing_it() {
    for url in [
        "https://user:hunter2-password@api.example.com/client/v4",
        "https://hunter2-password@api.example.com",
        "http://user:hunter2-password@127.0.0.1:1",
        // Not even a URL: still not echoed.
        "https://user:hunter2-password@exa mple.com",
        "https://user:hunter2-password@[::1",
        // A password with `/`, `?` or `#` ends the authority early for the URL parser.
        "https://ops:hunter2/password@api.example.com/client/v4",
        "https://ops:hunter2?password@api.example.com",
        "https://ops:hunter2#password@api.example.com",
    ] {
        let err = CloudflareClient::builder()
            .credentials(Credentials::api_token(TOKEN))
            .base_url(url)
            .build()
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(matches!(err, Error::Config(_)), "{url}: {shown}");
        assert!(!shown.contains("hunter2"), "{url}: {shown}");
        let builder = CloudflareClient::builder().base_url(url);
        assert!(!format!("{builder:?}").contains("hunter2"), "{url}");
    }
}

#[test]
fn a_user_supplied_http_client_is_never_printed() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = reqwest::header::HeaderMap::new();
    // Not marked sensitive: reqwest's own Debug would print it.
    headers.insert(
        "x-proxy-authorization",
        reqwest::header::HeaderValue::from_static("very-secret-default-header"),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    assert!(format!("{http:?}").contains("very-secret-default-header"));
    let builder = CloudflareClient::builder()
        .credentials(Credentials::api_token(TOKEN))
        .http_client(http.clone());
    let shown = format!("{builder:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
    let client = builder.build().unwrap();
    assert!(!format!("{client:?}").contains("very-secret"));
    let hover = HoverClient::builder().token("t").http_client(http);
    assert!(!format!("{hover:?}").contains("very-secret"));
}

/// A server that reads each request and then closes the connection without answering (as a
/// server does to an idle pooled connection) for the first `lost` connections, with a reset
/// when `reset`, and answers the later ones with `answer`.
async fn unanswering_server(
    lost: usize,
    reset: bool,
    answer: &'static str,
) -> (String, Arc<AtomicUsize>) {
    use tokio::io::AsyncWriteExt;
    raw::raw_server(move |mut socket, n| async move {
        if raw::read_head(&mut socket, &mut Vec::new()).await.is_none() {
            return;
        }
        if n < lost {
            if reset {
                let _ = socket.set_zero_linger();
            }
            drop(socket);
            return;
        }
        let _ = socket.write_all(&http_200(answer)).await;
        let _ = socket.shutdown().await;
    })
    .await
}

/// A GET, PUT or DELETE whose connection was closed unanswered (and a TURN revoke, idempotent in
/// effect) is tried again like a connect failure; a POST or PATCH that reached the server is not
/// replayed. Each request gets a server of its own whose first connection is lost, so its count
/// is that request's.
#[tokio::test]
async fn an_idempotent_call_whose_connection_is_lost_is_retried() {
    let get = fixture!("calls-get.response.json").to_string();
    let get: &'static str = Box::leak(get.into_boxed_str());
    let magic = r#"{"success":true,"errors":[],"messages":[],"result":{"account_app_id":"m1"}}"#;
    for reset in [false, true] {
        for (method, replayed) in [
            ("GET", true),
            ("PUT", true),
            ("DELETE", true),
            ("POST revoke", true),
            ("POST", false),
            ("PATCH", false),
        ] {
            let answer = if method == "PATCH" { magic } else { get };
            let (url, connections) = unanswering_server(1, reset, answer).await;
            let cf = CloudflareClient::builder()
                .credentials(Credentials::api_token(TOKEN))
                .base_url(format!("{url}{CF_PREFIX}"))
                .sleeper(Arc::new(RecordingSleeper::default()))
                .build()
                .unwrap();
            let turn = apps_api::cloudflare::turn::TurnCredentials::builder(APP, "turn-key")
                .base_url(format!("{url}/v1"))
                .sleeper(Arc::new(RecordingSleeper::default()))
                .build()
                .unwrap();
            let calls = cf.calls(ACCOUNT);
            let app = CallsAppId::new(APP);
            let result = match method {
                "GET" => calls.get(&app).await.map(drop),
                "PUT" => calls.update(&app, Some("x")).await.map(drop),
                "DELETE" => calls.delete(&app).await.map(drop),
                "POST revoke" => turn.revoke(&apps_api::TurnUsername::new("u5er")).await,
                "POST" => calls.create(Some("x")).await.map(drop),
                _ => cf
                    .magic(ACCOUNT)
                    .patch(
                        &apps_api::MagicAppId::new("m1"),
                        &apps_api::cloudflare::magic::MagicAppChanges::new().name("x"),
                    )
                    .await
                    .map(drop),
            };
            let what = format!("{method}, reset={reset}");
            if replayed {
                assert!(result.is_ok(), "{what}: {result:?}");
                assert_eq!(connections.load(SeqCst), 2, "{what}");
            } else {
                assert!(
                    matches!(result, Err(Error::Transport { .. })),
                    "{what}: {result:?}"
                );
                assert_eq!(connections.load(SeqCst), 1, "{what}: not replayed");
            }
        }
    }
}

/// A server that answers 408 (Request Timeout) to the first request and `answer` after.
async fn first_408(answer: &'static str) -> RawServer {
    let first = Arc::new(AtomicUsize::new(0));
    RawServer::start(move |_| {
        if first.fetch_add(1, SeqCst) == 0 {
            (
                b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n".to_vec(),
                false,
            )
        } else {
            (http_200(answer), false)
        }
    })
    .await
}

/// A 408 says the server gave up waiting for the request: a GET, PUT or DELETE is sent again; a
/// POST is not (its body may have been read).
#[tokio::test]
async fn a_408_is_retried_for_idempotent_calls_only() {
    let get = fixture!("calls-get.response.json").to_string();
    let get: &'static str = Box::leak(get.into_boxed_str());
    for (method, replayed) in [
        ("GET", true),
        ("PUT", true),
        ("DELETE", true),
        ("POST", false),
    ] {
        let server = first_408(get).await;
        let cf = CloudflareClient::builder()
            .credentials(Credentials::api_token(TOKEN))
            .base_url(format!("{}{CF_PREFIX}", server.url))
            .sleeper(Arc::new(RecordingSleeper::default()))
            .build()
            .unwrap();
        let calls = cf.calls(ACCOUNT);
        let app = CallsAppId::new(APP);
        let result = match method {
            "GET" => calls.get(&app).await.map(drop),
            "PUT" => calls.update(&app, None).await.map(drop),
            "DELETE" => calls.delete(&app).await.map(drop),
            _ => calls.create(None).await.map(drop),
        };
        let sent = server.requests.load(SeqCst);
        if replayed {
            assert!(result.is_ok(), "{method}: {result:?}");
            assert_eq!(sent, 2, "{method}");
        } else {
            assert_eq!(result.unwrap_err().status(), Some(408), "{method}");
            assert_eq!(sent, 1, "{method}");
        }
    }
}

/// The overall deadline ends a call that keeps stalling, whatever the per-try limit. (Virtual
/// time: the answer would come after 30 s.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn the_overall_deadline_ends_a_stalling_call() {
    use crate::support::in_process::*;
    let counts = Counts::default();
    let seen = counts.clone();
    let stalling = Responder::from_async(move |request| {
        seen.add(&request);
        after(Duration::from_secs(30), json_response(200, "{}"))
    });
    let cf = cloudflare(stalling)
        .request_timeout(Duration::from_secs(60))
        .total_timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = cf.calls(ACCOUNT).list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { after, .. } if *after == Duration::from_millis(700)),
        "{err:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_millis(700));
    assert_eq!(counts.of(&cf_path("/calls/apps")), 1);

    // And per handle.
    let started = tokio::time::Instant::now();
    let err = cf
        .calls(ACCOUNT)
        .total_timeout(Duration::from_millis(300))
        .list()
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(300));
}

/// A server that keeps answering 429 with `Retry-After: 1` cannot hold a call past its
/// deadline: the wait that would cross it is not started. (Virtual time: tries at 0, 1 and 2 s;
/// the wait to 3 s would cross the deadline at 2.5 s.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn retry_after_cannot_hold_a_call_past_its_deadline() {
    use crate::support::in_process::*;
    let counts = Counts::default();
    let seen = counts.clone();
    let limited = Responder::new(move |request| {
        seen.add(&request);
        let mut answer = json_response(429, cf_failure(971, "Please wait").to_string());
        answer
            .headers_mut()
            .insert("retry-after", http::HeaderValue::from_static("1"));
        answer
    });
    let cf = cloudflare(limited)
        .total_timeout(Duration::from_millis(2_500))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = cf.calls(ACCOUNT).list().await.unwrap_err();
    assert!(matches!(&err, Error::RateLimited(_)), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(counts.of(&cf_path("/calls/apps")), 3);
}

/// `retry-after-ms: 1e30` (which `Duration::from_secs_f64` panics on) is "too long":
/// RateLimited at once, with the ceiling as its wait.
#[tokio::test]
async fn an_absurd_retry_after_is_too_long_not_a_panic() {
    for (status, header, value) in [
        (429, "retry-after-ms", "1e30"),
        (503, "retry-after-ms", "1e30"),
        (429, "retry-after", "99999999999999999999999999"),
        (429, "retry-after-ms", "inf"),
    ] {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(GET).path(cf_path("/calls/apps"));
                then.status(status)
                    .header(header, value)
                    .json_body(cf_failure(971, "Please wait"));
            })
            .await;
        // A token of its own: the day's block it causes lasts for the process (pooled mock
        // servers come back with the same URL).
        let err = cf_builder(&server)
            .credentials(Credentials::api_token(format!("absurd-{status}-{value}")))
            .build()
            .unwrap()
            .calls(ACCOUNT)
            .list()
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(
            err.retry_after(),
            Some(Duration::from_secs(24 * 60 * 60)),
            "{value}"
        );
        mock.assert_calls_async(1).await;
        let _ = err.to_string();
    }
}

/// `Retry-After: 0` and a date in the past are a short jittered wait, not a hot loop.
#[tokio::test]
async fn a_zero_or_past_retry_after_is_a_short_wait() {
    for value in ["0", "Thu, 01 Jan 1970 00:00:00 GMT"] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(GET).path(cf_path("/calls/apps"));
                then.status(429).header("retry-after", value);
            })
            .await;
        let sleeper = RecordingSleeper::default();
        // Each request's own retries, as recorded (the default client, with its budget, is
        // held to the same rule in waits::the_wait_rule_is_the_same_with_and_without_a_budget).
        let cf = cf_builder(&server)
            .rate_budget(None)
            .sleeper(Arc::new(sleeper.clone()))
            .build()
            .unwrap();
        cf.calls(ACCOUNT).list().await.unwrap_err();
        let waits = sleeper.waits();
        assert_eq!(waits.len(), 10);
        assert!(
            waits.iter().all(|w| *w >= Duration::from_millis(100)),
            "{value}: {waits:?}"
        );
    }
}

/// 25 errors of 2 KiB each with newlines and terminal escapes: at most 20 kept (and a note
/// of the rest), each at most 1 KiB, no control character in `Display`, a bounded `cf-ray`.
#[tokio::test]
async fn server_text_is_bounded_and_cannot_forge_log_lines() {
    let forged = format!(
        "bad\nINFO apps_api: all good\r\x1b[31m{}",
        "x".repeat(2 * 1024)
    );
    let long_url = format!("https://example.com/{}", "u".repeat(300));
    let errors: Vec<_> = (0..25)
        .map(|i| json!({"code": 1000 + i, "message": forged, "documentation_url": long_url}))
        .collect();
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(400)
                .header("cf-ray", "r".repeat(4000))
                .json_body(
                    json!({"success": false, "errors": errors, "messages": [], "result": null}),
                );
        })
        .await;
    let err = cf(&server).calls(ACCOUNT).list().await.unwrap_err();
    let listed = err.api_errors();
    assert_eq!(listed.len(), 21);
    assert!(listed[20].message.contains("5 more"), "{:?}", listed[20]);
    for e in &listed[..20] {
        assert!(e.message.len() <= 1024 + 3, "{}", e.message.len());
        assert!(!e.message.contains('\n') && !e.message.contains('\x1b'));
        assert!(e.documentation_url.as_ref().unwrap().len() <= 128 + 3);
    }
    assert!(err.request_id().unwrap().len() <= 128 + 3);
    let shown = err.to_string();
    assert!(
        !shown.chars().any(char::is_control),
        "control characters in Display"
    );
    assert!(shown.len() < 30 * 1024, "{}", shown.len());
}

/// Cloudflare `messages` reach the handler (and the INFO log) scrubbed, like errors.
#[tokio::test]
async fn cloudflare_messages_are_scrubbed_before_anyone_sees_them() {
    let server = MockServer::start_async().await;
    let mut body = fixture!("calls-get.response.json");
    body["messages"] =
        json!([{"code": 1000, "message": format!("token {TOKEN} used\nfrom eyJa.eyJb.sig")}]);
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path(&format!("/calls/apps/{APP}")));
            then.status(200).json_body(body.clone());
        })
        .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let cf = cf_builder(&server)
        .on_messages(move |_, messages| {
            sink.lock()
                .unwrap()
                .extend(messages.iter().map(|m| m.message.clone()));
        })
        .build()
        .unwrap();
    cf.calls(ACCOUNT).get(&CallsAppId::new(APP)).await.unwrap();
    let messages = seen.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert!(
        !messages[0].contains(TOKEN) && !messages[0].contains("eyJb"),
        "{messages:?}"
    );
    assert!(!messages[0].contains('\n'), "{messages:?}");
}

/// An error body over 64 KiB is not parsed as an error envelope (only its start is shown).
#[tokio::test]
async fn a_huge_error_body_is_not_parsed() {
    let server = MockServer::start_async().await;
    let padded = json!({
        "success": false,
        "errors": [{"code": 1000, "message": "real error"}],
        "messages": [],
        "result": null,
        "padding": "p".repeat(100 * 1024),
    });
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(400).json_body(padded.clone());
        })
        .await;
    let err = cf(&server).calls(ACCOUNT).create(None).await.unwrap_err();
    assert!(err.api_errors().is_empty(), "{err:?}");
    let snippet = err.failure().unwrap().body_snippet.as_deref().unwrap();
    assert!(snippet.len() < 1024, "{}", snippet.len());
}

/// A Hover ID is digits: anything else is refused before sending, for every Hover call.
#[tokio::test]
async fn hover_ids_are_digits_only() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(404);
        })
        .await;
    let hover = hover_with_token(&server);
    for bad in [
        "43120/restore",
        "1e3",
        "-1",
        "43120 ",
        "00000000000000000000",
    ] {
        let err = hover.apps().get(&HoverAppId::new(bad)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad}: {err:?}");
    }
    any.assert_calls_async(0).await;
}

/// The rest of an error answer's body is read before the retry's wait only for the time the
/// wait leaves: a server trickling it cannot push the wait (and the request) past the deadline.
#[tokio::test]
async fn a_trickling_error_body_cannot_push_a_call_past_its_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (url, _) = raw::raw_server(|mut socket, _| async move {
        let mut buffer = [0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        let head = "HTTP/1.1 503 Service Unavailable\r\nretry-after-ms: 900\r\n\
                    content-length: 65536\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..65536 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if socket.write_all(b"x").await.is_err() {
                return;
            }
        }
    })
    .await;
    let cf = CloudflareClient::builder()
        .credentials(Credentials::api_token(TOKEN))
        .base_url(format!("{url}{CF_PREFIX}"))
        .request_timeout(Duration::from_secs(2))
        .total_timeout(Duration::from_secs(4))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = cf.calls(ACCOUNT).list().await.unwrap_err();
    let took = started.elapsed();
    // Real time (the body trickles over a socket): the deadline is 4 s and the body would take
    // almost two hours, so a bound of 15 s tells them apart with room for a loaded machine.
    assert!(took < Duration::from_secs(15), "{took:?}: {err:?}");
}

/// A client built with `dry_run(true)` sends nothing and answers with the request it would
/// have sent, credentials redacted (the CLI's `--dry-run`).
#[tokio::test]
async fn a_dry_run_sends_nothing_and_shows_no_credential() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200);
        })
        .await;
    let cf = cf(&server);
    let request = apps_api::dry_run(cf.calls(ACCOUNT).create(Some("x")))
        .await
        .unwrap();
    assert_eq!(
        (request.method.as_str(), request.operation),
        ("POST", "calls-apps-create-a-new-app")
    );
    assert_eq!(
        request.url,
        format!("{}{}", server.base_url(), cf_path("/calls/apps"))
    );
    assert!(request
        .headers
        .contains(&("authorization".into(), "[redacted]".into())));
    assert_eq!(request.body.as_deref(), Some(r#"{"name":"x"}"#));
    assert!(!format!("{request:?}").contains(TOKEN));

    let hover = hover_builder(&server)
        .credentials(HOVER_EMAIL, HOVER_PASSWORD)
        .build()
        .unwrap();
    let request = apps_api::dry_run(hover.apps().get(&HoverAppId::new("1")))
        .await
        .unwrap();
    assert_eq!(request.operation, "hover-apps-get", "no login first");
    let login = apps_api::dry_run(hover.authenticate()).await.unwrap();
    let body = login.body.as_deref().unwrap();
    assert!(
        body.contains(HOVER_EMAIL) && !body.contains(HOVER_PASSWORD),
        "{body}"
    );
    any.assert_calls_async(0).await;
}

/// Hostile redirects: a relative `Location` names the request's own host, and one with user
/// info shows only its host (a server cannot make the client print a password it planted).
#[tokio::test]
async fn a_redirect_is_reported_by_its_host_only() {
    for (location, host) in [
        ("/client/v4/elsewhere", "127.0.0.1"),
        (
            "https://ops:planted-password@evil.example:8443/x?token=planted",
            "evil.example",
        ),
        ("//evil.example/x", "evil.example"),
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.any_request();
                then.status(301).header("location", location);
            })
            .await;
        let err = cf(&server).calls(ACCOUNT).list().await.unwrap_err();
        assert_eq!(
            err.failure().unwrap().redirect_host.as_deref(),
            Some(host),
            "{location}"
        );
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("planted"), "{shown}");
    }
    // No Location at all.
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(308);
        })
        .await;
    let err = cf(&server).calls(ACCOUNT).list().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("HTTP 308, a redirect (not followed"),
        "{err}"
    );
}

/// Untrusted text as a credential: a line break would inject a header. Every credential is
/// refused before anything is sent, and the error does not echo it.
#[tokio::test]
async fn credentials_with_line_breaks_are_refused_without_echo() {
    let evil = "tok3n\r\nX-Injected: yes";
    let errors = [
        CloudflareClient::builder()
            .credentials(Credentials::api_token(evil))
            .build()
            .unwrap_err(),
        CloudflareClient::builder()
            .credentials(Credentials::api_key("ops@example.com", evil))
            .build()
            .unwrap_err(),
        CloudflareClient::builder()
            .credentials(Credentials::api_key(evil, "key"))
            .build()
            .unwrap_err(),
        apps_api::cloudflare::turn::TurnCredentials::new(APP, evil).unwrap_err(),
        HoverClient::builder().token(evil).build().unwrap_err(),
    ];
    for err in errors {
        let shown = format!("{err} {err:?}");
        assert!(matches!(err, Error::Config(_)), "{shown}");
        assert!(
            !shown.contains("X-Injected") && !shown.contains("tok3n"),
            "{shown}"
        );
    }
}

/// An operator's extreme settings: limits of `Duration::MAX` work (no overflow in deadline
/// or timer arithmetic), a total of zero ends the call at once, and a base URL pasted with
/// surrounding whitespace is read as the URL it is.
#[tokio::test]
async fn extreme_settings_neither_panic_nor_hang() {
    let server = MockServer::start_async().await;
    let list = server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(200)
                .json_body(fixture!("calls-list.response.json"));
        })
        .await;
    let unlimited = CloudflareClient::builder()
        .credentials(Credentials::api_token(TOKEN))
        .base_url(format!("  {}{CF_PREFIX}\n", server.base_url()))
        .connect_timeout(Duration::MAX)
        .request_timeout(Duration::MAX)
        .total_timeout(Duration::MAX)
        .retry(
            RetryConfig::default()
                .cap(Duration::MAX)
                .max_retry_after(Duration::MAX)
                .max_retries(u32::MAX),
        )
        .build()
        .unwrap();
    assert_eq!(unlimited.calls(ACCOUNT).list().await.unwrap().len(), 1);
    list.assert_calls_async(1).await;

    let started = Instant::now();
    let err = cf_builder(&server)
        .total_timeout(Duration::ZERO)
        .build()
        .unwrap()
        .calls(ACCOUNT)
        .list()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    // Nothing waits: a bound far from anything a zero deadline could take, loaded or not.
    assert!(started.elapsed() < Duration::from_secs(10));
    // A call whose deadline has passed sends nothing: the one request is the first client's.
    list.assert_calls_async(1).await;

    let hover = HoverClient::builder()
        .base_url(server.base_url())
        .credentials(HOVER_EMAIL, HOVER_PASSWORD)
        .request_timeout(Duration::MAX)
        .total_timeout(Duration::MAX)
        .login_cooldown(Duration::MAX)
        .build()
        .unwrap();
    // No login route on this server: the login fails (404), and the cooldown of MAX after a
    // rejection is not reached (404 is no rejection), so nothing overflows either.
    let err = hover.apps().get(&HoverAppId::new("1")).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

/// Header values are server text: a `cf-ray` that echoes the credential the server received,
/// or a redirect to a host named after it (which URL parsing lowercases, or writes in
/// punycode), never shows the credential in `Display`, `Debug`, `request_id`, the
/// `on_response` hook or `redirect_host`.
#[tokio::test]
async fn headers_that_echo_a_credential_are_scrubbed() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let hook = |seen: &Arc<Mutex<Vec<String>>>| {
        let seen = seen.clone();
        move |answer: &apps_api::ResponseInfo<'_>| {
            seen.lock()
                .unwrap()
                .extend(answer.request_id.map(str::to_string))
        }
    };
    let check = |err: &Error, secret: &str| {
        let shown = format!(
            "{err} {err:?} {:?} {:?}",
            err.request_id(),
            err.failure().and_then(|f| f.redirect_host.clone())
        )
        .to_ascii_lowercase();
        assert!(!shown.contains(&secret.to_ascii_lowercase()), "{shown}");
    };

    // A Hover password (short, not token-shaped) echoed in the login answer's `cf-ray`, as
    // sent and in another case.
    let password = "hunter2-pass";
    for echoed in [password.to_string(), password.to_ascii_uppercase()] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/authenticate");
                then.status(400)
                    .header("cf-ray", echoed.as_str())
                    .json_body(json!({"error": "x"}));
            })
            .await;
        let hover = hover_builder(&server)
            .credentials(HOVER_EMAIL, password)
            .on_response(hook(&seen))
            .build()
            .unwrap();
        let err = hover
            .apps()
            .get(&HoverAppId::new("43120"))
            .await
            .unwrap_err();
        check(&err, password);
    }

    // A Cloudflare token echoed in `cf-ray`, and as the host of a redirect.
    let token = "Mixed-Case-Token-77";
    let client = |server: &MockServer| {
        CloudflareClient::builder()
            .credentials(Credentials::api_token(token))
            .base_url(format!("{}{CF_PREFIX}", server.base_url()))
            .retry(RetryConfig::disabled())
            .on_response(hook(&seen))
            .build()
            .unwrap()
    };
    for (status, header, value) in [
        (400, "cf-ray", format!("{token}-DFW")),
        (400, "cf-ray", format!("ray {}", token.to_ascii_lowercase())),
        (301, "location", format!("https://{token}.evil.example/")),
        (302, "location", format!("https://x:443@{token}/")),
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.any_request();
                then.status(status)
                    .header(header, value.as_str())
                    .json_body(cf_failure(1000, "x"));
            })
            .await;
        let err = client(&server).calls(ACCOUNT).list().await.unwrap_err();
        check(&err, token);
        if (300..400).contains(&status) {
            // The host is still reported, without the secret.
            assert!(
                err.failure().unwrap().redirect_host.is_some(),
                "{value}: {err}"
            );
        }
    }
    // Hosts that hold a password as URL parsing rewrites it: punycode of a non-ASCII one,
    // Unicode case folding, a full-width form, and the piece before a `/` that ends a host.
    for (password, location) in [
        (
            "pässwort-9",
            format!("https://{}.evil.example/", idna_host("pässwort-9")),
        ),
        (
            "Überpass-2024",
            format!("http://{}.evil/", idna_host("Überpass-2024")),
        ),
        (
            "ＦｕｌｌＷｉｄｔｈ-pw",
            format!("http://{}.evil/", idna_host("ＦｕｌｌＷｉｄｔｈ-pw")),
        ),
        ("abcd/efgh-secret", "https://abcd/efgh-secret".to_string()),
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.any_request();
                then.status(301).header("location", location.as_str());
            })
            .await;
        let hover = hover_builder(&server)
            .credentials(HOVER_EMAIL, password)
            .build()
            .unwrap();
        let err = hover
            .apps()
            .get(&HoverAppId::new("43120"))
            .await
            .unwrap_err();
        let host = err.failure().unwrap().redirect_host.clone().unwrap();
        assert!(host.starts_with("[withheld"), "{password}: {host}");
    }

    let seen = seen.lock().unwrap().join(" ").to_ascii_lowercase();
    assert!(
        !seen.contains("hunter2-pass") && !seen.contains(&token.to_ascii_lowercase()),
        "{seen}"
    );
}

/// `label` as a URL host label writes it (punycode for non-ASCII).
fn idna_host(label: &str) -> String {
    url::Url::parse(&format!("https://{label}.example/"))
        .unwrap()
        .host_str()
        .unwrap()
        .trim_end_matches(".example")
        .to_string()
}
