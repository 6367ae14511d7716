//! Data channels over raw HTTP: the transport first, then channels with ids of each session.

use apps_api::fake::FakeServer;
use reqwest::Method;
use serde_json::json;

use super::{app, call, error, get, new_session, without_sdp, ANSWER};

#[tokio::test]
async fn data_channels_need_the_transport_and_get_ids() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let (a, b) = (
        new_session(&fake, &app).await,
        new_session(&fake, &app).await,
    );
    let chat = json!({"dataChannels": [{"location": "local", "dataChannelName": "chat"}]});
    let new_a = format!("/sessions/{a}/datachannels/new");
    let (status, body) = call(&fake, &app, Method::POST, &new_a, Some(chat.clone())).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (400, &json!("decoding_error"))
    );

    for session in [&a, &b] {
        let establish = format!("/sessions/{session}/datachannels/establish");
        let events =
            json!({"dataChannel": {"location": "remote", "dataChannelName": "server-events"}});
        let (status, body) =
            call(&fake, &app, Method::POST, &establish, Some(events.clone())).await;
        assert_eq!(status, 200, "{body}");
        let sdp = body["sessionDescription"]["sdp"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(sdp.contains("m=application"), "{sdp}");
        assert_eq!(
            without_sdp(body, "offer"),
            json!({"requiresImmediateRenegotiation": true, "dataChannel":
                {"location": "remote", "dataChannelName": "server-events", "id": 0}})
        );
        assert_eq!(
            call(&fake, &app, Method::POST, &establish, Some(events)).await,
            (
                400,
                error(
                    "decoding_error",
                    "data channel transport already established"
                )
            )
        );
        let renegotiate = format!("/sessions/{session}/renegotiate");
        let answer = json!({"sessionDescription": {"type": "answer", "sdp": ANSWER}});
        assert_eq!(
            call(&fake, &app, Method::PUT, &renegotiate, Some(answer)).await,
            (200, json!({}))
        );
    }

    let twice = json!({"dataChannels": [
        {"location": "local", "dataChannelName": "chat"},
        {"location": "local", "dataChannelName": "chat"},
    ]});
    assert_eq!(
        call(&fake, &app, Method::POST, &new_a, Some(twice)).await,
        (
            200,
            json!({"dataChannels": [
                {"location": "local", "dataChannelName": "chat", "id": 1},
                {"location": "local", "dataChannelName": "chat",
                 "errorCode": "repeated_local_track_error",
                 "errorDescription": "the session already publishes a data channel of this name"},
            ]})
        )
    );
    let subscribe = json!({"dataChannels": [
        {"location": "remote", "sessionId": a, "dataChannelName": "chat"},
        {"location": "remote", "sessionId": a, "dataChannelName": "ghost"},
    ]});
    let new_b = format!("/sessions/{b}/datachannels/new");
    assert_eq!(
        call(&fake, &app, Method::POST, &new_b, Some(subscribe)).await,
        (
            200,
            json!({"dataChannels": [
                {"location": "remote", "dataChannelName": "chat", "id": 1, "sessionId": a},
                {"location": "remote", "dataChannelName": "ghost", "sessionId": a,
                 "errorCode": "not_found_track_error", "errorDescription": "Data channel not found"},
            ]})
        )
    );
    let both = json!({"dataChannels": [{"location": "local", "dataChannelName": "x",
        "maxRetransmits": 1, "maxPacketLifeTime": 100}]});
    let (status, body) = call(&fake, &app, Method::POST, &new_a, Some(both)).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (406, &json!("invalid_params"))
    );

    let update = format!("/sessions/{a}/datachannels/update");
    let settings = json!({"dataChannels": [
        {"location": "local", "dataChannelName": "chat", "ordered": false, "maxRetransmits": 0},
        {"location": "local", "dataChannelName": "ghost", "ordered": false},
    ]});
    assert_eq!(
        call(&fake, &app, Method::PUT, &update, Some(settings)).await,
        (
            200,
            json!({"dataChannels": [
                {"location": "local", "dataChannelName": "chat", "id": 1},
                {"location": "local", "dataChannelName": "ghost",
                 "errorCode": "not_found_track_error", "errorDescription": "Data channel not found"},
            ]})
        )
    );

    let close = format!("/sessions/{a}/datachannels/close");
    let one = json!({"dataChannels": [{"id": 1}]});
    assert_eq!(
        call(&fake, &app, Method::PUT, &close, Some(one.clone())).await,
        (
            200,
            json!({"dataChannels": [{"location": "local", "dataChannelName": "chat", "id": 1}]})
        )
    );
    assert_eq!(
        call(&fake, &app, Method::PUT, &close, Some(one)).await,
        (
            200,
            json!({"dataChannels": [{"id": 1, "errorCode": "close_track_error",
                "errorDescription": "Data channel doesn't exist or was already closed"}]})
        )
    );
    assert_eq!(
        get(&fake, &app, &a).await,
        (
            200,
            json!({"tracks": [], "dataChannels": [
                {"location": "remote", "dataChannelName": "server-events", "id": 0, "status": "active"},
                {"location": "local", "dataChannelName": "chat", "id": 1, "status": "inactive"},
            ]})
        )
    );
}
