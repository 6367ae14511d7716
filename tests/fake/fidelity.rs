//! The fake answers like the real services: routing errors, both Cloudflare auth
//! schemes, explicit nulls, expiring JWTs, whole-second timestamps, bounded input, and the
//! fault kinds as the edge sends them.

use std::time::Duration;

use apps_api::cloudflare::magic::NewMagicApp;
use apps_api::fake::{FakeConfig, FakeServer, Fault};
use apps_api::hover::{HoverClient, NewHoverApp};
use apps_api::{CallsAppId, Error, RetryConfig};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{cf_base, raw, send};

fn codes(body: &Value) -> Vec<i64> {
    body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["code"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn unknown_routes_get_cloudflare_envelopes_under_client_v4() {
    let fake = FakeServer::start().await.unwrap();
    let base = cf_base(&fake);
    let app = "2a95132c15732412d22c1476fa83f27a";
    for (method, url) in [
        (Method::GET, format!("{base}/calls/nope")),
        (
            Method::GET,
            format!("{}/nothing/here", fake.cloudflare_base_url()),
        ),
        (Method::GET, fake.cloudflare_base_url()),
        // Wrong methods on known paths.
        (Method::PATCH, format!("{base}/calls/apps/{app}")),
        (Method::DELETE, format!("{base}/calls/apps")),
        (Method::GET, format!("{base}/magic/apps/{app}")),
        (Method::POST, format!("{base}/magic/apps/{app}")),
    ] {
        let (status, body) = raw(&fake, method.clone(), url.clone(), None).await;
        assert_eq!(status, 400, "{method} {url}: {body}");
        assert_eq!(codes(&body), [7003, 7000], "{method} {url}: {body}");
        assert_eq!(body["success"], false);
        assert!(body["result"].is_null());
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Could not route to /") && message.ends_with("invalid?"),
            "{message}"
        );
    }
    // A known route whose identifier is not one: 404 with a single 7003 naming the path.
    for url in [
        format!("{base}/calls/apps/short"),
        format!(
            "{}/accounts/not-an-account!/calls/apps",
            fake.cloudflare_base_url()
        ),
    ] {
        let (status, body) = raw(&fake, Method::GET, url.clone(), None).await;
        assert_eq!((status, codes(&body)), (404, vec![7003]), "{url}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("/client/v4/accounts/"), "{message}");
    }
    // Under /api errors are Hover-shaped.
    for (method, path) in [(Method::GET, "/api/nothing"), (Method::PATCH, "/api/apps")] {
        let url = format!("{}{path}", fake.hover_base_url());
        let (status, body) = send(method.clone(), &url, &[], None).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(
            body["error"],
            format!("No route matches [{method}] \"{path}\""),
            "{body}"
        );
    }
}

#[tokio::test]
async fn every_cloudflare_answer_has_a_cf_ray_and_a_json_body() {
    let fake = FakeServer::start().await.unwrap();
    for url in [
        format!("{}/calls/apps", cf_base(&fake)),
        format!("{}/calls/nope", cf_base(&fake)),
    ] {
        for auth in ["", "Bearer wrong", "Token x"] {
            let response = crate::support::http()
                .get(&url)
                .header("authorization", auth)
                .send()
                .await
                .unwrap();
            assert!(response.headers().contains_key("cf-ray"), "{url} {auth}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["success"], false, "{url} {auth}");
        }
    }
}

/// Magic takes a bearer token or email + key; Calls takes tokens only, and the client refuses
/// before sending when it holds the key.
#[tokio::test]
async fn magic_takes_both_schemes_and_calls_only_tokens() {
    let fake = FakeServer::start_with(
        FakeConfig::new().cloudflare_key("ops@example.com", "k3y-0123456789"),
    )
    .await
    .unwrap();
    assert_eq!(fake.cloudflare_email(), "ops@example.com");
    let keyed = fake.cloudflare_key_client().unwrap();
    let magic = keyed.magic(fake.account_id());
    let app = magic
        .create(&NewMagicApp::new("Dash", "Development").hostnames(["a.example"]))
        .await
        .unwrap();
    assert!(magic
        .list()
        .await
        .unwrap()
        .iter()
        .any(|i| i.as_account_app() == Some(&app)));

    let before = fake.requests().len();
    let err = keyed.calls(fake.account_id()).list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("Calls accepts only API tokens")),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), before, "nothing was sent");

    let url = format!("{}/calls/apps", cf_base(&fake));
    let key_headers = [
        ("x-auth-email", "ops@example.com"),
        ("x-auth-key", "k3y-0123456789"),
    ];
    let (status, body) = send(Method::GET, &url, &key_headers, None).await;
    assert_eq!((status, codes(&body)), (403, vec![10000]), "{body}");
    let magic_url = format!("{}/magic/apps", cf_base(&fake));
    let (status, _) = send(Method::GET, &magic_url, &key_headers, None).await;
    assert_eq!(status, 200);
    let wrong_key = [("x-auth-email", "ops@example.com"), ("x-auth-key", "wrong")];
    let (status, body) = send(Method::GET, &magic_url, &wrong_key, None).await;
    assert_eq!((status, codes(&body)), (403, vec![9103]), "{body}");
    let (status, body) = send(Method::GET, &url, &[], None).await;
    assert_eq!((status, codes(&body)), (400, vec![9106]), "{body}");
    let (status, body) = send(Method::GET, &url, &[("authorization", "Token abc")], None).await;
    assert_eq!((status, codes(&body)), (400, vec![6003]), "{body}");
    assert_eq!(body["errors"][0]["error_chain"][0]["code"], 6111);
    let (status, body) = send(
        Method::GET,
        &url,
        &[("authorization", "Bearer wrong")],
        None,
    )
    .await;
    assert_eq!((status, codes(&body)), (403, vec![10000]), "{body}");
}

/// Attributes the documents show as `null` are sent as `null`, not left out.
#[tokio::test]
async fn hover_nulls_are_explicit() {
    let fake = FakeServer::start().await.unwrap();
    let (_, login) = send(
        Method::POST,
        &format!("{}/api/authenticate", fake.hover_base_url()),
        &[],
        Some(json!({"email": fake.hover_email(), "password": fake.hover_password().expose()})),
    )
    .await;
    let jwt = login["auth_token"].as_str().unwrap();
    let (status, created) = send(
        Method::POST,
        &format!("{}/api/apps", fake.hover_base_url()),
        &[("authorization", jwt)],
        Some(json!({"app": {"name": "n", "package_name": "p"}})),
    )
    .await;
    assert_eq!(status, 201);
    let attributes = created["data"]["attributes"].as_object().unwrap();
    for key in ["archived_at", "apk_url", "webhook_url", "webhook_secret"] {
        assert_eq!(attributes.get(key), Some(&Value::Null), "{key}: {created}");
    }
}

/// Hover JWTs expire: a client built from email and password logs in again, one built from a
/// token gets Hover's 401.
#[tokio::test]
async fn hover_tokens_expire() {
    let fake = FakeServer::start().await.unwrap();
    let hover = fake.hover_client().unwrap();
    let app = hover
        .apps()
        .create(&NewHoverApp::new("n", "com.example"))
        .await
        .unwrap();
    let (_, login) = send(
        Method::POST,
        &format!("{}/api/authenticate", fake.hover_base_url()),
        &[],
        Some(json!({"email": fake.hover_email(), "password": fake.hover_password().expose()})),
    )
    .await;
    let token_client = HoverClient::builder()
        .token(login["auth_token"].as_str().unwrap())
        .base_url(fake.hover_base_url())
        .build()
        .unwrap();
    token_client.apps().get(&app.id).await.unwrap();

    fake.expire_hover_tokens();
    let err = token_client.apps().get(&app.id).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(f) if f.status == 401)
            && err.to_string().contains("Signature has expired"),
        "{err}"
    );
    // The password client logs in again, transparently.
    assert_eq!(hover.apps().get(&app.id).await.unwrap().id, app.id);
    let logins = fake
        .requests()
        .iter()
        .filter(|r| r.operation == "hover-authenticate" && r.status == 200)
        .count();
    assert_eq!(logins, 3, "first login, the raw one, the re-login");
}

/// The fake's clock is real here (a real server): the lifetime is 3 s so that the first call is
/// well within it on a loaded machine; the second waits past it, which is never too early.
#[tokio::test]
async fn the_token_lifetime_is_settable_and_written_in_the_jwt() {
    let fake = FakeServer::start_with(FakeConfig::new().hover_token_ttl(Duration::from_secs(3)))
        .await
        .unwrap();
    let (_, login) = send(
        Method::POST,
        &format!("{}/api/authenticate", fake.hover_base_url()),
        &[],
        Some(json!({"email": fake.hover_email(), "password": fake.hover_password().expose()})),
    )
    .await;
    let jwt = login["auth_token"].as_str().unwrap().to_string();
    let payload = jwt.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now + 2..=now + 3).contains(&exp), "exp {exp}, now {now}");
    let url = format!("{}/api/apps/1", fake.hover_base_url());
    let (status, _) = send(Method::GET, &url, &[("authorization", &jwt)], None).await;
    assert_eq!(status, 404, "valid token, no such app");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (status, body) = send(Method::GET, &url, &[("authorization", &jwt)], None).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("Signature has expired"))
    );
}

#[tokio::test]
async fn timestamps_are_whole_seconds() {
    let fake = FakeServer::start().await.unwrap();
    let (_, created) = raw(
        &fake,
        Method::POST,
        format!("{}/calls/apps", cf_base(&fake)),
        Some(json!({"name": "n"})),
    )
    .await;
    for field in ["created", "modified"] {
        let text = created["result"][field].as_str().unwrap();
        assert!(
            text.ends_with('Z') && !text.contains('.'),
            "{field}: {text}"
        );
    }
}

#[tokio::test]
async fn oversized_bodies_and_a_full_store_are_refused() {
    let fake = FakeServer::start().await.unwrap();
    let url = format!("{}/calls/apps", cf_base(&fake));
    let (status, body) = raw(
        &fake,
        Method::POST,
        url.clone(),
        Some(json!({"name": "x".repeat(20 * 1024)})),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["success"], false);
    // The Realtime data plane takes a browser's session description of a call of many, and
    // refuses past that in its own error shape.
    let sfu = format!(
        "{}/apps/0123456789abcdef0123456789abcdef/sessions/new",
        fake.realtime_base_url()
    );
    let sdp = |kib: usize| {
        Some(json!({"sessionDescription": {"type": "offer", "sdp": "x".repeat(kib * 1024)}}))
    };
    let (status, body) = raw(&fake, Method::POST, sfu.clone(), sdp(64)).await;
    assert_eq!(status, 401, "read, then refused for its credential: {body}");
    let (status, body) = raw(&fake, Method::POST, sfu, sdp(300)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["errorCode"], "payload_too_large");
    // Within the request limit but over what the fake keeps of one item.
    let (status, body) = raw(
        &fake,
        Method::POST,
        url.clone(),
        Some(json!({"name": "x".repeat(9 * 1024)})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("a limit of the fake"),
        "{body}"
    );
    // Counted as written: a control character is six bytes of JSON (`\u0001`).
    let (status, body) = raw(
        &fake,
        Method::POST,
        url.clone(),
        Some(json!({"name": "\u{1}".repeat(2_000)})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let mut refused = None;
    for i in 0..2_001 {
        let (status, body) = raw(
            &fake,
            Method::POST,
            url.clone(),
            Some(json!({"name": i.to_string()})),
        )
        .await;
        if status != 201 {
            refused = Some((i, status, body));
            break;
        }
    }
    let (at, status, body) = refused.expect("the store is bounded");
    assert_eq!((at, status), (2_000, 507), "{body}");
    fake.reset();
    let (status, _) = raw(&fake, Method::POST, url, Some(json!({}))).await;
    assert_eq!(status, 201);
}

/// A fault waits for a request that would have been served: an unauthenticated request (a
/// stray client, a port scanner) does not use it up.
#[tokio::test]
async fn faults_are_consumed_only_by_authenticated_requests() {
    let fake = FakeServer::start().await.unwrap();
    fake.inject_fault("calls-apps-list", 1, Fault::Status(418))
        .unwrap();
    let url = format!("{}/calls/apps", cf_base(&fake));
    let (status, _) = send(
        Method::GET,
        &url,
        &[("authorization", "Bearer wrong")],
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(Method::GET, &url, &[], None).await;
    assert_eq!(status, 400);
    let err = fake
        .cloudflare_client()
        .unwrap()
        .calls(fake.account_id())
        .list()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(418));

    fake.inject_fault("hover-authenticate", 1, Fault::Status(500))
        .unwrap();
    let wrong = HoverClient::builder()
        .credentials(fake.hover_email(), "wrong")
        .base_url(fake.hover_base_url())
        .build()
        .unwrap();
    assert_eq!(wrong.authenticate().await.unwrap_err().status(), Some(401));
    let right = fake.hover_client().unwrap();
    assert_eq!(right.authenticate().await.unwrap_err().status(), Some(500));
    right.authenticate().await.unwrap();
}

/// Each fault kind reaches the client as the real edge would send it.
#[tokio::test]
async fn fault_kinds_reach_the_client_as_the_edge_sends_them() {
    let fake = FakeServer::start().await.unwrap();
    let cf = apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::ApiToken(
            fake.cloudflare_token().clone(),
        ))
        .base_url(fake.cloudflare_base_url())
        .retry(RetryConfig::disabled())
        // Real time (a real server): 2 s is far more than a 55-byte body trickled at 1 ms a
        // byte takes on a loaded machine, and far less than one trickled at 200 ms a byte.
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let calls = cf.calls(fake.account_id());

    // Edge block page: an API error carrying the page's start and the cf-ray, not a
    // credentials problem.
    fake.inject_fault("calls-apps-list", 1, Fault::WafBlock)
        .unwrap();
    let err = calls.list().await.unwrap_err();
    assert!(matches!(&err, Error::Api(f) if f.status == 403), "{err:?}");
    assert!(err.request_id().is_some_and(|r| r.ends_with("-FAKE")));
    assert!(
        err.to_string().contains("Sorry, you have been blocked"),
        "{err}"
    );

    fake.inject_fault("calls-apps-list", 1, Fault::SuccessFalse)
        .unwrap();
    let err = calls.list().await.unwrap_err();
    assert!(matches!(&err, Error::Api(f) if f.status == 200), "{err:?}");
    assert_eq!(err.codes(), [10001]);

    fake.inject_fault(
        "calls-apps-list",
        1,
        Fault::RateLimited { retry_after: None },
    )
    .unwrap();
    let err = calls.list().await.unwrap_err();
    assert!(matches!(&err, Error::RateLimited(_)), "{err:?}");
    assert_eq!(err.retry_after(), None);
    assert_eq!(err.codes(), [971]);

    // Closed mid-body: a GET is tried again (with retries on), a POST is not.
    let retrying = fake.cloudflare_client().unwrap();
    fake.inject_fault("calls-apps-list", 1, Fault::ClosedMidBody)
        .unwrap();
    retrying.calls(fake.account_id()).list().await.unwrap();
    fake.inject_fault("calls-apps-create-a-new-app", 1, Fault::ClosedMidBody)
        .unwrap();
    let err = retrying
        .calls(fake.account_id())
        .create(None)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Transport { .. }), "{err:?}");

    // A trickle slower than the per-try limit times out; a quick one arrives whole.
    fake.inject_fault(
        "calls-apps-list",
        1,
        Fault::Trickle(Duration::from_millis(200)),
    )
    .unwrap();
    let err = calls.list().await.unwrap_err();
    assert!(matches!(&err, Error::Timeout { .. }), "{err:?}");
    fake.inject_fault(
        "calls-apps-list",
        1,
        Fault::Trickle(Duration::from_millis(1)),
    )
    .unwrap();
    calls.list().await.unwrap();

    let err = calls
        .get(&CallsAppId::new("00000000000000000000000000000000"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)));
}

/// The store holds at most 8 MiB in all (about as JSON), whatever mix of items fills it, so no
/// list or state answer grows past it; a full store answers 507 until reset.
#[tokio::test]
async fn the_store_is_bounded_in_bytes() {
    let fake = FakeServer::start().await.unwrap();
    let url = format!("{}/magic/apps", cf_base(&fake));
    let app = |i: usize| json!({"name": format!("{i}{}", "n".repeat(7_000)), "type": "Development", "hostnames": []});
    let mut created = 0;
    let refused = loop {
        let (status, body) = raw(&fake, Method::POST, url.clone(), Some(app(created))).await;
        if status != 201 {
            break (status, body);
        }
        created += 1;
        assert!(created <= 2_000, "the store is bounded in bytes");
    };
    assert_eq!(refused.0, 507, "{}", refused.1);
    // About 8 MiB of 7 KiB apps.
    assert!((1_000..1_300).contains(&created), "{created}");
    let (_, state) = send(
        Method::GET,
        &format!("{}/__fake/state", fake.hover_base_url()),
        &[],
        None,
    )
    .await;
    assert!(state.to_string().len() < 9 * 1024 * 1024);
}

/// The request log keeps bodies as bytes and at most 8 MiB of them: a flood of large requests
/// pushes the oldest out.
#[tokio::test]
async fn the_request_log_is_bounded_in_bytes() {
    let fake = FakeServer::start().await.unwrap();
    let url = format!("{}/magic/apps", cf_base(&fake));
    let body = json!(vec!["x".repeat(14); 950]);
    let client = crate::support::http();
    for _ in 0..700 {
        // Unauthenticated: refused, but logged.
        let status = client.post(&url).json(&body).send().await.unwrap().status();
        assert_eq!(status, 400);
    }
    let log = fake.requests();
    let kept: usize = log
        .iter()
        .map(|r| r.request.as_ref().map_or(0, |b| b.to_string().len()))
        .sum();
    assert!(log.len() < 700, "{}", log.len());
    assert!(kept <= apps_api::fake::REMEMBERED_BYTES, "{kept}");
}

/// The request log keeps only small bodies: an answer over 64 KiB (a big list, asked for again
/// and again) is logged without its body.
#[tokio::test]
async fn the_request_log_keeps_only_small_bodies() {
    let fake = FakeServer::start().await.unwrap();
    let url = format!("{}/calls/apps", cf_base(&fake));
    for i in 0..12 {
        let (status, _) = raw(
            &fake,
            Method::POST,
            url.clone(),
            Some(json!({"name": format!("{i}{}", "x".repeat(7_500))})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (status, body) = raw(&fake, Method::GET, url, None).await;
    assert_eq!(
        (status, body["result"].as_array().unwrap().len()),
        (200, 12)
    );
    let last = fake.requests().pop().unwrap();
    assert_eq!((last.operation, last.status), ("calls-apps-list", 200));
    assert!(
        last.response.is_none(),
        "a 90 KiB answer is logged without its body"
    );
}

/// An operation is served only under its own API's prefix (the base path its spec's server
/// has): a TURN key's mint under `/client/v4`, a Calls list under `/v1`, a Hover read under
/// either, each with credentials that would pass there, reach no operation.
#[tokio::test]
async fn an_operation_is_served_only_under_its_own_apis_prefix() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let key = cf.turn_keys(fake.account_id()).create(None).await.unwrap();
    let (key_id, turn_key) = (key.turn_key.id.clone().unwrap(), key.key.clone());
    let before = fake.requests().len();
    let bearer = |secret: &str| format!("Bearer {secret}");
    let account = fake.account_id();
    let cloudflare = fake.cloudflare_base_url();
    let realtime = fake.realtime_base_url();
    let cases = [
        (
            Method::POST,
            format!("{cloudflare}/turn/keys/{key_id}/credentials/generate-ice-servers"),
            bearer(turn_key.expose()),
        ),
        (
            Method::GET,
            format!("{realtime}/accounts/{account}/calls/apps"),
            bearer(fake.cloudflare_token().expose()),
        ),
        (
            Method::GET,
            format!("{cloudflare}/api/apps/43120"),
            bearer(fake.cloudflare_token().expose()),
        ),
        (
            Method::GET,
            format!("{realtime}/api/apps/43120"),
            bearer(fake.cloudflare_token().expose()),
        ),
    ];
    for (method, url, auth) in cases {
        let body = (method == Method::POST).then(|| json!({"ttl": 60}));
        let (status, answer) = send(method, &url, &[("authorization", &auth)], body).await;
        assert!((400..500).contains(&status), "{url}: {status} {answer}");
    }
    let served: Vec<&str> = fake.requests()[before..]
        .iter()
        .map(|r| r.operation)
        .filter(|op| !op.is_empty())
        .collect();
    assert!(served.is_empty(), "served as operations: {served:?}");
}

/// A fault for an operationId the specs do not have (Hover's names before they carried their
/// API's) is refused, naming the ones the fake serves; nothing is queued.
#[tokio::test]
async fn a_fault_for_a_retired_operation_name_is_refused() {
    let fake = FakeServer::start().await.unwrap();
    for old in ["get-app", "authenticate", "create-app"] {
        let refused = fake.inject_fault(old, 1, Fault::Status(503)).unwrap_err();
        let message = refused.to_string();
        assert!(message.contains("unknown operation"), "{message}");
        assert!(message.contains("hover-apps-get"), "{message}");
    }
    let hover = fake.hover_client().unwrap();
    let created = hover
        .apps()
        .create(&NewHoverApp::new("n", "com.example.n"))
        .await;
    assert!(created.is_ok(), "a fault was queued after all: {created:?}");
}
