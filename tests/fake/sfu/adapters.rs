//! WebSocket adapters over raw HTTP: 200 when one item succeeded, 503 when none did.

use apps_api::fake::FakeServer;
use reqwest::Method;
use serde_json::{json, Value};

use super::{app, call, error, get, new_session, publish};

/// `answer`'s items with their `adapterId`s taken out (each checked to be 32 hex characters).
fn adapter_ids(answer: &mut Value) -> Vec<String> {
    let mut ids = Vec::new();
    for item in answer["tracks"].as_array_mut().unwrap() {
        if let Some(Value::String(id)) = item.as_object_mut().unwrap().remove("adapterId") {
            assert_eq!(id.len(), 32, "{id}");
            ids.push(id);
        }
    }
    ids
}

#[tokio::test]
async fn adapters_answer_200_when_one_succeeds_and_503_when_none_does() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let a = new_session(&fake, &app).await;
    publish(&fake, &app, &a, &["mic"]).await;
    let new = "/adapters/websocket/new";
    let egress = |endpoint: &str| {
        json!({"location": "remote", "sessionId": a, "trackName": "mic",
               "endpoint": endpoint, "outputCodec": "pcm"})
    };
    let mixed = json!({"tracks": [
        egress("wss://example.com/audio"),
        egress("ws://localhost:8080/audio"),
        {"location": "local", "trackName": "ingest", "endpoint": "wss://example.com/in",
         "inputCodec": "pcm", "mode": "buffer"},
    ]});
    let (status, mut body) = call(&fake, &app, Method::POST, new, Some(mixed)).await;
    assert_eq!(status, 200, "{body}");
    let ids = adapter_ids(&mut body);
    assert_eq!(ids.len(), 2, "{body}");
    let ingest = body["tracks"][2]["sessionId"].as_str().unwrap().to_string();
    assert_eq!(
        body,
        json!({"tracks": [
            {"location": "remote", "trackName": "mic"},
            {"location": "remote", "trackName": "mic", "errorCode": "websocket_localhost_not_allowed",
             "errorDescription": "the WebSocket endpoint must not be localhost"},
            {"location": "local", "sessionId": ingest, "trackName": "ingest"},
        ]})
    );
    // The ingest adapter's new session publishes the track.
    assert_eq!(
        get(&fake, &app, &ingest).await,
        (
            200,
            json!({"tracks": [{"location": "local", "mid": "0", "trackName": "ingest",
                "kind": "audio", "status": "active"}], "dataChannels": []})
        )
    );

    let unpublished = json!({"tracks": [{"location": "remote", "sessionId": a,
        "trackName": "ghost", "endpoint": "wss://example.com/x", "outputCodec": "jpeg"}]});
    assert_eq!(
        call(&fake, &app, Method::POST, new, Some(unpublished)).await,
        (
            503,
            json!({"tracks": [{"location": "remote", "trackName": "ghost",
                "errorCode": "not_found_track_error", "errorDescription": "Track not found"}]})
        )
    );
    let five = json!({"tracks": vec![egress("wss://example.com/a"); 5]});
    assert_eq!(
        call(&fake, &app, Method::POST, new, Some(five)).await,
        (
            406,
            error("invalid_params", "Expecting at most 4 track in the request")
        )
    );
    for bad in [
        json!({"tracks": []}),
        json!({}),
        json!({"tracks": [egress("https://example.com/a")]}),
        json!({"tracks": [{"location": "remote", "sessionId": a, "trackName": "mic",
            "endpoint": "wss://example.com/a"}]}),
        json!({"tracks": [{"location": "local", "trackName": "in", "endpoint": "wss://e.example"}]}),
    ] {
        let (status, body) = call(&fake, &app, Method::POST, new, Some(bad.clone())).await;
        assert_eq!(
            (status, &body["errorCode"]),
            (406, &json!("invalid_params")),
            "{bad}"
        );
    }

    let close = "/adapters/websocket/close";
    let two = json!({"tracks": [{"adapterId": ids[0]}, {"adapterId": "nope"}]});
    let (status, body) = call(&fake, &app, Method::POST, close, Some(two)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["tracks"][0]["bytesProcessed"].is_u64(), "{body}");
    assert_eq!(
        body["tracks"][1],
        json!({"adapterId": "nope", "errorCode": "adapter_not_found",
            "errorDescription": "Adapter not found"})
    );
    let again = json!({"tracks": [{"adapterId": ids[0]}]});
    assert_eq!(
        call(&fake, &app, Method::POST, close, Some(again)).await,
        (
            503,
            json!({"tracks": [{"adapterId": ids[0], "errorCode": "adapter_not_found",
                "errorDescription": "Adapter not found"}]})
        )
    );
}

/// An adapter's endpoint is a credential where it carries one: the fake's request log over
/// HTTP shows its scheme, host and path, never its user info or query.
#[tokio::test]
async fn the_request_log_shows_no_endpoint_credentials() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let a = new_session(&fake, &app).await;
    publish(&fake, &app, &a, &["mic"]).await;
    let egress = json!({"tracks": [{"location": "remote", "sessionId": a, "trackName": "mic",
        "endpoint": "wss://user:hunter2@out.example/a?token=t0ps3cret", "outputCodec": "pcm"}]});
    let new = "/adapters/websocket/new";
    let (status, body) = call(&fake, &app, Method::POST, new, Some(egress)).await;
    assert_eq!(status, 200, "{body}");
    let (status, log) = crate::support::send(
        Method::GET,
        &format!("{}/__fake/requests", fake.hover_base_url()),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let text = log.to_string();
    assert!(
        text.contains("wss://[redacted]@out.example/a?[redacted]"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !text.contains("t0ps3cret"),
        "{text}"
    );
}
