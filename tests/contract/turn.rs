//! Cloudflare Calls TURN keys (management, with the account token) and TURN credentials (the
//! data plane, with the key's own token): each operation's request as the server saw it, the
//! typed values, and the failing paths.

use std::time::Duration;

use apps_api::cloudflare::turn::{TurnCredentials, MAX_TTL};
use apps_api::cloudflare::{CloudflareClient, Credentials};
use apps_api::{Error, RetryConfig, TurnKeyId, TurnUsername};
use httpmock::Method::{DELETE, GET, POST, PUT};
use httpmock::MockServer;
use serde_json::json;

use crate::support::*;

/// How the tests call each operation ([`crate::drivers`]).
pub(crate) fn drivers() -> Vec<crate::drivers::Driver> {
    use crate::drivers::drive;
    vec![
        drive!(CALLS_TURN_KEY_LIST, |h, ids| h
            .cf
            .turn_keys(&ids["account_id"])
            .list()),
        drive!(CALLS_TURN_KEY_CREATE, |h, ids| h
            .cf
            .turn_keys(&ids["account_id"])
            .create(Some("n"))),
        drive!(CALLS_RETRIEVE_TURN_KEY_DETAILS, |h, ids| h
            .cf
            .turn_keys(&ids["account_id"])
            .get(&TurnKeyId::new(&ids["key_id"]))),
        drive!(CALLS_UPDATE_TURN_KEY, |h, ids| h
            .cf
            .turn_keys(&ids["account_id"])
            .update(&TurnKeyId::new(&ids["key_id"]), None)),
        drive!(CALLS_DELETE_TURN_KEY, |h, ids| h
            .cf
            .turn_keys(&ids["account_id"])
            .delete(&TurnKeyId::new(&ids["key_id"]))),
        drive!(TURN_GENERATE_ICE_SERVERS, |h, ids| async {
            h.turn(&ids["key_id"])?
                .ice_servers(Duration::from_secs(60))
                .await
        }),
        drive!(TURN_REVOKE_CREDENTIAL, |h, ids| async {
            h.turn(&ids["key_id"])?
                .revoke(&TurnUsername::new(&ids["username"]))
                .await
        }),
    ]
}

const KEY: &str = "2a95132c15732412d22c1476fa83f27a";
const KEY_TOKEN: &str = "66bcf64aa8907b9f9d90ac17746a77ce394c393b92b3916633dc02846e608ad4";
const USERNAME: &str = "bc91b63e2b5d759f8eb9f3b58062439e0a0e15893d76317d833265ad08d6631099ce7c7087caabb31ad3e1c386424e3e";

fn key_json() -> serde_json::Value {
    json!({"uid": KEY, "name": "my-turn-key", "created": "2014-01-02T02:20:00Z", "modified": "2014-01-02T02:20:00Z"})
}

fn envelope(result: serde_json::Value) -> serde_json::Value {
    json!({"success": true, "errors": [], "messages": [], "result": result})
}

fn assert_documented_key(key: &apps_api::cloudflare::turn_keys::TurnKey) {
    assert_eq!(key.id, Some(TurnKeyId::new(KEY)));
    assert_eq!(key.name.as_deref(), Some("my-turn-key"));
    assert_eq!(key.created, Some(ts("2014-01-02T02:20:00Z")));
}

#[tokio::test]
async fn list() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path("/calls/turn_keys"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("user-agent", USER_AGENT)
                .header_missing("content-type");
            then.status(200).json_body(envelope(json!([key_json()])));
        })
        .await;
    let keys = cf(&server).turn_keys(ACCOUNT).list().await.unwrap();
    mock.assert_async().await;
    assert_eq!(keys.len(), 1);
    assert_documented_key(&keys[0]);
    assert_ran(&apps_api::operations::CALLS_TURN_KEY_LIST);
}

#[tokio::test]
async fn create_returns_the_key_once() {
    let server = MockServer::start_async().await;
    let mut result = key_json();
    result["key"] = json!(KEY_TOKEN);
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(cf_path("/calls/turn_keys"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .json_body(json!({"name": "my-turn-key"}));
            then.status(201).json_body(envelope(result));
        })
        .await;
    let created = cf(&server)
        .turn_keys(ACCOUNT)
        .create(Some("my-turn-key"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_documented_key(&created.turn_key);
    assert_eq!(created.key.expose(), KEY_TOKEN);
    assert!(!format!("{created:?}").contains("66bcf64a"));
    assert_ran(&apps_api::operations::CALLS_TURN_KEY_CREATE);
}

/// One report says a live create carries the token as `secret`: it is read from there too.
#[tokio::test]
async fn create_reads_the_token_from_secret_too() {
    let server = MockServer::start_async().await;
    let mut result = key_json();
    result["secret"] = json!(KEY_TOKEN);
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path(cf_path("/calls/turn_keys"))
                .json_body(json!({}));
            then.status(201).json_body(envelope(result));
        })
        .await;
    let created = cf(&server).turn_keys(ACCOUNT).create(None).await.unwrap();
    assert_eq!(created.key.expose(), KEY_TOKEN);
}

#[tokio::test]
async fn create_without_a_token_is_a_decode_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(cf_path("/calls/turn_keys"));
            then.status(201).json_body(envelope(key_json()));
        })
        .await;
    let err = cf(&server)
        .turn_keys(ACCOUNT)
        .create(None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Decode { reason, .. } if reason.contains("no `key`")),
        "{err:?}"
    );
}

#[tokio::test]
async fn get_update_delete() {
    let server = MockServer::start_async().await;
    let path = cf_path(&format!("/calls/turn_keys/{KEY}"));
    let get = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(path.clone())
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200).json_body(envelope(key_json()));
        })
        .await;
    let update = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(path.clone())
                .header("content-type", "application/json")
                .json_body(json!({"name": "renamed"}));
            then.status(200).json_body(envelope(key_json()));
        })
        .await;
    let delete = server
        .mock_async(|when, then| {
            when.method(DELETE).path(path.clone());
            then.status(200).json_body(envelope(key_json()));
        })
        .await;
    let keys = cf(&server);
    let keys = keys.turn_keys(ACCOUNT);
    let id = TurnKeyId::new(KEY);
    assert_documented_key(&keys.get(&id).await.unwrap());
    assert_documented_key(&keys.update(&id, Some("renamed")).await.unwrap());
    assert_documented_key(&keys.delete(&id).await.unwrap());
    get.assert_async().await;
    update.assert_async().await;
    delete.assert_async().await;
    assert_ran(&apps_api::operations::CALLS_RETRIEVE_TURN_KEY_DETAILS);
    assert_ran(&apps_api::operations::CALLS_UPDATE_TURN_KEY);
    assert_ran(&apps_api::operations::CALLS_DELETE_TURN_KEY);
}

#[tokio::test]
async fn failing_paths() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(cf_path(&format!("/calls/turn_keys/{KEY}")));
            then.status(404)
                .header("cf-ray", "8f00aa-LHR")
                .json_body(cf_failure(10404, "TURN key not found"));
        })
        .await;
    let any = server
        .mock_async(|when, then| {
            when.path_prefix(cf_path("/calls/turn_keys/"));
            then.status(500);
        })
        .await;
    let client = cf(&server);
    let err = client
        .turn_keys(ACCOUNT)
        .get(&TurnKeyId::new(KEY))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(
        (err.codes(), err.request_id()),
        (vec![10404], Some("8f00aa-LHR"))
    );
    // The `uid` is the key ID: anything that is not one is refused before sending.
    for bad in [
        "short",
        r"..\..\zones",
        "2a95132c15732412d22c1476fa83f27a/x",
    ] {
        let err = client
            .turn_keys(ACCOUNT)
            .delete(&TurnKeyId::new(bad))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.starts_with("TURN key ID")),
            "{err:?}"
        );
    }
    any.assert_calls_async(0).await;
    // TURN keys, like Calls apps, take API tokens only.
    let keyed = CloudflareClient::builder()
        .credentials(Credentials::api_key("ops@example.com", "global-key"))
        .base_url(format!("{}{CF_PREFIX}", server.base_url()))
        .build()
        .unwrap();
    let err = keyed.turn_keys(ACCOUNT).list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("API tokens")),
        "{err:?}"
    );
}

fn turn(server: &MockServer) -> TurnCredentials {
    TurnCredentials::builder(KEY, KEY_TOKEN)
        .base_url(format!("{}/v1", server.base_url()))
        .sleeper(std::sync::Arc::new(RecordingSleeper::default()))
        .on_response(recorder())
        .build()
        .unwrap()
}

fn ice_answer() -> serde_json::Value {
    json!({"iceServers": [
        {"urls": ["stun:stun.cloudflare.com:3478", "stun:stun.cloudflare.com:53"]},
        {"urls": ["turn:turn.cloudflare.com:3478?transport=udp", "turns:turn.cloudflare.com:443?transport=tcp"],
         "username": USERNAME, "credential": "ebd71f1d3edbc2b0edae3cd5a6d82284"}
    ]})
}

/// Minting sends the TTL with the key's own token (not the account's) and answers ICE servers
/// whose expiry the client computed.
#[tokio::test]
async fn ice_servers() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(format!(
                    "/v1/turn/keys/{KEY}/credentials/generate-ice-servers"
                ))
                .header("authorization", format!("Bearer {KEY_TOKEN}"))
                .header("content-type", "application/json")
                .header("user-agent", USER_AGENT)
                .json_body(json!({"ttl": 3600}));
            then.status(201).json_body(ice_answer());
        })
        .await;
    let before = chrono::Utc::now();
    let ice = turn(&server)
        .ice_servers(Duration::from_secs(3600))
        .await
        .unwrap();
    mock.assert_async().await;
    let lifetime = ice.expires_at - before;
    assert!(
        lifetime >= chrono::TimeDelta::seconds(3599)
            && lifetime <= chrono::TimeDelta::seconds(3601),
        "{lifetime}"
    );
    assert_eq!(ice.ice_servers.len(), 2);
    assert_eq!(ice.username(), Some(TurnUsername::new(USERNAME)));
    let json = serde_json::to_value(&ice).unwrap();
    assert_eq!(
        json,
        ice_answer(),
        "the answer is passed on as RTCConfiguration"
    );
    assert!(!format!("{ice:?}").contains(USERNAME));
    assert_ran(&apps_api::operations::TURN_GENERATE_ICE_SERVERS);
}

#[tokio::test]
async fn revoke() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(format!("/v1/turn/keys/{KEY}/credentials/{USERNAME}/revoke"))
                .header("authorization", format!("Bearer {KEY_TOKEN}"));
            then.status(204);
        })
        .await;
    turn(&server)
        .revoke(&TurnUsername::new(USERNAME))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_ran(&apps_api::operations::TURN_REVOKE_CREDENTIAL);
}

/// Bad TTLs and usernames are refused before anything is sent.
#[tokio::test]
async fn ttl_and_username_are_checked_before_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(201).json_body(ice_answer());
        })
        .await;
    let turn = turn(&server);
    for ttl in [Duration::ZERO, MAX_TTL + Duration::from_secs(1)] {
        let err = turn.ice_servers(ttl).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("48 hours")),
            "{err:?}"
        );
    }
    for bad in ["", "a/../b", "user name", "ünï"] {
        let err = turn.revoke(&TurnUsername::new(bad)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}");
    }
    any.assert_calls_async(0).await;
    turn.ice_servers(MAX_TTL).await.unwrap();
    any.assert_calls_async(1).await;
}

/// Minting creates nothing durable, so it is retried like an idempotent call; the data
/// plane's errors are read leniently.
#[tokio::test]
async fn minting_is_retried_and_errors_are_read_leniently() {
    let server = MockServer::start_async().await;
    let failing = server
        .mock_async(|when, then| {
            when.method(POST).path_includes("generate-ice-servers");
            then.status(503).body("upstream unavailable");
        })
        .await;
    failing.up_to_n_times_async(1).await;
    let ok = server
        .mock_async(|when, then| {
            when.method(POST).path_includes("generate-ice-servers");
            then.status(201).json_body(ice_answer());
        })
        .await;
    turn(&server)
        .ice_servers(Duration::from_secs(60))
        .await
        .unwrap();
    failing.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(401)
                .json_body(json!({"errorCode": "unauthorized", "errorDescription": "bad key"}));
        })
        .await;
    let once = TurnCredentials::builder(KEY, KEY_TOKEN)
        .base_url(format!("{}/v1", server.base_url()))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = once.ice_servers(Duration::from_secs(60)).await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.contains("unauthorized: bad key") && !shown.contains(KEY_TOKEN),
        "{shown}"
    );
}

/// A revoke answered with 200 (not the documented 204) is the answer. The username, which
/// identifies the allocation, is in no error, `Debug` or dry run.
#[tokio::test]
async fn revoke_takes_any_2xx_and_never_shows_the_username() {
    let server = MockServer::start_async().await;
    let ok = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(format!("/v1/turn/keys/{KEY}/credentials/{USERNAME}/revoke"));
            then.status(200).json_body(json!({}));
        })
        .await;
    let username = TurnUsername::new(USERNAME);
    turn(&server).revoke(&username).await.unwrap();
    ok.assert_async().await;
    assert!(!format!("{username} {username:?}").contains(USERNAME));

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(500).body("upstream failed");
        })
        .await;
    let err = turn(&server).revoke(&username).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("{username}") && !shown.contains(USERNAME),
        "{shown}"
    );

    let client = TurnCredentials::builder(KEY, KEY_TOKEN)
        .base_url(format!("{}/v1", server.base_url()))
        .build()
        .unwrap();
    let request = apps_api::dry_run(client.revoke(&username)).await.unwrap();
    assert!(
        request
            .url
            .ends_with("/v1/turn/keys/{key_id}/credentials/{username}/revoke"),
        "{}",
        request.url
    );
    let shown = format!("{request:?}");
    assert!(!shown.contains(USERNAME) && !shown.contains(KEY_TOKEN));
}
