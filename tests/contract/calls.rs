//! Cloudflare Calls apps: each operation's request as the server saw it, and the typed value
//! from the documented example response.

use apps_api::CallsAppId;
use httpmock::Method::{DELETE, GET, POST, PUT};
use httpmock::MockServer;
use serde_json::json;

use crate::support::*;

const APP: &str = "2a95132c15732412d22c1476fa83f27a";

/// How the tests call each operation ([`crate::drivers`]).
pub(crate) fn drivers() -> Vec<crate::drivers::Driver> {
    use crate::drivers::drive;
    vec![
        drive!(CALLS_APPS_LIST, |h, ids| h
            .cf
            .calls(&ids["account_id"])
            .list()),
        drive!(CALLS_APPS_CREATE_A_NEW_APP, |h, ids| h
            .cf
            .calls(&ids["account_id"])
            .create(Some("n"))),
        drive!(CALLS_APPS_RETRIEVE_APP_DETAILS, |h, ids| h
            .cf
            .calls(&ids["account_id"])
            .get(&CallsAppId::new(&ids["app_id"]))),
        drive!(CALLS_APPS_UPDATE_APP_DETAILS, |h, ids| h
            .cf
            .calls(&ids["account_id"])
            .update(&CallsAppId::new(&ids["app_id"]), None)),
        drive!(CALLS_APPS_DELETE_APP, |h, ids| h
            .cf
            .calls(&ids["account_id"])
            .delete(&CallsAppId::new(&ids["app_id"]))),
    ]
}

fn assert_documented_app(app: &apps_api::cloudflare::calls::CallsApp) {
    assert_eq!(app.id, Some(CallsAppId::new(APP)));
    assert_eq!(app.name.as_deref(), Some("production-realtime-app"));
    assert_eq!(app.created, Some(ts("2014-01-02T02:20:00Z")));
    assert_eq!(app.modified, Some(ts("2014-01-02T02:20:00Z")));
}

#[tokio::test]
async fn list() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path("/calls/apps"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("accept", "application/json")
                .header("user-agent", USER_AGENT)
                .header_missing("api-version")
                .header_missing("content-type");
            then.status(200)
                .header("content-type", "application/json")
                .json_body(fixture!("calls-list.response.json"));
        })
        .await;
    let apps = cf(&server).calls(ACCOUNT).list().await.unwrap();
    mock.assert_async().await;
    assert_eq!(apps.len(), 1);
    assert_documented_app(&apps[0]);
    assert_ran(&apps_api::operations::CALLS_APPS_LIST);
}

#[tokio::test]
async fn create_returns_the_secret_once() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(cf_path("/calls/apps"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .json_body(fixture!("calls-create.request.json"));
            then.status(201)
                .header("content-type", "application/json")
                .json_body(fixture!("calls-create.response.json"));
        })
        .await;
    let created = cf(&server)
        .calls(ACCOUNT)
        .create(Some("production-realtime-app"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_documented_app(&created.app);
    assert_eq!(
        created.secret.expose(),
        "66bcf64aa8907b9f9d90ac17746a77ce394c393b92b3916633dc02846e608ad4"
    );
    assert!(!format!("{created:?}").contains("66bcf64aa"));
    assert_ran(&apps_api::operations::CALLS_APPS_CREATE_A_NEW_APP);
}

#[tokio::test]
async fn create_without_a_name_sends_an_empty_object() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(cf_path("/calls/apps"))
                .json_body(json!({}));
            then.status(201)
                .json_body(fixture!("calls-create.response.json"));
        })
        .await;
    cf(&server).calls(ACCOUNT).create(None).await.unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn create_without_a_secret_is_a_decode_error() {
    let server = MockServer::start_async().await;
    let mut body = fixture!("calls-create.response.json");
    body["result"].as_object_mut().unwrap().remove("secret");
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(201).json_body(body);
        })
        .await;
    let err = cf(&server).calls(ACCOUNT).create(None).await.unwrap_err();
    assert!(
        matches!(err, apps_api::Error::Decode { status: 201, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn get() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path(&format!("/calls/apps/{APP}")))
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .json_body(fixture!("calls-get.response.json"));
        })
        .await;
    let app = cf(&server)
        .calls(ACCOUNT)
        .get(&CallsAppId::new(APP))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_documented_app(&app);
    assert_ran(&apps_api::operations::CALLS_APPS_RETRIEVE_APP_DETAILS);
}

#[tokio::test]
async fn update() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(cf_path(&format!("/calls/apps/{APP}")))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .json_body(fixture!("calls-update.request.json"));
            then.status(200)
                .json_body(fixture!("calls-update.response.json"));
        })
        .await;
    let app = cf(&server)
        .calls(ACCOUNT)
        .update(&CallsAppId::new(APP), Some("production-realtime-app"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_documented_app(&app);
    assert_ran(&apps_api::operations::CALLS_APPS_UPDATE_APP_DETAILS);
}

#[tokio::test]
async fn delete() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path(cf_path(&format!("/calls/apps/{APP}")))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header_missing("content-type");
            then.status(200)
                .json_body(fixture!("calls-delete.response.json"));
        })
        .await;
    let app = cf(&server)
        .calls(ACCOUNT)
        .delete(&CallsAppId::new(APP))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_documented_app(&app);
    assert_ran(&apps_api::operations::CALLS_APPS_DELETE_APP);
}

#[tokio::test]
async fn messages_reach_the_caller() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(cf_path("/calls/apps"));
            then.status(200)
                .json_body(fixture!("calls-list.response.json"));
        })
        .await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let client = cf_builder(&server)
        .on_messages(move |call, messages| {
            sink.lock().unwrap().push((
                call.operation,
                messages[0].code,
                messages[0].message.clone(),
            ));
        })
        .build()
        .unwrap();
    client.calls(ACCOUNT).list().await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [("calls-apps-list", Some(1000), "message".to_string())]
    );
}

/// A create answered with 200 instead of the documented 201 keeps its one-time secret: any 2xx
/// is the answer.
#[tokio::test]
async fn a_create_answered_with_200_keeps_its_secret() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/apps"));
            then.status(200)
                .json_body(fixture!("calls-create.response.json"));
        })
        .await;
    let created = cf(&server).calls(ACCOUNT).create(None).await.unwrap();
    assert_eq!(created.secret.expose().len(), 64);
}
