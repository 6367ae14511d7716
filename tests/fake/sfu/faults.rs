//! Faults on the SFU's operations: single items failing inside a 200, and whole answers.

use apps_api::fake::{FakeServer, Fault, ItemFault};
use reqwest::Method;
use serde_json::{json, Value};

use super::{app, call, call_as, error, get, new_session, publish, without_sdp};
use crate::support::send;

#[tokio::test]
async fn item_faults_fail_single_items_inside_a_200() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let (a, b) = (
        new_session(&fake, &app).await,
        new_session(&fake, &app).await,
    );
    publish(&fake, &app, &a, &["mic", "cam"]).await;

    fake.inject_item_fault("sfu-tracks-new", 1, ItemFault::internal_error())
        .unwrap();
    assert_eq!(fake.pending_item_faults("sfu-tracks-new"), 1);
    let pull = json!({"tracks": [
        {"location": "remote", "sessionId": a, "trackName": "mic"},
        {"location": "remote", "sessionId": a, "trackName": "cam"},
    ]});
    let path = format!("/sessions/{b}/tracks/new");
    let (status, body) = call(&fake, &app, Method::POST, &path, Some(pull)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        without_sdp(body, "offer"),
        json!({"requiresImmediateRenegotiation": true, "tracks": [
            {"mid": "", "trackName": "mic", "sessionId": a,
             "errorCode": "internal_error", "errorDescription": "Backend error"},
            {"location": "remote", "mid": "0", "sessionId": a, "trackName": "cam"},
        ]})
    );
    assert_eq!(fake.pending_item_faults("sfu-tracks-new"), 0);

    // Over HTTP, for other languages' tests.
    let control = format!("{}/__fake/item-faults", fake.hover_base_url());
    let injection = json!({"operation": "sfu-tracks-close", "count": 2,
        "error_code": "retryable_transient_error", "error_description": "try again"});
    assert_eq!(
        send(Method::POST, &control, &[], Some(injection)).await,
        (201, json!({"operation": "sfu-tracks-close", "queued": 2}))
    );
    let state = format!("{}/__fake/state", fake.hover_base_url());
    let (_, body) = send(Method::GET, &state, &[], None).await;
    assert_eq!(body["item_faults"], json!({"sfu-tracks-close": 2}));
    let close = format!("/sessions/{a}/tracks/close");
    let three = json!({"tracks": [{"mid": "0"}, {"mid": "1"}, {"mid": "1"}], "force": true});
    assert_eq!(
        call(&fake, &app, Method::PUT, &close, Some(three)).await,
        (
            200,
            json!({"requiresImmediateRenegotiation": false, "tracks": [
                {"mid": "0", "errorCode": "retryable_transient_error", "errorDescription": "try again"},
                {"mid": "1", "errorCode": "retryable_transient_error", "errorDescription": "try again"},
                {"mid": "1"},
            ]})
        )
    );
    let (_, state_a) = get(&fake, &app, &a).await;
    assert_eq!(
        state_a["tracks"][0]["status"], "active",
        "a failed item changed nothing"
    );

    // Every adapter failing is a 503.
    let injection =
        json!({"operation": "sfu-adapters-websocket-new", "error_code": "internal_error"});
    assert_eq!(
        send(Method::POST, &control, &[], Some(injection)).await.0,
        201
    );
    let egress = json!({"tracks": [{"location": "remote", "sessionId": a, "trackName": "mic",
        "endpoint": "wss://example.com/a", "outputCodec": "pcm"}]});
    let new = "/adapters/websocket/new";
    assert_eq!(
        call(&fake, &app, Method::POST, new, Some(egress)).await,
        (
            503,
            json!({"tracks": [{"location": "remote", "trackName": "mic",
                "errorCode": "internal_error", "errorDescription": "Backend error"}]})
        )
    );

    // Refused: an operation without items, and bad injections.
    for bad in [
        json!({"operation": "sfu-session-get", "error_code": "internal_error"}),
        json!({"operation": "sfu-tracks-new", "error_code": ""}),
        json!({"operation": "sfu-tracks-new", "count": 0, "error_code": "x"}),
        json!({"operation": "sfu-tracks-new", "errorCode": "x"}),
    ] {
        let (status, body) = send(Method::POST, &control, &[], Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    assert!(fake
        .inject_item_fault("sfu-session-get", 1, ItemFault::internal_error())
        .is_err());

    // Clearing the faults clears item faults too.
    fake.inject_item_fault("sfu-datachannels-new", 3, ItemFault::new("x", "y"))
        .unwrap();
    let faults = format!("{}/__fake/faults", fake.hover_base_url());
    assert_eq!(send(Method::DELETE, &faults, &[], None).await.0, 204);
    assert_eq!(fake.pending_item_faults("sfu-datachannels-new"), 0);
}

#[tokio::test]
async fn whole_answer_faults_apply_to_the_sfus_operations() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    fake.inject_fault("sfu-sessions-new", 1, Fault::Status(503))
        .unwrap();
    let (status, body) = call(&fake, &app, Method::POST, "/sessions/new", None).await;
    assert_eq!((status, body), (503, error("10503", "Service Unavailable")));
    let a = new_session(&fake, &app).await;
    fake.inject_fault("sfu-session-get", 1, Fault::MalformedBody)
        .unwrap();
    let url = format!("{}/apps/{}/sessions/{a}", fake.realtime_base_url(), app.id);
    let text = crate::support::http()
        .get(&url)
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    // A refused credential consumes no fault.
    fake.inject_fault("sfu-session-get", 1, Fault::Status(500))
        .unwrap();
    let path = format!("/sessions/{a}");
    assert_eq!(
        call_as(&fake, &app, "wrong", Method::GET, &path, None)
            .await
            .0,
        401
    );
    assert_eq!(fake.pending_faults("sfu-session-get"), 1);
    assert_eq!(get(&fake, &app, &a).await.0, 500);
    assert_eq!(get(&fake, &app, &a).await.0, 200);
}
