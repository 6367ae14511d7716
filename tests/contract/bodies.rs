//! Answer bodies: over the size cap (with a length or chunked), claiming absurd lengths,
//! stalling, malformed or hostile: every case ends in a typed error or a correct value, within
//! the time limits.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use apps_api::{CallsAppId, Error, HoverAppId, RetryConfig};
use httpmock::Method::GET;
use httpmock::MockServer;
use serde_json::json;

use crate::support::*;

const APP: &str = "2a95132c15732412d22c1476fa83f27a";

#[tokio::test]
async fn a_body_over_the_cap_is_a_decode_error() {
    let server = MockServer::start_async().await;
    let big = format!(
        "{{\"success\":true,\"errors\":[],\"messages\":[],\"result\":[],\"pad\":\"{}\"}}",
        "x".repeat(4096)
    );
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(200).body(big);
        })
        .await;
    let client = cf_builder(&server).max_body_bytes(1024).build().unwrap();
    let err = client.calls(ACCOUNT).list().await.unwrap_err();
    // Another try would get the same body: it is not asked for again.
    mock.assert_calls_async(1).await;
    match err {
        Error::Decode {
            status: 200,
            reason,
            endpoint,
            ..
        } => {
            assert!(
                reason.contains("larger than the 1024 byte limit"),
                "{reason}"
            );
            assert_eq!(endpoint.operation, "calls-apps-list");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

/// A Cloudflare client of a raw server, with a 1 KiB cap, two retries whose waits are recorded,
/// and these time limits.
fn raw_client(
    server: &RawServer,
    request_timeout: Duration,
    total_timeout: Duration,
) -> apps_api::cloudflare::CloudflareClient {
    apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(TOKEN))
        .base_url(format!("{}{CF_PREFIX}", server.url))
        .max_body_bytes(1024)
        .retry(RetryConfig::default().max_retries(2))
        .sleeper(Arc::new(RecordingSleeper::default()))
        .request_timeout(request_timeout)
        .total_timeout(total_timeout)
        .build()
        .unwrap()
}

/// An answer with this status line and `Content-Length` whose body is `body`, and then nothing.
fn stalled(status: &str, length: u64, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
         location: https://elsewhere.example/\r\ncontent-length: {length}\r\n\r\n{body}"
    )
    .into_bytes()
}

/// A server claiming an absurd body length, sending 2 KiB of it and stalling, is not read to
/// its end: a success is a decode error naming the cap (nothing read), a redirect is reported
/// as one, with its host (its body never read), and neither is asked for twice. The longest
/// length, `u64::MAX`, hyper refuses as it reads the head: a lost answer, tried again as a reset
/// would be.
#[tokio::test]
async fn an_absurd_content_length_is_never_read() {
    let body = format!("{{\"a\": \"{}", "x".repeat(2048));
    for (status, length, requests) in [
        ("200 OK", 1 << 62, 1),
        ("301 Moved Permanently", 1 << 62, 1),
        ("200 OK", u64::MAX, 3),
    ] {
        let answer = stalled(status, length, &body);
        let server = RawServer::start(move |_| (answer.clone(), false)).await;
        let client = raw_client(&server, Duration::from_secs(30), Duration::from_secs(60));
        let result = tokio::time::timeout(Duration::from_secs(30), client.calls(ACCOUNT).list())
            .await
            .expect("the body was read");
        match (status, length, &result) {
            (_, u64::MAX, Err(Error::Transport { message, .. })) => {
                assert!(message.contains("message head is too large"), "{message}")
            }
            ("200 OK", _, Err(Error::Decode { reason, .. })) if length != u64::MAX => {
                assert!(reason.contains("1024 byte limit"), "{reason}")
            }
            ("301 Moved Permanently", _, Err(Error::Api(failure))) => {
                assert_eq!(failure.status, 301);
                assert_eq!(failure.redirect_host.as_deref(), Some("elsewhere.example"));
                assert_eq!(failure.body_snippet.as_deref().unwrap_or(""), "");
            }
            _ => panic!("{status} {length}: {result:?}"),
        }
        assert_eq!(server.requests.load(SeqCst), requests, "{status} {length}");
    }
}

/// A body that stops short of its length ends within the time limits whatever the status: a
/// redirect at once (its body is not read); an error answer, documented (418: 4XX) or not
/// (500), as a try that ran out, each read within its try (three tries of a GET); an answer no
/// operation documents (600), read after the tries, at the deadline. (Real time: the server is
/// a real socket. The limits are 1 s a try and 4 s in all; the bound checked is 20 s.)
#[tokio::test]
async fn a_stalled_body_ends_within_the_time_limits() {
    let second = Duration::from_secs(1);
    for (status, tries) in [
        ("302 Found", 1),
        ("500 Internal Server Error", 3),
        ("418 I'm a teapot", 3),
        ("600 Beyond", 1),
    ] {
        let answer = stalled(status, 100, "{\"a\":");
        let server = RawServer::start(move |_| (answer.clone(), false)).await;
        let client = raw_client(&server, second, 4 * second);
        let result = tokio::time::timeout(Duration::from_secs(20), client.calls(ACCOUNT).list())
            .await
            .unwrap_or_else(|_| panic!("{status}: the call did not end"));
        match (status, &result) {
            ("302 Found", Err(Error::Api(failure))) => {
                assert_eq!(failure.redirect_host.as_deref(), Some("elsewhere.example"))
            }
            ("600 Beyond", Err(Error::Timeout { after, .. })) => assert_eq!(*after, 4 * second),
            (_, Err(Error::Timeout { after, .. })) if tries == 3 => {
                assert_eq!(*after, second, "{status}")
            }
            _ => panic!("{status}: {result:?}"),
        }
        assert_eq!(server.requests.load(SeqCst), tries, "{status}");
    }
}

/// An error answer of unknown length (chunked) that never ends (2 KiB, then nothing, no last
/// chunk) is read to its first 1 KiB and no further: the 400 comes back at once, its snippet
/// cut from that start, asked for once.
#[tokio::test]
async fn an_endless_chunked_error_body_is_read_to_its_start_only() {
    let mut answer =
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..2 {
        answer.extend_from_slice(
            format!("400\r\n{}\r\n", &"bad request ".repeat(86)[..1024]).as_bytes(),
        );
    }
    let server = RawServer::start(move |_| (answer.clone(), false)).await;
    let client = raw_client(&server, Duration::from_secs(30), Duration::from_secs(60));
    let result = tokio::time::timeout(Duration::from_secs(20), client.calls(ACCOUNT).list())
        .await
        .expect("the call waited for the rest of the body");
    match &result {
        Err(Error::Api(failure)) => {
            assert_eq!(failure.status, 400);
            let snippet = failure.body_snippet.as_deref().unwrap_or("");
            assert!(snippet.starts_with("bad request bad request"), "{snippet}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests.load(SeqCst), 1);
}

/// An HTTP/1.1 200 answer whose JSON body comes in these chunks (no `Content-Length`).
fn chunked_200(chunks: &[&str]) -> Vec<u8> {
    let mut answer =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for chunk in chunks {
        answer.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    answer
}

/// A body of unknown length (chunked) is read up to the cap and no further: over it, in one
/// chunk or across several, it is a decode error; under it, in several chunks, it decodes.
#[tokio::test]
async fn a_chunked_body_over_the_cap_is_a_decode_error() {
    let list = fixture!("calls-list.response.json").to_string();
    let (head, tail) = list.split_at(list.len() / 2);
    let pad = "x".repeat(700);
    let padded =
        format!(r#"{{"success":true,"errors":[],"messages":[],"result":[],"pad":"{pad}{pad}"}}"#);
    let (first, second) = padded.split_at(700);
    for (chunks, over) in [
        (vec![padded.as_str()], true),
        (vec![first, second], true),
        (vec![head, tail], false),
    ] {
        let answer = chunked_200(&chunks);
        let server = RawServer::start(move |_| (answer.clone(), false)).await;
        let client = apps_api::cloudflare::CloudflareClient::builder()
            .credentials(apps_api::cloudflare::Credentials::api_token(TOKEN))
            .base_url(format!("{}{CF_PREFIX}", server.url))
            .max_body_bytes(1024)
            .retry(RetryConfig::disabled())
            .build()
            .unwrap();
        let result = client.calls(ACCOUNT).list().await;
        if over {
            assert!(
                matches!(&result, Err(Error::Decode { reason, .. }) if reason.contains("1024 byte limit")),
                "{chunks:?}: {result:?}"
            );
        } else {
            assert_eq!(result.unwrap().len(), 1, "{chunks:?}");
        }
    }
}

#[tokio::test]
async fn hostile_bodies_end_in_typed_errors() {
    let server = MockServer::start_async().await;
    let cases: Vec<(&str, u16, Vec<u8>, &str)> = vec![
        (
            "truncated",
            200,
            br#"{"success": true, "errors": [], "messa"#.to_vec(),
            "decode",
        ),
        (
            "wrong types",
            200,
            br#"{"success": "yes", "errors": {}, "messages": 3}"#.to_vec(),
            "decode",
        ),
        (
            "invalid utf-8",
            200,
            b"{\"success\": true, \"result\": \"\xff\xfe\"}".to_vec(),
            "decode",
        ),
        (
            "null result",
            200,
            br#"{"success": true, "errors": [], "messages": [], "result": null}"#.to_vec(),
            "decode",
        ),
        (
            "html page",
            200,
            b"<html><body>Welcome</body></html>".to_vec(),
            "decode",
        ),
        ("empty", 200, Vec::new(), "decode"),
        ("204", 204, Vec::new(), "decode"),
        (
            "unknown error shape",
            400,
            br#"{"oops": [1, 2, 3]}"#.to_vec(),
            "api",
        ),
        (
            "error envelope of wrong types",
            409,
            br#"{"errors": "nope"}"#.to_vec(),
            "api",
        ),
        ("html error", 418, b"<h1>I'm a teapot</h1>".to_vec(), "api"),
    ];
    let client = cf_no_retry(&server);
    for (name, status, body, expect) in cases {
        let mock = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(cf_path(&format!("/calls/apps/{APP}")));
                then.status(status).body(body.clone());
            })
            .await;
        let err = client
            .calls(ACCOUNT)
            .get(&CallsAppId::new(APP))
            .await
            .unwrap_err();
        let kind = match &err {
            Error::Decode { .. } => "decode",
            Error::Api(_) => "api",
            _ => "other",
        };
        assert_eq!(kind, expect, "{name}: {err:?}");
        assert_eq!(err.status(), Some(status), "{name}");
        assert!(!err.to_string().is_empty());
        mock.delete_async().await;
    }
}

#[tokio::test]
async fn extra_fields_and_missing_content_type_are_accepted() {
    let server = MockServer::start_async().await;
    let mut body = fixture!("hover-create.response.json");
    body["data"]["attributes"]["brand_new_attribute"] = json!({"nested": [1, 2]});
    body["meta"] = json!({"version": 2});
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/43120");
            // No content-type header, and text/plain would be read the same way.
            then.status(200).body(body.to_string());
        })
        .await;
    let app = hover_with_token(&server)
        .apps()
        .get(&HoverAppId::new("43120"))
        .await
        .unwrap();
    assert_eq!(app.name, "Example App");
}
