//! Secrets never appear in `Debug` or `Display` output of any type that holds one.

use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::hover::HoverClient;
use apps_api::{HoverAppId, Secret};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;

use crate::support::*;

const SECRETS: &[&str] = &[
    TOKEN,
    HOVER_JWT,
    HOVER_PASSWORD,
    "global-key-0123456789",
    "66bcf64aa8907b9f9d90ac17746a77ce394c393b92b3916633dc02846e608ad4",
    "49addc974685a64b2c2a75a72b7aa1dc",
    "9a62320275d84bb241a0d34d11a1b27a",
];

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks {secret}: {text}");
    }
}

#[test]
fn secret_debug_and_display_are_pinned() {
    let secret = Secret::new(TOKEN);
    assert_eq!(format!("{secret:?}"), "[redacted]");
    assert_eq!(format!("{secret}"), "[redacted]");
    assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
}

#[test]
fn credentials_clients_and_builders() {
    let token = Credentials::api_token(TOKEN);
    let key = Credentials::api_key("admin@example.com", "global-key-0123456789");
    assert_eq!(format!("{token:?}"), "ApiToken([redacted])");
    assert_eq!(
        format!("{key:?}"),
        r#"ApiKey { email: "admin@example.com", key: [redacted] }"#
    );
    let cf_builder = CloudflareClient::builder().credentials(token);
    assert_clean("CloudflareClientBuilder", &format!("{cf_builder:?}"));
    let cf = cf_builder.build().unwrap();
    assert_clean("CloudflareClient", &format!("{cf:?} {:#?}", cf));

    let with_token = HoverClient::builder().token(HOVER_JWT);
    assert_clean("HoverClientBuilder", &format!("{with_token:?}"));
    assert_clean("HoverClient", &format!("{:?}", with_token.build().unwrap()));
    let with_password = HoverClient::builder().credentials(HOVER_EMAIL, HOVER_PASSWORD);
    assert_clean("HoverClientBuilder", &format!("{with_password:#?}"));
    assert_clean(
        "HoverClient",
        &format!("{:#?}", with_password.build().unwrap()),
    );
}

#[tokio::test]
async fn models_holding_secrets() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(201)
                .json_body(fixture!("calls-create.response.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/43120");
            then.status(200)
                .json_body(fixture!("hover-create.response.json"));
        })
        .await;
    let created = cf(&server).calls(ACCOUNT).create(None).await.unwrap();
    assert_clean("CreatedCallsApp", &format!("{created:?} {created:#?}"));
    let app = hover_with_token(&server)
        .apps()
        .get(&HoverAppId::new("43120"))
        .await
        .unwrap();
    assert!(app.token.is_some() && app.webhook_secret.is_some());
    assert_clean("HoverApp", &format!("{app:?} {app:#?}"));
}

#[tokio::test]
async fn errors_never_echo_secrets_from_bodies() {
    let server = MockServer::start_async().await;
    // A server that echoes the credentials and the app's secrets back in an error page.
    let echo = format!(
        "<html>bad request from token {TOKEN} secret 66bcf64aa8907b9f9d90ac17746a77ce394c393b92b3916633dc02846e608ad4</html>"
    );
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(400).body(echo.clone());
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/apps/1");
            then.status(422).json_body(serde_json::json!({
                "error": format!("bad token {HOVER_JWT}"),
                "token": "49addc974685a64b2c2a75a72b7aa1dc",
                "webhook_secret": "9a62320275d84bb241a0d34d11a1b27a"
            }));
        })
        .await;
    let cf_err = cf(&server).calls(ACCOUNT).list().await.unwrap_err();
    let hover_err = hover_with_token(&server)
        .apps()
        .get(&HoverAppId::new("1"))
        .await
        .unwrap_err();
    for err in [cf_err, hover_err] {
        assert!(err.status().is_some(), "{err:?}");
        assert_clean("Error", &format!("{err} {err:?} {err:#?}"));
    }
}

/// Each kind of client removes its own credentials from what a server echoes, even when they
/// are short and shaped like nothing (no long token run, no JWT, not under a secret-named key):
/// only knowing them finds them. The server echoes them in a JSON error message, in an HTML
/// page and in `cf-ray`.
#[tokio::test]
async fn every_client_removes_its_own_short_credentials() {
    use apps_api::cloudflare::turn::TurnCredentials;
    let bodies = |secret: &str| {
        [
            serde_json::json!({
                "success": false,
                "errors": [{"code": 1000, "message": format!("you sent {secret}, sadly")}],
                "messages": [],
                "result": null
            })
            .to_string(),
            format!("<html><p>you sent {secret}, sadly</p></html>"),
        ]
    };
    for (kind, secret) in [
        ("cloudflare token", "t0k 3n!"),
        ("cloudflare key", "k3y 0f m1ne"),
        ("hover token", "jwt 1s sh0rt"),
        ("hover password", "pa55 w0rd"),
        ("turn key", "turn k3y"),
    ] {
        for body in bodies(secret) {
            let server = MockServer::start_async().await;
            server
                .mock_async(|when, then| {
                    when.any_request();
                    then.status(400)
                        .header("cf-ray", format!("{secret}-DFW"))
                        .body(body.clone());
                })
                .await;
            let base = server.base_url();
            let err = match kind {
                "cloudflare token" | "cloudflare key" => {
                    let credentials = if kind == "cloudflare token" {
                        Credentials::api_token(secret)
                    } else {
                        Credentials::api_key("ops@example.com", secret)
                    };
                    let cf = CloudflareClient::builder()
                        .credentials(credentials)
                        .base_url(format!("{base}{CF_PREFIX}"))
                        .build()
                        .unwrap();
                    cf.magic(ACCOUNT).list().await.unwrap_err()
                }
                "hover token" | "hover password" => {
                    let builder = HoverClient::builder().base_url(&base);
                    let builder = if kind == "hover token" {
                        builder.token(secret)
                    } else {
                        builder.credentials(HOVER_EMAIL, secret)
                    };
                    let hover = builder.build().unwrap();
                    hover.apps().get(&HoverAppId::new("1")).await.unwrap_err()
                }
                _ => {
                    let turn = TurnCredentials::builder("2a95132c15732412d22c1476fa83f27a", secret)
                        .base_url(format!("{base}/v1"))
                        .build()
                        .unwrap();
                    turn.ice_servers(std::time::Duration::from_secs(60))
                        .await
                        .unwrap_err()
                }
            };
            let shown = format!("{err} {err:?} {:?}", err.request_id());
            assert!(!shown.contains(secret), "{kind}: {shown}");
            assert!(
                shown.contains("you sent [redacted], sadly"),
                "{kind}: the rest of the message is kept: {shown}"
            );
        }
    }
}
