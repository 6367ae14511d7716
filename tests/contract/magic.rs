//! Cloudflare Magic account apps: each operation's request as the server saw it, both auth
//! schemes, client-side validation, and the typed values returned.

use apps_api::cloudflare::magic::{MagicAppChanges, MagicListItem, NewMagicApp};
use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::{Error, MagicAppId};
use httpmock::Method::{DELETE, GET, PATCH, POST, PUT};
use httpmock::MockServer;
use serde_json::{json, Value};

use crate::support::*;

/// How the tests call each operation ([`crate::drivers`]).
pub(crate) fn drivers() -> Vec<crate::drivers::Driver> {
    use crate::drivers::drive;
    vec![
        drive!(MAGIC_ACCOUNT_APPS_LIST_APPS, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .list()),
        drive!(MAGIC_ACCOUNT_APPS_ADD_APP, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .create(&NewMagicApp::new("n", "t").hostnames(["h.example"]))),
        drive!(MAGIC_ACCOUNT_APPS_UPDATE_APP, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .update(
                &MagicAppId::new(&ids["account_app_id"]),
                &MagicAppChanges::new().name("n")
            )),
        drive!(MAGIC_ACCOUNT_APPS_PATCH_APP, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .patch(
                &MagicAppId::new(&ids["account_app_id"]),
                &MagicAppChanges::new().name("n")
            )),
        drive!(MAGIC_ACCOUNT_APPS_DELETE_APP, |h, ids| h
            .cf
            .magic(&ids["account_id"])
            .delete(&MagicAppId::new(&ids["account_app_id"]))),
    ]
}

const APP: &str = "ac60d3d0435248289d446cedd870bcf4";

fn app_json() -> Value {
    json!({
        "account_app_id": APP,
        "name": "Cloudflare Dashboard",
        "type": "Development",
        "hostnames": ["auth.cloudflare.com"],
        "ip_subnets": ["1.1.1.1/32"]
    })
}

fn envelope(result: Value) -> Value {
    json!({"success": true, "errors": [], "messages": [], "result": result})
}

fn assert_app(app: &apps_api::cloudflare::magic::MagicApp) {
    assert_eq!(app.id, MagicAppId::new(APP));
    assert_eq!(app.name.as_deref(), Some("Cloudflare Dashboard"));
    assert_eq!(app.app_type.as_deref(), Some("Development"));
    assert_eq!(app.hostnames, ["auth.cloudflare.com"]);
    assert_eq!(app.ip_subnets, ["1.1.1.1/32"]);
    assert!(app.source_subnets.is_empty());
}

#[tokio::test]
async fn list_mixes_account_and_managed_apps() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path("/magic/apps"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header_missing("api-version");
            then.status(200).json_body(envelope(json!([
                app_json(),
                {"managed_app_id": "cloudflare", "name": "Cloudflare", "hostnames": null,
                 "future_field": {"ignored": true}}
            ])));
        })
        .await;
    let items = cf(&server).magic(ACCOUNT).list().await.unwrap();
    mock.assert_async().await;
    assert_eq!(items.len(), 2);
    assert_app(items[0].as_account_app().expect("account app"));
    match &items[1] {
        MagicListItem::Managed(managed) => {
            assert_eq!(managed.id, "cloudflare");
            assert!(managed.hostnames.is_empty());
        }
        other => panic!("expected a managed app, got {other:?}"),
    }
    assert_ran(&apps_api::operations::MAGIC_ACCOUNT_APPS_LIST_APPS);
}

#[tokio::test]
async fn list_with_null_result_is_empty() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/magic/apps"));
            then.status(200).json_body(envelope(Value::Null));
        })
        .await;
    assert!(cf(&server).magic(ACCOUNT).list().await.unwrap().is_empty());
}

#[tokio::test]
async fn create() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(cf_path("/magic/apps"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .json_body(json!({
                    "name": "Cloudflare Dashboard",
                    "type": "Development",
                    "hostnames": ["auth.cloudflare.com"],
                    "ip_subnets": ["1.1.1.1/32"]
                }));
            then.status(201).json_body(envelope(app_json()));
        })
        .await;
    let app = cf(&server)
        .magic(ACCOUNT)
        .create(
            &NewMagicApp::new("Cloudflare Dashboard", "Development")
                .hostnames(["auth.cloudflare.com"])
                .ip_subnets(["1.1.1.1/32"]),
        )
        .await
        .unwrap();
    mock.assert_async().await;
    assert_app(&app);
    assert_ran(&apps_api::operations::MAGIC_ACCOUNT_APPS_ADD_APP);
}

#[tokio::test]
async fn update_replaces_with_put() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(cf_path(&format!("/magic/apps/{APP}")))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .json_body(json!({
                    "name": "Cloudflare Dashboard",
                    "type": "Development",
                    "hostnames": ["auth.cloudflare.com"],
                    "ip_subnets": ["1.1.1.1/32"],
                    "source_subnets": []
                }));
            then.status(200).json_body(envelope(app_json()));
        })
        .await;
    let changes = MagicAppChanges::new()
        .name("Cloudflare Dashboard")
        .app_type("Development")
        .hostnames(["auth.cloudflare.com"])
        .ip_subnets(["1.1.1.1/32"])
        .source_subnets(Vec::<String>::new());
    let app = cf(&server)
        .magic(ACCOUNT)
        .update(&MagicAppId::new(APP), &changes)
        .await
        .unwrap();
    mock.assert_async().await;
    assert_app(&app);
    assert_ran(&apps_api::operations::MAGIC_ACCOUNT_APPS_UPDATE_APP);
}

#[tokio::test]
async fn patch_sends_only_the_changes() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path(cf_path(&format!("/magic/apps/{APP}")))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .json_body(json!({"name": "Cloudflare Dashboard"}));
            then.status(200).json_body(envelope(app_json()));
        })
        .await;
    let app = cf(&server)
        .magic(ACCOUNT)
        .patch(
            &MagicAppId::new(APP),
            &MagicAppChanges::new().name("Cloudflare Dashboard"),
        )
        .await
        .unwrap();
    mock.assert_async().await;
    assert_app(&app);
    assert_ran(&apps_api::operations::MAGIC_ACCOUNT_APPS_PATCH_APP);
}

#[tokio::test]
async fn delete() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path(cf_path(&format!("/magic/apps/{APP}")))
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200).json_body(envelope(app_json()));
        })
        .await;
    let app = cf(&server)
        .magic(ACCOUNT)
        .delete(&MagicAppId::new(APP))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_app(&app);
    assert_ran(&apps_api::operations::MAGIC_ACCOUNT_APPS_DELETE_APP);
}

#[tokio::test]
async fn null_result_on_a_single_app_is_a_decode_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path(cf_path(&format!("/magic/apps/{APP}")));
            then.status(200).json_body(envelope(Value::Null));
        })
        .await;
    let err = cf(&server)
        .magic(ACCOUNT)
        .delete(&MagicAppId::new(APP))
        .await
        .unwrap_err();
    match err {
        Error::Decode { status, reason, .. } => {
            assert_eq!(status, 200);
            assert!(reason.contains("result"), "{reason}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn email_and_key_auth_sends_both_headers_and_no_bearer() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path("/magic/apps"))
                .header("x-auth-email", "admin@example.com")
                .header("x-auth-key", "global-key-0123456789")
                .header_missing("authorization");
            then.status(200).json_body(envelope(json!([])));
        })
        .await;
    let client = CloudflareClient::builder()
        .credentials(Credentials::api_key(
            "admin@example.com",
            "global-key-0123456789",
        ))
        .base_url(format!("{}{CF_PREFIX}", server.base_url()))
        .build()
        .unwrap();
    client.magic(ACCOUNT).list().await.unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn invalid_bodies_are_rejected_before_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(500);
        })
        .await;
    let magic = cf(&server);
    let magic = magic.magic(ACCOUNT);
    for app in [
        NewMagicApp::new("a", "b"),
        NewMagicApp::new("a", "b").ip_subnets(["10.0.0.1"]),
        NewMagicApp::new("a", "b").ip_subnets(["2001:db8::/32"]),
        NewMagicApp::new("a", "b")
            .hostnames(["x"])
            .source_subnets(["300.0.0.0/8"]),
    ] {
        let err = magic.create(&app).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{app:?}: {err:?}");
    }
    let err = magic
        .patch(&MagicAppId::new(APP), &MagicAppChanges::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let err = magic
        .update(
            &MagicAppId::new(APP),
            &MagicAppChanges::new().ip_subnets(["1.1.1.1/40"]),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1.1.1.1/40"), "{err}");
    any.assert_calls_async(0).await;
}
