//! Hover apps: each operation's request as the server saw it (bare JWT in `Authorization`,
//! JSON:API bodies), the flattened values returned, and login / re-login on 401.

use apps_api::hover::{HoverAppChanges, HoverClient, NewHoverApp};
use apps_api::{Error, HoverAppId};
use httpmock::Method::{DELETE, GET, PATCH, POST, PUT};
use httpmock::MockServer;
use serde_json::json;

use crate::support::*;

/// How the tests call each operation ([`crate::drivers`]).
pub(crate) fn drivers() -> Vec<crate::drivers::Driver> {
    use crate::drivers::drive;
    vec![
        drive!(HOVER_APPS_CREATE, |h, _ids| h
            .hover
            .apps()
            .create(&NewHoverApp::new("n", "com.example"))),
        drive!(HOVER_APPS_GET, |h, ids| h
            .hover
            .apps()
            .get(&HoverAppId::new(&ids["id"]))),
        drive!(HOVER_APPS_UPDATE, |h, ids| h.hover.apps().update(
            &HoverAppId::new(&ids["id"]),
            &HoverAppChanges::new().name("n")
        )),
        drive!(HOVER_APPS_ARCHIVE, |h, ids| h
            .hover
            .apps()
            .archive(&HoverAppId::new(&ids["id"]))),
        drive!(HOVER_APPS_RESTORE, |h, ids| h
            .hover
            .apps()
            .restore(&HoverAppId::new(&ids["id"]))),
        drive!(HOVER_AUTHENTICATE, |h, _ids| h.hover_login.authenticate()),
    ]
}

fn assert_created_app(app: &apps_api::hover::HoverApp) {
    assert_eq!(app.id, HoverAppId::new("43120"));
    assert_eq!(app.name, "Example App");
    assert_eq!(app.package_name, "com.example.app");
    assert_eq!(app.icon.as_deref(), Some("noimg.svg"));
    assert_eq!(
        app.token.as_ref().map(|t| t.expose()),
        Some("49addc974685a64b2c2a75a72b7aa1dc")
    );
    assert_eq!(app.webhook_url.as_deref(), Some("https://example.com/app"));
    assert_eq!(
        app.webhook_secret.as_ref().map(|t| t.expose()),
        Some("9a62320275d84bb241a0d34d11a1b27a")
    );
    assert_eq!(app.organization_id, Some(62));
    assert_eq!(app.created_at, Some(ts("2020-08-05T07:12:14Z")));
    assert_eq!(app.archived_at, None);
    assert_eq!(app.transactions_count, Some(0));
    assert_eq!(app.is_tester, Some(false));
    assert_eq!(app.apk_url, None);
}

#[tokio::test]
async fn create() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/apps")
                .header("authorization", HOVER_JWT)
                .header("content-type", "application/json")
                .header("user-agent", USER_AGENT)
                .json_body(fixture!("hover-create.request.json"));
            then.status(201)
                .json_body(fixture!("hover-create.response.json"));
        })
        .await;
    let app = hover_with_token(&server)
        .apps()
        .create(
            &NewHoverApp::new("Example App", "com.example.app")
                .webhook_url("https://example.com/app"),
        )
        .await
        .unwrap();
    mock.assert_async().await;
    assert_created_app(&app);
    assert_ran(&apps_api::operations::HOVER_APPS_CREATE);
}

#[tokio::test]
async fn get() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/apps/783038")
                .header("authorization", HOVER_JWT)
                .header_missing("content-type");
            then.status(200)
                .json_body(fixture!("hover-app-object.response.json"));
        })
        .await;
    let app = hover_with_token(&server)
        .apps()
        .get(&HoverAppId::new("783038"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(app.id.as_str(), "783038");
    assert_eq!(app.name, "Hover Runner");
    assert_eq!(app.webhook_url, None);
    assert_eq!(app.webhook_secret, None);
    assert_ran(&apps_api::operations::HOVER_APPS_GET);
}

#[tokio::test]
async fn update_sends_only_the_changes() {
    let server = MockServer::start_async().await;
    let mut updated = fixture!("hover-create.response.json");
    updated["data"]["attributes"]["package_name"] = json!("com.example.app.v1");
    let mock = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/apps/43120")
                .header("authorization", HOVER_JWT)
                .header("content-type", "application/json")
                .json_body(fixture!("hover-update.request.json"));
            then.status(200).json_body(updated);
        })
        .await;
    let app = hover_with_token(&server)
        .apps()
        .update(
            &HoverAppId::new("43120"),
            &HoverAppChanges::new().package_name("com.example.app.v1"),
        )
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(app.package_name, "com.example.app.v1");
    assert_ran(&apps_api::operations::HOVER_APPS_UPDATE);
}

#[tokio::test]
async fn update_can_clear_the_webhook_url() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path("/api/apps/43120")
                .json_body(json!({"app": {"webhook_url": null}}));
            then.status(200)
                .json_body(fixture!("hover-app-object.response.json"));
        })
        .await;
    hover_with_token(&server)
        .apps()
        .update(
            &HoverAppId::new("43120"),
            &HoverAppChanges::new().clear_webhook_url(),
        )
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn archive() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path("/api/apps/43120")
                .header("authorization", HOVER_JWT);
            then.status(200)
                .json_body(fixture!("hover-archive.response.json"));
        })
        .await;
    let archived = hover_with_token(&server)
        .apps()
        .archive(&HoverAppId::new("43120"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!((archived.id, archived.archived), (43120, true));
    assert_ran(&apps_api::operations::HOVER_APPS_ARCHIVE);
}

#[tokio::test]
async fn restore() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path("/api/apps/43120/restore")
                .header("authorization", HOVER_JWT);
            then.status(200)
                .json_body(fixture!("hover-create.response.json"));
        })
        .await;
    let app = hover_with_token(&server)
        .apps()
        .restore(&HoverAppId::new("43120"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_created_app(&app);
    assert_ran(&apps_api::operations::HOVER_APPS_RESTORE);
}

async fn mock_login<'a>(server: &'a MockServer, jwt: &str) -> httpmock::Mock<'a> {
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/authenticate")
                .header("content-type", "application/json")
                .header_missing("authorization")
                .json_body(json!({"email": HOVER_EMAIL, "password": HOVER_PASSWORD}));
            then.status(200).json_body(json!({"auth_token": jwt}));
        })
        .await
}

#[tokio::test]
async fn authenticate_then_call_with_the_token() {
    let server = MockServer::start_async().await;
    let login = mock_login(&server, "jwt-from-login").await;
    let get = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/apps/43120")
                .header("authorization", "jwt-from-login");
            then.status(200)
                .json_body(fixture!("hover-create.response.json"));
        })
        .await;
    let hover = hover_with_password(&server);
    hover.apps().get(&HoverAppId::new("43120")).await.unwrap();
    hover.apps().get(&HoverAppId::new("43120")).await.unwrap();
    login.assert_calls_async(1).await;
    get.assert_calls_async(2).await;
    assert_ran(&apps_api::operations::HOVER_AUTHENTICATE);
}

#[tokio::test]
async fn login_failure_is_an_auth_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/authenticate");
            then.status(401)
                .json_body(json!({"error": "Invalid email or password"}));
        })
        .await;
    let err = HoverClient::builder()
        .base_url(server.base_url())
        .credentials(HOVER_EMAIL, HOVER_PASSWORD)
        .build()
        .unwrap()
        .authenticate()
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Auth(f) if f.status == 401), "{err:?}");
    assert!(
        err.to_string().contains("Invalid email or password"),
        "{err}"
    );
    assert!(!err.to_string().contains(HOVER_PASSWORD));
}

/// Logs in once with an old token, then swaps the login answer to a new token.
async fn client_holding_old_token(server: &MockServer) -> HoverClient {
    let old = mock_login(server, "jwt-old").await;
    // No cooldown: these tests log in and meet a 401 moments later, which a real client
    // answers with the 401 (a token that fresh would not be helped by another login).
    let hover = hover_builder(server)
        .credentials(HOVER_EMAIL, HOVER_PASSWORD)
        .login_cooldown(std::time::Duration::ZERO)
        .build()
        .unwrap();
    hover.authenticate().await.unwrap();
    old.delete_async().await;
    hover
}

#[tokio::test]
async fn a_401_with_credentials_logs_in_once_and_retries_once() {
    let server = MockServer::start_async().await;
    let hover = client_holding_old_token(&server).await;
    let relogin = mock_login(&server, "jwt-new").await;
    let expired = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/apps/43120")
                .header("authorization", "jwt-old");
            then.status(401)
                .json_body(json!({"error": "Signature has expired"}));
        })
        .await;
    let fresh = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/apps/43120")
                .header("authorization", "jwt-new");
            then.status(200)
                .json_body(fixture!("hover-create.response.json"));
        })
        .await;
    let app = hover.apps().get(&HoverAppId::new("43120")).await.unwrap();
    assert_created_app(&app);
    relogin.assert_calls_async(1).await;
    expired.assert_calls_async(1).await;
    fresh.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_second_401_is_returned() {
    let server = MockServer::start_async().await;
    let hover = client_holding_old_token(&server).await;
    let relogin = mock_login(&server, "jwt-new").await;
    let denied = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/43120");
            then.status(401)
                .json_body(json!({"error": "Not Authorized"}));
        })
        .await;
    let err = hover
        .apps()
        .get(&HoverAppId::new("43120"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Auth(f) if f.status == 401), "{err:?}");
    relogin.assert_calls_async(1).await;
    denied.assert_calls_async(2).await;
}

#[tokio::test]
async fn a_401_with_a_bare_token_is_returned_without_login() {
    let server = MockServer::start_async().await;
    let login = mock_login(&server, "jwt-new").await;
    let denied = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/43120");
            then.status(401)
                .json_body(json!({"error": "Not Authorized"}));
        })
        .await;
    let err = hover_with_token(&server)
        .apps()
        .get(&HoverAppId::new("43120"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Auth(f) if f.status == 401), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("Hover rejected the credentials: Not Authorized on GET /api/apps/43120, HTTP 401")
    );
    login.assert_calls_async(0).await;
    denied.assert_calls_async(1).await;
}

#[tokio::test]
async fn concurrent_401s_cause_one_login() {
    let server = MockServer::start_async().await;
    let hover = client_holding_old_token(&server).await;
    let relogin = mock_login(&server, "jwt-new").await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/apps/43120")
                .header("authorization", "jwt-old");
            then.status(401);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/apps/43120")
                .header("authorization", "jwt-new");
            then.status(200)
                .json_body(fixture!("hover-create.response.json"));
        })
        .await;
    let id = HoverAppId::new("43120");
    let apps = hover.apps();
    let calls = (0..8).map(|_| apps.get(&id));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    relogin.assert_calls_async(1).await;
}

#[tokio::test]
async fn empty_changes_are_rejected_before_sending() {
    let server = MockServer::start_async().await;
    let err = hover_with_token(&server)
        .apps()
        .update(&HoverAppId::new("1"), &HoverAppChanges::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

/// Issue 11: 50 callers and a wrong password used to send 50 logins, enough to lock an
/// account. Now one login is sent, its rejection is every caller's, and no second login
/// follows within the cooldown.
#[tokio::test]
async fn fifty_concurrent_calls_with_a_wrong_password_send_one_login() {
    let server = MockServer::start_async().await;
    let login = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/authenticate");
            then.status(401)
                .json_body(json!({"error": "Invalid email or password"}));
        })
        .await;
    let apps_mock = server
        .mock_async(|when, then| {
            when.path_prefix("/api/apps");
            then.status(200)
                .json_body(fixture!("hover-create.response.json"));
        })
        .await;
    let hover = hover_with_password(&server);
    let id = HoverAppId::new("43120");
    let apps = hover.apps();
    let results = futures_util::future::join_all((0..50).map(|_| apps.get(&id))).await;
    for result in &results {
        assert!(
            matches!(result, Err(Error::Auth(f)) if f.endpoint.operation == "hover-authenticate"),
            "{result:?}"
        );
    }
    login.assert_calls_async(1).await;
    // A caller arriving after the rejection gets it too, without a new login.
    let late = hover.apps().get(&id).await.unwrap_err();
    assert!(matches!(late, Error::Auth(_)), "{late:?}");
    hover.authenticate().await.unwrap_err();
    login.assert_calls_async(1).await;
    apps_mock.assert_calls_async(0).await;
}

/// The same storm after a password rotation: 50 calls holding a token all get 401, one
/// re-login is sent and fails, and all 50 get its rejection.
#[tokio::test]
async fn fifty_401s_after_a_password_rotation_send_one_login() {
    let server = MockServer::start_async().await;
    let hover = client_holding_old_token(&server).await;
    let rotated = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/authenticate");
            then.status(401)
                .json_body(json!({"error": "Invalid email or password"}));
        })
        .await;
    let expired = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/43120");
            then.status(401)
                .json_body(json!({"error": "Signature has expired"}));
        })
        .await;
    let id = HoverAppId::new("43120");
    let apps = hover.apps();
    let results = futures_util::future::join_all((0..50).map(|_| apps.get(&id))).await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(Error::Auth(f)) if f.endpoint.operation == "hover-authenticate")));
    rotated.assert_calls_async(1).await;
    expired.assert_calls_async(50).await;
}

/// A cooldown of zero lets the next call try again: the cooldown, not chance, is what held
/// the second login back above.
#[tokio::test]
async fn without_a_cooldown_the_next_call_logs_in_again() {
    let server = MockServer::start_async().await;
    let login = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/authenticate");
            then.status(401);
        })
        .await;
    let hover = hover_builder(&server)
        .credentials(HOVER_EMAIL, HOVER_PASSWORD)
        .login_cooldown(std::time::Duration::ZERO)
        .build()
        .unwrap();
    hover.authenticate().await.unwrap_err();
    hover.authenticate().await.unwrap_err();
    login.assert_calls_async(2).await;
}

/// A responder for Hover on tokio's clock: the login answers `login` after `delay`; everything
/// else answers 404. It counts what it is sent.
#[cfg(feature = "test-util")]
fn hover_script(
    login: u16,
    delay: std::time::Duration,
) -> (
    crate::support::in_process::Responder,
    crate::support::in_process::Counts,
) {
    use crate::support::in_process::*;
    let counts = Counts::default();
    let seen = counts.clone();
    let responder = Responder::from_async(move |request| {
        seen.add(&request);
        let answer = if request.uri().path() == "/api/authenticate" {
            let body = if login == 200 {
                r#"{"auth_token": "jwt-0123456789"}"#
            } else {
                r#"{"error": "Invalid email or password"}"#
            };
            json_response(login, body)
        } else {
            json_response(404, r#"{"error": "Not Found"}"#)
        };
        after(delay, answer)
    });
    (responder, counts)
}

/// The login runs under the calling handle's limits: a login that hangs ends with the
/// handle's timeout, not the client's 60 s. (Virtual time: the login would answer after 30 s.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn the_login_honours_the_handles_timeout() {
    use std::time::Duration;
    let (responder, _) = hover_script(200, Duration::from_secs(30));
    let hover = crate::support::in_process::hover(responder)
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = hover
        .apps()
        .timeout(Duration::from_millis(300))
        .get(&HoverAppId::new("43120"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { endpoint, after } if endpoint.operation == "hover-authenticate"
            && *after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    let started = tokio::time::Instant::now();
    let err = hover
        .apps()
        .total_timeout(Duration::from_millis(200))
        .get(&HoverAppId::new("43120"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(200));
}

/// After a re-login, an answer that echoes the earlier token is scrubbed of it too.
#[tokio::test]
async fn earlier_tokens_are_scrubbed_after_a_relogin() {
    let server = MockServer::start_async().await;
    // Not shaped like a token run or a JWT, so only the remembered list can catch it.
    let old = "old!tok3n~v1";
    let login_old = mock_login(&server, old).await;
    let hover = hover_builder(&server)
        .credentials(HOVER_EMAIL, HOVER_PASSWORD)
        .login_cooldown(std::time::Duration::ZERO)
        .build()
        .unwrap();
    hover.authenticate().await.unwrap();
    login_old.delete_async().await;
    mock_login(&server, "fresh-token-9876543210").await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/apps/43120")
                .header("authorization", old);
            then.status(401);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/apps/43120")
                .header("authorization", "fresh-token-9876543210");
            then.status(500).body(format!(
                "debug: previous={old} current=fresh-token-9876543210"
            ));
        })
        .await;
    let err = hover
        .apps()
        .get(&HoverAppId::new("43120"))
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("old!tok3n~v1"), "{shown}");
    assert!(!shown.contains("fresh-token-9876543210"), "{shown}");
}

/// A password with `"`, `\` and two spaces, echoed by the server in JSON (escaped), in cut
/// JSON and in HTML, never reaches an error. Before, the body was re-serialised (or its
/// whitespace collapsed) before the password was looked for, and such passwords survived.
#[tokio::test]
async fn a_password_with_quotes_backslashes_and_spaces_is_scrubbed() {
    let password = r#"pa"ss\wo  rd<&>"#;
    let escaped = serde_json::to_string(password).unwrap();
    let escaped = &escaped[1..escaped.len() - 1];
    for (status, body) in [
        (401, format!(r#"{{"error": "wrong password {escaped}"}}"#)),
        (
            401,
            format!(r#"{{"error": "wrong password {escaped} and more"#),
        ),
        (502, format!("<p>login failed for password {password}</p>")),
        (
            502,
            format!(
                "<p>{}</p>",
                password
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
            ),
        ),
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/authenticate");
                then.status(status).body(body.clone());
            })
            .await;
        let hover = hover_builder(&server)
            .credentials(HOVER_EMAIL, password)
            .build()
            .unwrap();
        let err = hover.authenticate().await.unwrap_err();
        let shown = format!("{err} {err:?}");
        for needle in [password, escaped, "pa\"ss", "wo  rd", "wo rd"] {
            assert!(!shown.contains(needle), "{needle:?} in {shown}");
        }
    }
}

/// Hover documents no status codes: every operation takes any 2xx with its body. A 204 can
/// carry no body (HTTP forbids it, and the client does not read one), so an operation that
/// returns something answers it with a decode error saying the body is empty.
#[tokio::test]
async fn every_operation_accepts_any_2xx() {
    let document = fixture!("hover-create.response.json");
    let archived = json!({"id": 43120, "archived": true});
    for status in [200u16, 201, 202, 204] {
        let server = MockServer::start_async().await;
        for (method, path, body) in [
            (
                POST,
                "/api/authenticate",
                json!({"auth_token": "jwt-from-login"}),
            ),
            (POST, "/api/apps", document.clone()),
            (GET, "/api/apps/43120", document.clone()),
            (PATCH, "/api/apps/43120", document.clone()),
            (DELETE, "/api/apps/43120", archived.clone()),
            (PUT, "/api/apps/43120/restore", document.clone()),
        ] {
            server
                .mock_async(|when, then| {
                    when.method(method).path(path);
                    then.status(status).json_body(body);
                })
                .await;
        }
        let login = hover_with_password(&server);
        let hover = hover_with_token(&server);
        let apps = hover.apps();
        let id = HoverAppId::new("43120");
        let results = [
            login.authenticate().await.map(drop),
            apps.create(&NewHoverApp::new("n", "p")).await.map(drop),
            apps.get(&id).await.map(drop),
            apps.update(&id, &HoverAppChanges::new().name("n"))
                .await
                .map(drop),
            apps.archive(&id).await.map(drop),
            apps.restore(&id).await.map(drop),
        ];
        for (i, result) in results.into_iter().enumerate() {
            if status == 204 {
                assert!(
                    matches!(&result, Err(Error::Decode { status: 204, reason, .. }) if reason == "the body is empty"),
                    "op {i}: {result:?}"
                );
            } else {
                assert!(result.is_ok(), "HTTP {status}, op {i}: {result:?}");
            }
        }
    }
}

/// The review's login storms, each pinned: a login is sent once (a 429 is its answer, not a
/// reason to send the password again).
#[tokio::test]
async fn a_login_is_sent_once_even_on_429() {
    let server = MockServer::start_async().await;
    let login = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/authenticate");
            then.status(429).header("retry-after", "0");
        })
        .await;
    let hover = hover_with_password(&server);
    let err = hover.apps().get(&HoverAppId::new("1")).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited(_)), "{err:?}");
    login.assert_calls_async(1).await;
}

/// The cooldown runs from when the rejection arrived, not from when the login was sent: a
/// slow rejection does not use up the cooldown. (Virtual time: the rejection comes at 0.5 s;
/// no login is sent before 0.8 s, one is at 0.8 s.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn the_cooldown_counts_from_the_rejection() {
    use std::time::Duration;
    let (responder, counts) = hover_script(401, Duration::from_millis(500));
    let hover = crate::support::in_process::hover(responder)
        .login_cooldown(Duration::from_millis(300))
        .build()
        .unwrap();
    hover.authenticate().await.unwrap_err();
    tokio::time::sleep(Duration::from_millis(299)).await;
    hover.authenticate().await.unwrap_err();
    assert_eq!(counts.of("/api/authenticate"), 1, "within the cooldown");
    tokio::time::sleep(Duration::from_millis(1)).await;
    hover.authenticate().await.unwrap_err();
    assert_eq!(counts.of("/api/authenticate"), 2, "the cooldown is over");
}

/// A login that failed without a rejection (a 503, not a 401 or 429) starts no cooldown: the
/// next request logs in again at once. (Virtual time.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn a_failed_login_that_was_no_rejection_starts_no_cooldown() {
    let (responder, counts) = hover_script(503, std::time::Duration::ZERO);
    let hover = crate::support::in_process::hover(responder)
        .login_cooldown(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let err = hover.authenticate().await.unwrap_err();
    assert!(matches!(err, Error::Api(_)), "{err:?}");
    hover.authenticate().await.unwrap_err();
    assert_eq!(counts.of("/api/authenticate"), 2);
}

/// Each rejection in a row doubles the cooldown, up to 5 minutes (or the first cooldown, if
/// that is longer); a successful login starts it over. (Virtual time.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn the_cooldown_doubles_with_each_rejection_up_to_five_minutes() {
    use std::time::Duration;
    let (responder, counts) = hover_script(401, Duration::ZERO);
    let hover = crate::support::in_process::hover(responder)
        .login_cooldown(Duration::from_secs(60))
        .build()
        .unwrap();
    let logins = || counts.of("/api/authenticate");
    hover.authenticate().await.unwrap_err();
    // After the n-th rejection: 60, 120, 240 s, then 300 s (the cap) every time.
    for (n, cooldown) in [(1, 60), (2, 120), (3, 240), (4, 300), (5, 300)] {
        assert_eq!(logins(), n);
        tokio::time::sleep(Duration::from_secs(cooldown) - Duration::from_millis(1)).await;
        let err = hover.authenticate().await.unwrap_err();
        assert!(matches!(err, Error::Auth(_)), "{err:?}");
        assert_eq!(logins(), n, "still within the cooldown of {cooldown} s");
        tokio::time::sleep(Duration::from_millis(1)).await;
        hover.authenticate().await.unwrap_err();
    }
}

/// Callers that give up (a short timeout, a cancelled future) cannot leave a login
/// unrecorded: the one login goes on, later callers join it or get its rejection. (Virtual
/// time: the rejection comes after 0.8 s.)
#[cfg(feature = "test-util")]
#[tokio::test(start_paused = true)]
async fn callers_that_give_up_do_not_cause_more_logins() {
    use std::time::Duration;
    let (responder, counts) = hover_script(401, Duration::from_millis(800));
    let hover = crate::support::in_process::hover(responder)
        .build()
        .unwrap();
    let id = HoverAppId::new("1");
    for _ in 0..4 {
        let err = hover
            .apps()
            .timeout(Duration::from_millis(100))
            .get(&id)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    }
    let _ = tokio::time::timeout(Duration::from_millis(100), hover.apps().get(&id)).await;
    // The login, still under way, ends at 0.8 s.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = hover.apps().get(&id).await.unwrap_err();
    assert!(
        matches!(err, Error::Auth(_)),
        "the recorded rejection: {err:?}"
    );
    assert_eq!(counts.of("/api/authenticate"), 1);
}

/// A server that rejects every token cannot make each call log in again: a 401 on a token
/// issued moments ago is returned as it is.
#[tokio::test]
async fn a_server_rejecting_every_token_cannot_force_logins() {
    let server = MockServer::start_async().await;
    let login = mock_login(&server, "jwt-fresh").await;
    let rejected = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/1");
            then.status(401)
                .json_body(json!({"error": "Not Authorized"}));
        })
        .await;
    let hover = hover_with_password(&server);
    for _ in 0..10 {
        let err = hover.apps().get(&HoverAppId::new("1")).await.unwrap_err();
        assert!(matches!(&err, Error::Auth(f) if f.status == 401), "{err:?}");
    }
    login.assert_calls_async(1).await;
    rejected.assert_calls_async(10).await;
}
