//! Everything emitted through `tracing` during every operation and every error path: one
//! span per call with the operation, and no secret anywhere in it.
//!
//! Its own test binary: tracing caches per call site whether anyone listens, process-wide, so a
//! subscriber set for one test is only reliable when no other test runs beside it.

#[path = "contract/support.rs"]
#[allow(dead_code)]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use apps_api::cloudflare::magic::{MagicAppChanges, NewMagicApp};
use apps_api::hover::{HoverAppChanges, NewHoverApp};
use apps_api::{CallsAppId, HoverAppId, MagicAppId};
use httpmock::Method::{DELETE, GET, PATCH, POST, PUT};
use httpmock::MockServer;
use serde_json::json;
use tracing_subscriber::fmt::format::FmtSpan;

use support::fixture;
use support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SECRETS: &[&str] = &[
    TOKEN,
    HOVER_JWT,
    HOVER_PASSWORD,
    "jwt-after-login-0123456789",
    "66bcf64aa8907b9f9d90ac17746a77ce394c393b92b3916633dc02846e608ad4",
    "49addc974685a64b2c2a75a72b7aa1dc",
    "9a62320275d84bb241a0d34d11a1b27a",
];

#[tokio::test]
async fn nothing_secret_is_ever_logged() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start_async().await;
    let magic_app = json!({"success": true, "errors": [], "messages": [{"code": 1, "message": "note"}],
        "result": {"account_app_id": "m1", "name": "n"}});
    let cases: Vec<(httpmock::Method, String, u16, serde_json::Value)> = vec![
        (
            GET,
            cf_path("/calls/apps"),
            200,
            fixture!("calls-list.response.json"),
        ),
        (
            POST,
            cf_path("/calls/apps"),
            201,
            fixture!("calls-create.response.json"),
        ),
        (
            GET,
            cf_path("/calls/apps/a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"),
            200,
            fixture!("calls-get.response.json"),
        ),
        (
            PUT,
            cf_path("/calls/apps/a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"),
            200,
            fixture!("calls-update.response.json"),
        ),
        (
            DELETE,
            cf_path("/calls/apps/a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"),
            200,
            fixture!("calls-delete.response.json"),
        ),
        (
            GET,
            cf_path("/magic/apps"),
            200,
            json!({"success": true, "errors": [], "messages": [], "result": []}),
        ),
        (POST, cf_path("/magic/apps"), 201, magic_app.clone()),
        (PUT, cf_path("/magic/apps/m1"), 200, magic_app.clone()),
        (PATCH, cf_path("/magic/apps/m1"), 200, magic_app.clone()),
        (DELETE, cf_path("/magic/apps/m1"), 200, magic_app),
        (
            POST,
            "/api/authenticate".into(),
            200,
            json!({"auth_token": "jwt-after-login-0123456789"}),
        ),
        (
            POST,
            "/api/apps".into(),
            201,
            fixture!("hover-create.response.json"),
        ),
        (
            GET,
            "/api/apps/1".into(),
            200,
            fixture!("hover-create.response.json"),
        ),
        (
            PATCH,
            "/api/apps/1".into(),
            200,
            fixture!("hover-create.response.json"),
        ),
        (
            DELETE,
            "/api/apps/1".into(),
            200,
            fixture!("hover-archive.response.json"),
        ),
        (
            PUT,
            "/api/apps/1/restore".into(),
            200,
            fixture!("hover-create.response.json"),
        ),
        // Error paths: an envelope, an echoing HTML page, a 401 that triggers a re-login.
        (
            GET,
            cf_path("/calls/apps/e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"),
            403,
            cf_failure(10000, "Authentication error"),
        ),
        (
            GET,
            "/api/apps/401".into(),
            401,
            json!({"error": format!("expired {HOVER_JWT} jwt-after-login-0123456789")}),
        ),
    ];
    for (method, path, status, body) in cases {
        server
            .mock_async(|when, then| {
                when.method(method).path(path);
                then.status(status)
                    .header("cf-ray", "ray-123")
                    .json_body(body);
            })
            .await;
    }
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/502");
            then.status(502)
                .body(format!("<html>echo {TOKEN} {HOVER_PASSWORD}</html>"));
        })
        .await;

    let cf = cf(&server);
    let (calls, magic) = (cf.calls(ACCOUNT), cf.magic(ACCOUNT));
    let id = CallsAppId::new("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
    calls.list().await.unwrap();
    calls.create(Some("x")).await.unwrap();
    calls.get(&id).await.unwrap();
    calls.update(&id, Some("x")).await.unwrap();
    calls.delete(&id).await.unwrap();
    calls
        .get(&CallsAppId::new("e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"))
        .await
        .unwrap_err();
    let mid = MagicAppId::new("m1");
    magic.list().await.unwrap();
    magic
        .create(&NewMagicApp::new("n", "t").hostnames(["h"]))
        .await
        .unwrap();
    magic
        .update(&mid, &MagicAppChanges::new().name("n"))
        .await
        .unwrap();
    magic
        .patch(&mid, &MagicAppChanges::new().name("n"))
        .await
        .unwrap();
    magic.delete(&mid).await.unwrap();

    let hover = hover_with_password(&server);
    let apps = hover.apps();
    let hid = HoverAppId::new("1");
    apps.create(&NewHoverApp::new("n", "p")).await.unwrap();
    apps.get(&hid).await.unwrap();
    apps.update(&hid, &HoverAppChanges::new().name("n"))
        .await
        .unwrap();
    apps.archive(&hid).await.unwrap();
    apps.restore(&hid).await.unwrap();
    apps.get(&HoverAppId::new("401")).await.unwrap_err();
    apps.get(&HoverAppId::new("502")).await.unwrap_err();

    // Short credentials shaped like nothing, echoed in a Cloudflare message (logged at INFO),
    // an error message and `cf-ray`: only the client's knowing them keeps them out of the log.
    let short_token = "t0k 3n!";
    let short_password = "pa55 w0rd";
    let echoing = MockServer::start_async().await;
    echoing
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/magic/apps"));
            then.status(200)
                .header("cf-ray", format!("{short_token}-DFW"))
                .json_body(json!({
                    "success": true, "errors": [], "result": [],
                    "messages": [{"code": 1, "message": format!("saw {short_token}")}]
                }));
        })
        .await;
    echoing
        .mock_async(|when, then| {
            when.method(POST).path("/api/authenticate");
            then.status(400)
                .header("cf-ray", format!("{short_password}-DFW"))
                .json_body(json!({"error": format!("saw {short_password}")}));
        })
        .await;
    apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(short_token))
        .base_url(format!("{}{CF_PREFIX}", echoing.base_url()))
        .build()
        .unwrap()
        .magic(ACCOUNT)
        .list()
        .await
        .unwrap();
    apps_api::hover::HoverClient::builder()
        .credentials(HOVER_EMAIL, short_password)
        .base_url(echoing.base_url())
        .build()
        .unwrap()
        .apps()
        .get(&HoverAppId::new("1"))
        .await
        .unwrap_err();

    // A request that waits for the rate budget says so, with the wait (real time: a budget of
    // one request per 200 ms, and two requests).
    let budgeted = apps_api::cloudflare::CloudflareClient::builder()
        .credentials(apps_api::cloudflare::Credentials::api_token(TOKEN))
        .base_url(format!("{}{CF_PREFIX}", server.base_url()))
        .rate_budget(Some(apps_api::Quota::new(
            1,
            std::time::Duration::from_millis(200),
        )))
        .build()
        .unwrap();
    for _ in 0..2 {
        budgeted.calls(ACCOUNT).list().await.unwrap();
    }

    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    for echoed in ["saw [redacted]", "cf_ray=\"[redacted]-DFW\""] {
        assert!(logged.contains(echoed), "missing {echoed:?} in:\n{logged}");
    }
    for short in [short_token, short_password] {
        assert!(!logged.contains(short), "{short} was logged:\n{logged}");
    }
    // The span carries what a reader needs.
    for expected in [
        "apps_api.request",
        "operation=\"calls-apps-list\"",
        "operation=\"magic-account-apps-patch-app\"",
        "operation=\"hover-apps-restore\"",
        "operation=\"hover-authenticate\"",
        "path=\"/accounts/{account_id}/calls/apps\"",
        &format!("account_id=\"{ACCOUNT}\""),
        "attempt=3",
        "status=403",
        "cf_ray=\"ray-123\"",
        "Cloudflare message",
        "request failed",
        "waiting for the rate budget wait_ms=",
    ] {
        assert!(
            logged.contains(expected),
            "missing {expected:?} in:\n{logged}"
        );
    }
    for secret in SECRETS {
        assert!(!logged.contains(secret), "{secret} was logged:\n{logged}");
    }
}
