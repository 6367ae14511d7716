//! The fake as a product other languages drive over HTTP: the `/__fake` control API.

use apps_api::fake::FakeServer;
use reqwest::Method;
use serde_json::json;

use crate::support::{cf_base, raw, send};

fn control(fake: &FakeServer, path: &str) -> String {
    format!("{}/__fake{path}", fake.hover_base_url())
}

#[tokio::test]
async fn faults_injected_over_http_apply_then_clear() {
    let fake = FakeServer::start().await.unwrap();
    let (status, body) = send(
        Method::POST,
        &control(&fake, "/faults"),
        &[],
        Some(json!({"operation": "calls-apps-list", "count": 2, "fault": {"status": 503}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"operation": "calls-apps-list", "queued": 2}));
    let (_, state) = send(Method::GET, &control(&fake, "/state"), &[], None).await;
    assert_eq!(state["faults"]["calls-apps-list"], 2);

    let url = format!("{}/calls/apps", cf_base(&fake));
    let (status, body) = raw(&fake, Method::GET, url.clone(), None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["success"], false);

    let (status, _) = send(Method::DELETE, &control(&fake, "/faults"), &[], None).await;
    assert_eq!(status, 204);
    let (status, _) = raw(&fake, Method::GET, url, None).await;
    assert_eq!(status, 200, "the second fault was cleared");
}

#[tokio::test]
async fn every_fault_form_is_accepted_and_bad_ones_say_why() {
    let fake = FakeServer::start().await.unwrap();
    for fault in [
        json!({"status": 503}),
        json!({"rate_limited": {"retry_after_secs": 2}}),
        json!({"rate_limited": {}}),
        json!("malformed_body"),
        json!({"stall_ms": 2000}),
        json!("waf_block"),
        json!("success_false"),
        json!("closed_mid_body"),
        json!({"trickle_ms": 100}),
    ] {
        let (status, body) = send(
            Method::POST,
            &control(&fake, "/faults"),
            &[],
            Some(json!({"operation": "magic-account-apps-list-apps", "fault": fault})),
        )
        .await;
        assert_eq!(status, 201, "{fault}: {body}");
    }
    for (bad, says) in [
        (
            json!({"operation": "nope", "fault": {"status": 503}}),
            "unknown operation",
        ),
        (
            json!({"operation": "hover-apps-get", "fault": "explode"}),
            "unknown variant",
        ),
        (
            json!({"operation": "hover-apps-get"}),
            "missing field `fault`",
        ),
        (
            json!({"operation": "hover-apps-get", "count": 100000, "fault": "waf_block"}),
            "count must be",
        ),
        (
            json!({"operation": "hover-apps-get", "fault": {"status": 1000}}),
            "status must be",
        ),
        // A 1xx is no answer: hyper would send a 500 while the log said 100.
        (
            json!({"operation": "hover-apps-get", "fault": {"status": 100}}),
            "status must be 200 to 599",
        ),
        (
            json!({"operation": "hover-apps-get", "fault": "success_false"}),
            "has none",
        ),
        (
            json!({"operation": "hover-apps-get", "fault": {"stall_ms": 3600000}}),
            "stall_ms",
        ),
    ] {
        let (status, body) = send(
            Method::POST,
            &control(&fake, "/faults"),
            &[],
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(says), "{bad}: {message}");
    }
    let not_json = crate::support::http()
        .post(control(&fake, "/faults"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
}

#[tokio::test]
async fn reset_empties_the_store_and_state_shows_it_without_secrets() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let hover = fake.hover_client().unwrap();
    let created = cf
        .calls(fake.account_id())
        .create(Some("kept"))
        .await
        .unwrap();
    let app = hover
        .apps()
        .create(&apps_api::hover::NewHoverApp::new("h", "com.x").webhook_url("https://x.example"))
        .await
        .unwrap();
    let (status, state) = send(Method::GET, &control(&fake, "/state"), &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(state["cloudflare"]["calls_apps"][0]["name"], "kept");
    assert_eq!(
        state["hover"]["apps"][0]["attributes"]["token"],
        "[redacted]"
    );
    let text = state.to_string();
    assert!(!text.contains(created.secret.expose()));
    assert!(!text.contains(app.token.as_ref().unwrap().expose()));
    assert!(!text.contains(app.webhook_secret.as_ref().unwrap().expose()));

    let (status, _) = send(Method::POST, &control(&fake, "/reset"), &[], None).await;
    assert_eq!(status, 204);
    let (_, state) = send(Method::GET, &control(&fake, "/state"), &[], None).await;
    assert_eq!(state["cloudflare"]["calls_apps"], json!([]));
    assert_eq!(state["hover"]["apps"], json!([]));
    // Clients stay logged in.
    assert!(cf.calls(fake.account_id()).list().await.unwrap().is_empty());
}

#[tokio::test]
async fn requests_are_logged_with_secrets_redacted_over_http() {
    let fake = FakeServer::start().await.unwrap();
    let hover = fake.hover_client().unwrap();
    hover.authenticate().await.unwrap();
    let local = fake.requests();
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].operation, "hover-authenticate");
    assert_eq!(
        local[0].request.as_ref().unwrap()["password"],
        fake.hover_password().expose()
    );
    let (_, log) = send(Method::GET, &control(&fake, "/requests"), &[], None).await;
    let entry = &log["requests"][0];
    assert_eq!(entry["operation"], "hover-authenticate");
    assert_eq!(entry["request"]["password"], "[redacted]");
    assert_eq!(entry["response"]["auth_token"], "[redacted]");
    assert!(!log.to_string().contains(fake.hover_password().expose()));

    let (status, body) = send(Method::GET, &control(&fake, "/nope"), &[], None).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("POST /__fake/faults"),
        "{body}"
    );
}

#[tokio::test]
async fn hover_tokens_expire_over_http() {
    let fake = FakeServer::start().await.unwrap();
    let hover = fake.hover_client().unwrap();
    hover.authenticate().await.unwrap();
    let (status, _) = send(
        Method::POST,
        &control(&fake, "/expire-hover-tokens"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 204);
    let err = hover
        .apps()
        .get(&apps_api::HoverAppId::new("1"))
        .await
        .unwrap_err();
    // Logged in again (a 401, then a new login), then the app is not found.
    assert!(matches!(err, apps_api::Error::NotFound(_)), "{err:?}");
    let statuses: Vec<(String, u16)> = fake
        .requests()
        .iter()
        .map(|r| (r.operation.to_string(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("hover-authenticate".to_string(), 200),
            ("hover-apps-get".into(), 401),
            ("hover-authenticate".into(), 200),
            ("hover-apps-get".into(), 404)
        ]
    );
}

/// No web page can reset a developer's fake or queue faults in it: the control API refuses what
/// a browser sends on a page's behalf, and DNS rebinding.
#[tokio::test]
async fn web_pages_cannot_drive_the_control_api() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    cf.calls(fake.account_id())
        .create(Some("kept"))
        .await
        .unwrap();
    let reset = control(&fake, "/reset");
    let (status, body) = send(
        Method::POST,
        &reset,
        &[("origin", "https://evil.example")],
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = send(
        Method::POST,
        &reset,
        &[("host", "rebound.evil.example")],
        None,
    )
    .await;
    assert_eq!(status, 403);
    // Every place a request names its host: two Host headers, an absolute-form target, none.
    let port = fake.address().port();
    for request in [
        format!("POST /__fake/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\nContent-Length: 0\r\n\r\n"),
        format!("POST /__fake/reset HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"),
        format!("POST http://evil.example/__fake/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"),
        "POST /__fake/reset HTTP/1.1\r\nContent-Length: 0\r\n\r\n".to_string(),
        "POST /__fake/reset HTTP/1.0\r\nContent-Length: 0\r\n\r\n".to_string(),
    ] {
        let status = raw_status(&fake, &request).await;
        assert!(status == 403 || status == 400, "{status}: {request:?}");
    }
    // None of them reset anything.
    assert_eq!(cf.calls(fake.account_id()).list().await.unwrap().len(), 1);
    let (status, _) = send(Method::POST, &reset, &[], None).await;
    assert_eq!(status, 204);
    assert!(cf.calls(fake.account_id()).list().await.unwrap().is_empty());
}

/// Sends `request` as it is over a new connection and returns the status of the answer.
async fn raw_status(fake: &FakeServer, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(fake.address())
        .await
        .unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        match socket.read(&mut answer[read..]).await.unwrap() {
            0 => break,
            n => read += n,
        }
    }
    let head = String::from_utf8_lossy(&answer[..read]);
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"))
}

/// The log over HTTP hides a revoke's TURN username, which its path carries.
#[tokio::test]
async fn the_request_log_hides_turn_usernames() {
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let key = cf.turn_keys(fake.account_id()).create(None).await.unwrap();
    let turn = fake
        .turn_credentials(key.turn_key.id.clone().unwrap(), key.key.clone())
        .unwrap();
    let ice = turn
        .ice_servers(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let username = ice.username().unwrap();
    turn.revoke(&username).await.unwrap();
    let (_, log) = send(Method::GET, &control(&fake, "/requests"), &[], None).await;
    let text = log.to_string();
    assert!(!text.contains(username.as_str()), "{text}");
    assert!(text.contains("credentials/[redacted]/revoke"), "{text}");
}

/// The rate limit over HTTP: set, enforced per credential with both headers on every answer,
/// shown in the state, lifted; bad settings say why.
#[tokio::test]
async fn the_rate_limit_is_set_over_http_and_kept_per_credential() {
    let fake = FakeServer::start().await.unwrap();
    let limit = control(&fake, "/rate-limit");
    for bad in [
        json!({"requests": 0, "window_secs": 60}),
        json!({"requests": 3, "window_secs": 0}),
        json!({"requests": 3}),
        json!({"requests": 3, "window_secs": 60, "burst": 1}),
    ] {
        let (status, body) = send(Method::POST, &limit, &[], Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["error"].as_str().is_some(), "{body}");
    }
    let set = json!({"requests": 2, "window_secs": 60});
    let (status, _) = send(Method::POST, &limit, &[], Some(set)).await;
    assert_eq!(status, 204);
    let (_, state) = send(Method::GET, &control(&fake, "/state"), &[], None).await;
    assert_eq!(
        state["rate_limit"],
        json!({"requests": 2, "window_secs": 60.0})
    );

    let url = format!("{}/calls/apps", cf_base(&fake));
    let token = format!("Bearer {}", fake.cloudflare_token().expose());
    // (status, Ratelimit, Ratelimit-Policy, Retry-After) and the body.
    let get = || async {
        let response = crate::support::http()
            .get(&url)
            .header("authorization", &token)
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            let value = response.headers().get(name);
            value.map(|v| v.to_str().unwrap().to_string())
        };
        let seen = (
            response.status().as_u16(),
            header("ratelimit").unwrap_or_default(),
            header("ratelimit-policy").unwrap_or_default(),
            header("retry-after"),
        );
        let body: serde_json::Value = response.json().await.unwrap();
        (seen, body)
    };
    let policy = "\"default\";q=2;w=60".to_string();
    let ((status, limit_header, policy_header, _), _) = get().await;
    assert_eq!((status, policy_header.as_str()), (200, policy.as_str()));
    assert!(
        limit_header.starts_with("\"default\";r=1;t="),
        "{limit_header}"
    );
    let ((status, limit_header, _, _), _) = get().await;
    assert_eq!(status, 200);
    assert!(
        limit_header.starts_with("\"default\";r=0;t="),
        "{limit_header}"
    );
    let ((status, limit_header, policy_header, retry_after), body) = get().await;
    assert_eq!((status, &body["errors"][0]["code"]), (429, &json!(971)));
    assert_eq!(limit_header, "\"default\";r=0;t=60");
    assert_eq!((policy_header, retry_after), (policy, Some("60".into())));
    // Blocked for the window: still refused.
    assert_eq!(get().await.0 .0, 429);
    // The global key is another credential, with a window of its own.
    let magic = format!("{}/magic/apps", cf_base(&fake));
    let key = [
        ("x-auth-email", fake.cloudflare_email()),
        ("x-auth-key", fake.cloudflare_key().expose()),
    ];
    let (status, _) = send(Method::GET, &magic, &key, None).await;
    assert_eq!(status, 200);
    let (status, _) = send(Method::DELETE, &limit, &[], None).await;
    assert_eq!(status, 204);
    let ((status, limit_header, _, _), _) = get().await;
    assert_eq!((status, limit_header.as_str()), (200, ""));
}
