//! Cloudflare Realtime SFU data plane: data channels and WebSocket adapters (requests as the
//! server saw them, per-item and request-level failures). Pacing: `sfu_pace.rs`; secrets and
//! lying servers: `sfu_hostile.rs`.

use apps_api::cloudflare::sfu::{
    AdapterRequest, Closed, DataChannelRequest, ItemCode, OutputCodec, SessionDescription,
};
use apps_api::{Error, RetryConfig};
use httpmock::Method::{POST, PUT};
use httpmock::MockServer;
use serde_json::json;

use crate::sfu::{session_path, sfu, sfu_builder, sfu_path, OFFER, OTHER, SESSION};
use crate::support::*;

#[tokio::test]
async fn establish_sends_the_channel_and_reads_the_sfu_offer() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(session_path("/datachannels/establish"))
                .header("authorization", "Bearer sfu-app-secret")
                .json_body(json!({"dataChannel": {
                    "location": "remote", "sessionId": SESSION, "dataChannelName": "server-events"
                }}));
            then.status(200).json_body(json!({
                "requiresImmediateRenegotiation": true,
                "sessionDescription": {"type": "offer", "sdp": OFFER},
                "dataChannel": {"location": "remote", "dataChannelName": "server-events", "id": 0}
            }));
        })
        .await;
    let channel = DataChannelRequest::remote(SESSION, "server-events");
    let established = sfu(&server)
        .session(SESSION)
        .establish_data_channels(channel, None)
        .await
        .unwrap();
    mock.assert_async().await;
    assert!(established.requires_immediate_renegotiation);
    assert_eq!(
        established.session_description,
        Some(SessionDescription::offer(OFFER))
    );
    let done = established.data_channel.into_result().unwrap();
    assert_eq!(done[0].1.id, 0);
    assert_ran(&apps_api::operations::SFU_DATACHANNELS_ESTABLISH);
}

/// A second establish fails on Cloudflare: a lost answer is not sent again.
#[tokio::test]
async fn establish_is_never_sent_twice() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(session_path("/datachannels/establish"));
            then.status(500).body("");
        })
        .await;
    let client = sfu_builder(&server)
        .retry(RetryConfig::default().retry_non_idempotent(true))
        .build()
        .unwrap();
    let channel = DataChannelRequest::remote(SESSION, "server-events");
    let result = client
        .session(SESSION)
        .establish_data_channels(channel, None)
        .await;
    assert_eq!(result.unwrap_err().status(), Some(500));
    assert_eq!(mock.calls_async().await, 1);
}

#[tokio::test]
async fn new_data_channels_come_back_per_item_with_their_ids() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(session_path("/datachannels/new"))
                .json_body(json!({"dataChannels": [
                    {"location": "local", "dataChannelName": "chat", "maxRetransmits": 0},
                    {"location": "remote", "sessionId": OTHER, "dataChannelName": "news", "ordered": false},
                    {"location": "local", "dataChannelName": "dup"},
                    {"location": "local", "dataChannelName": "odd"}
                ]}));
            then.status(200).json_body(json!({"dataChannels": [
                {"location": "local", "dataChannelName": "dup", "errorCode": "repeated_local_track_error"},
                {"location": "remote", "dataChannelName": "news", "sessionId": OTHER, "id": 7},
                {"location": "local", "dataChannelName": "chat", "id": 2},
                {"location": "local", "dataChannelName": "odd", "id": 65535}
            ]}));
        })
        .await;
    let channels = vec![
        DataChannelRequest::local("chat").max_retransmits(0),
        DataChannelRequest::remote(OTHER, "news").unordered(),
        DataChannelRequest::local("dup"),
        DataChannelRequest::local("odd"),
    ];
    let batch = sfu(&server)
        .session(SESSION)
        .add_data_channels(channels)
        .await
        .unwrap();
    mock.assert_async().await;
    let (done, failed) = batch.into_parts();
    assert_eq!(
        done.iter()
            .map(|(q, a)| (q.name.as_str(), a.id))
            .collect::<Vec<_>>(),
        [("chat", 2), ("news", 7)]
    );
    assert_eq!(failed[0].request.name, "dup");
    assert_eq!(failed[0].code, ItemCode::RepeatedLocalTrack);
    assert_eq!(failed[1].request.name, "odd");
    assert_eq!(failed[1].code, ItemCode::NoAnswer, "65535 is no channel ID");
    assert_ran(&apps_api::operations::SFU_DATACHANNELS_NEW);
}

#[tokio::test]
async fn bad_data_channel_requests_are_refused_before_sending() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({}));
        })
        .await;
    let session = sfu(&server).session(SESSION);
    let both = DataChannelRequest::local("c")
        .max_retransmits(1)
        .max_packet_life_time(100);
    let requests = [
        vec![both],
        vec![DataChannelRequest::local("")],
        vec![DataChannelRequest::remote("x?y", "c")],
        vec![],
    ];
    for channels in requests {
        let result = session.add_data_channels(channels).await;
        assert!(
            matches!(result, Err(Error::InvalidArgument(_))),
            "{result:?}"
        );
    }
    assert!(matches!(
        session.close_data_channels(&[]).await,
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(mock.calls_async().await, 0);
}

#[tokio::test]
async fn update_data_channels_sends_the_settings() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(session_path("/datachannels/update"))
                .json_body(json!({"dataChannels": [
                    {"location": "local", "dataChannelName": "chat", "ordered": false}
                ]}));
            then.status(200).json_body(json!({"dataChannels": [
                {"location": "local", "dataChannelName": "chat", "id": 2}
            ]}));
        })
        .await;
    let batch = sfu(&server)
        .session(SESSION)
        .update_data_channels(vec![DataChannelRequest::local("chat").unordered()])
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(batch.into_result().unwrap()[0].1.id, 2);
    assert_ran(&apps_api::operations::SFU_DATACHANNELS_UPDATE);
}

#[tokio::test]
async fn close_data_channels_counts_an_absent_channel_as_closed() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(session_path("/datachannels/close"))
                .json_body(json!({"dataChannels": [{"id": 1}, {"id": 2}, {"id": 3}]}));
            then.status(200).json_body(json!({"dataChannels": [
                {"id": 2, "errorCode": "close_track_error"},
                {"id": 1},
                {"id": 3, "errorCode": "brand_new_error", "errorDescription": "new"}
            ]}));
        })
        .await;
    let batch = sfu(&server)
        .session(SESSION)
        .close_data_channels(&[1, 2, 3])
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(
        batch.succeeded(),
        &[(1, Closed::Closed), (2, Closed::AlreadyClosed)]
    );
    assert_eq!(batch.failed()[0].request, 3);
    assert_eq!(
        batch.failed()[0].code,
        ItemCode::Other("brand_new_error".into())
    );
    assert_ran(&apps_api::operations::SFU_DATACHANNELS_CLOSE);
}

#[tokio::test]
async fn new_adapters_send_their_codecs_and_read_the_new_session() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(sfu_path("/adapters/websocket/new"))
                .header("authorization", "Bearer sfu-app-secret")
                .json_body(json!({"tracks": [
                    {"location": "local", "trackName": "mic", "endpoint": "wss://in.example/a", "inputCodec": "pcm"},
                    {"location": "remote", "sessionId": OTHER, "trackName": "cam", "endpoint": "wss://out.example/v", "outputCodec": "jpeg"}
                ]}));
            then.status(200).json_body(json!({"tracks": [
                {"location": "local", "trackName": "mic", "adapterId": "a1", "sessionId": SESSION},
                {"location": "remote", "trackName": "cam", "adapterId": "a2", "sessionId": OTHER}
            ]}));
        })
        .await;
    let adapters = vec![
        AdapterRequest::ingest("mic", "wss://in.example/a"),
        AdapterRequest::stream(OTHER, "cam", "wss://out.example/v", OutputCodec::Jpeg),
    ];
    let batch = sfu(&server).new_websocket_adapters(adapters).await.unwrap();
    mock.assert_async().await;
    let done = batch.into_result().unwrap();
    assert_eq!(done[0].1.adapter_id, "a1");
    assert_eq!(
        done[0].1.session_id.as_ref().map(|s| s.as_str()),
        Some(SESSION)
    );
    assert_eq!(done[1].1.adapter_id, "a2");
    assert_eq!(done[1].1.session_id, None, "a stream makes no session");
    assert_ran(&apps_api::operations::SFU_ADAPTERS_WEBSOCKET_NEW);
}

/// A 503 whose items all failed is the batch's answer, not a 5xx to retry; a 406 is an error.
#[tokio::test]
async fn adapters_read_a_503_with_items_as_a_batch_and_a_406_as_an_error() {
    let server = MockServer::start_async().await;
    let all_failed = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(sfu_path("/adapters/websocket/new"))
                .body_includes("localhost");
            then.status(503).json_body(json!({"tracks": [
                {"location": "local", "trackName": "mic", "errorCode": "websocket_localhost_not_allowed"}
            ]}));
        })
        .await;
    let refused = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(sfu_path("/adapters/websocket/new"))
                .body_includes("example");
            then.status(406).json_body(json!({
                "errorCode": "invalid_params",
                "errorDescription": "Expecting at most 4 track in the request"
            }));
        })
        .await;
    let client = sfu(&server);
    let batch = client
        .new_websocket_adapters(vec![AdapterRequest::ingest("mic", "ws://localhost:9/a")])
        .await
        .unwrap();
    assert_eq!(
        batch.failed()[0].code,
        ItemCode::WebsocketLocalhostNotAllowed
    );
    assert!(batch.succeeded().is_empty());
    assert_eq!(all_failed.calls_async().await, 1);
    let error = client
        .new_websocket_adapters(vec![AdapterRequest::ingest("mic", "wss://x.example/a")])
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(406));
    assert_eq!(
        error.api_errors()[0].message,
        "invalid_params: Expecting at most 4 track in the request"
    );
    assert_eq!(refused.calls_async().await, 1);
}

#[tokio::test]
async fn bad_adapter_requests_are_refused_before_sending() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({}));
        })
        .await;
    let client = sfu(&server);
    let five = (0..5)
        .map(|i| AdapterRequest::ingest(format!("t{i}"), "wss://x.example"))
        .collect();
    let requests = [
        five,
        vec![],
        vec![AdapterRequest::ingest("mic", "https://x.example")],
        vec![AdapterRequest::ingest("mic", "wss://")],
        vec![AdapterRequest::ingest("", "wss://x.example")],
        vec![AdapterRequest::stream(
            "../s",
            "mic",
            "wss://x.example",
            OutputCodec::Pcm,
        )],
    ];
    for adapters in requests {
        let result = client.new_websocket_adapters(adapters).await;
        assert!(
            matches!(result, Err(Error::InvalidArgument(_))),
            "{result:?}"
        );
    }
    for ids in [&[][..], &["a", "b", "c", "d", "e"], &[""]] {
        let result = client.close_websocket_adapters(ids).await;
        assert!(
            matches!(result, Err(Error::InvalidArgument(_))),
            "{result:?}"
        );
    }
    assert_eq!(mock.calls_async().await, 0);
}

/// ASSUMPTION (spec): `adapter_not_found` means closed already, in a 200 or a 503.
#[tokio::test]
async fn close_adapters_counts_an_unknown_adapter_as_closed() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(sfu_path("/adapters/websocket/close"))
                .json_body(json!({"tracks": [{"adapterId": "a1"}, {"adapterId": "a2"}]}));
            then.status(200).json_body(json!({"tracks": [
                {"adapterId": "a2", "errorCode": "adapter_not_found"},
                {"adapterId": "a1", "bytesProcessed": 1024}
            ]}));
        })
        .await;
    let batch = sfu(&server)
        .close_websocket_adapters(&["a1", "a2"])
        .await
        .unwrap();
    mock.assert_async().await;
    let done = batch.into_result().unwrap();
    assert_eq!(done[0].0, "a1");
    assert_eq!(done[0].1.closed, Closed::Closed);
    assert_eq!(done[0].1.bytes_processed, Some(1024.0));
    assert_eq!(done[1].1.closed, Closed::AlreadyClosed);
    assert_eq!(done[1].1.bytes_processed, None);
    assert_ran(&apps_api::operations::SFU_ADAPTERS_WEBSOCKET_CLOSE);
}
