//! Cloudflare Realtime SFU data plane, sessions and tracks: each operation's request as the
//! server saw it, the typed answers with their per-item failures, the request-level failures,
//! and which operations are sent again. Data channels and adapters: `sfu_channels.rs`; pacing: `sfu_pace.rs`; hostile servers
//! and arguments: `sfu_hostile.rs`.

use apps_api::cloudflare::sfu::{
    CloseTracks, Closed, ItemCode, NewTracks, RealtimeClient, SessionDescription, SessionOptions,
    Status, TrackRequest,
};
use apps_api::{Error, RetryConfig, SessionId};
use httpmock::Method::{GET, POST, PUT};
use httpmock::MockServer;
use serde_json::json;

use crate::support::*;

pub const APP: &str = "2a95132c15732412d22c1476fa83f27a";
/// Short and not token-shaped: only the client's knowledge of it can withhold it.
pub const APP_SECRET: &str = "sfu-app-secret";
pub const SESSION: &str = "2a45361d5fd7cc14eface0587c276c94";
pub const OTHER: &str = "9f4c1e0b3d2a4f6e8c7b5a3d1e0f2c4b";
pub const OFFER: &str =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=ice-pwd:offer-ice-password\r\n";
pub const ANSWER: &str =
    "v=0\r\no=- 3 4 IN IP4 0.0.0.0\r\ns=-\r\na=ice-pwd:answer-ice-password\r\n";

/// How the tests call each operation ([`crate::drivers`]).
pub(crate) fn drivers() -> Vec<crate::drivers::Driver> {
    use crate::drivers::drive;
    vec![
        drive!(SFU_SESSIONS_NEW, |h, ids| async {
            h.sfu(&ids["app_id"])?.create_session().await
        }),
        drive!(SFU_SESSION_GET, |h, ids| async {
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .state()
                .await
        }),
        drive!(SFU_TRACKS_NEW, |h, ids| async {
            let tracks = NewTracks::new([TrackRequest::local("0", "mic")])
                .offer(SessionDescription::offer(OFFER));
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .add_tracks(&tracks)
                .await
        }),
        drive!(SFU_RENEGOTIATE, |h, ids| async {
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .renegotiate(&SessionDescription::answer(ANSWER))
                .await
        }),
        drive!(SFU_TRACKS_CLOSE, |h, ids| async {
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .close_tracks(&["0"], &CloseTracks::Force)
                .await
        }),
        drive!(SFU_TRACKS_UPDATE, |h, ids| async {
            let track = TrackRequest::remote(SESSION, "cam").mid("1");
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .update_tracks(vec![track], None)
                .await
        }),
        drive!(SFU_DATACHANNELS_ESTABLISH, |h, ids| async {
            let channel = apps_api::cloudflare::sfu::DataChannelRequest::remote(
                &ids["session_id"],
                "server-events",
            );
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .establish_data_channels(channel, None)
                .await
        }),
        drive!(SFU_DATACHANNELS_NEW, |h, ids| async {
            let channel = apps_api::cloudflare::sfu::DataChannelRequest::local("chat");
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .add_data_channels(vec![channel])
                .await
        }),
        drive!(SFU_DATACHANNELS_UPDATE, |h, ids| async {
            let channel = apps_api::cloudflare::sfu::DataChannelRequest::local("chat").unordered();
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .update_data_channels(vec![channel])
                .await
        }),
        drive!(SFU_DATACHANNELS_CLOSE, |h, ids| async {
            h.sfu(&ids["app_id"])?
                .session(&ids["session_id"])
                .close_data_channels(&[1])
                .await
        }),
        drive!(SFU_ADAPTERS_WEBSOCKET_NEW, |h, ids| async {
            let adapter = apps_api::cloudflare::sfu::AdapterRequest::ingest(
                "mic",
                "wss://ingest.example/audio",
            );
            h.sfu(&ids["app_id"])?
                .new_websocket_adapters(vec![adapter])
                .await
        }),
        drive!(SFU_ADAPTERS_WEBSOCKET_CLOSE, |h, ids| async {
            h.sfu(&ids["app_id"])?
                .close_websocket_adapters(&["5a9f1b2c"])
                .await
        }),
    ]
}

pub fn sfu_builder(server: &MockServer) -> apps_api::cloudflare::sfu::RealtimeClientBuilder {
    RealtimeClient::builder(APP, APP_SECRET)
        .base_url(server.url("/v1"))
        .sleeper(std::sync::Arc::new(RecordingSleeper::default()))
        .on_response(recorder())
}

pub fn sfu(server: &MockServer) -> RealtimeClient {
    sfu_builder(server).build().unwrap()
}

pub fn sfu_path(rest: &str) -> String {
    format!("/v1/apps/{APP}{rest}")
}

pub fn session_path(rest: &str) -> String {
    sfu_path(&format!("/sessions/{SESSION}{rest}"))
}

const BEARER: &str = "Bearer sfu-app-secret";

#[tokio::test]
async fn create_session_sends_its_options_as_query_and_no_body() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(sfu_path("/sessions/new"))
                .header("authorization", BEARER)
                .header("user-agent", USER_AGENT)
                .query_param("thirdparty", "true")
                .query_param("correlationId", "room-7")
                .body("");
            then.status(201).json_body(json!({"sessionId": SESSION}));
        })
        .await;
    let options = SessionOptions::new().third_party().correlation_id("room-7");
    let created = sfu(&server).create_session_with(&options).await.unwrap();
    mock.assert_async().await;
    assert_eq!(created.session_id, SessionId::new(SESSION));
    assert_eq!(created.session_description, None);
    assert_ran(&apps_api::operations::SFU_SESSIONS_NEW);
}

#[tokio::test]
async fn create_session_accepts_200_and_sends_no_options_unless_asked() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(sfu_path("/sessions/new"))
                .query_param_missing("thirdparty")
                .query_param_missing("correlationId");
            then.status(200)
                .json_body(json!({"sessionId": SESSION, "unknown": 1}));
        })
        .await;
    let created = sfu(&server).create_session().await.unwrap();
    mock.assert_async().await;
    assert_eq!(created.session_id.as_str(), SESSION);
}

/// A second `sessions/new` is a second session: a 5xx or a lost answer is not retried, even
/// with `retry_non_idempotent`.
#[tokio::test]
async fn create_session_is_never_sent_twice() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path(sfu_path("/sessions/new"));
            then.status(503)
                .json_body(json!({"errorCode": "internal_error"}));
        })
        .await;
    let client = sfu_builder(&server)
        .retry(RetryConfig::default().retry_non_idempotent(true))
        .build()
        .unwrap();
    let error = client.create_session().await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(mock.calls_async().await, 1);
}

#[tokio::test]
async fn an_error_code_in_a_200_is_an_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(sfu_path("/sessions/new"));
            then.status(200).json_body(json!({
                "sessionId": SESSION,
                "errorCode": "invalid_params",
                "errorDescription": "bad thirdparty"
            }));
        })
        .await;
    let error = sfu(&server).create_session().await.unwrap_err();
    let Error::Api(failure) = &error else {
        panic!("expected Api, got {error:?}")
    };
    assert_eq!(failure.status, 200);
    assert_eq!(failure.errors[0].message, "invalid_params: bad thirdparty");
}

#[tokio::test]
async fn state_reads_tracks_and_channels_and_keeps_unknown_statuses() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(session_path(""))
                .header("authorization", BEARER);
            then.status(200).json_body(json!({
                "tracks": [
                    {"location": "local", "mid": "0", "trackName": "mic", "status": "active"},
                    {"location": "remote", "mid": "1", "trackName": "cam", "sessionId": OTHER, "status": "paused"}
                ],
                "dataChannels": [
                    {"location": "local", "dataChannelName": "chat", "id": 1, "status": "initializing"},
                    {"location": "local", "dataChannelName": "odd", "id": 70000, "status": "inactive"}
                ]
            }));
        })
        .await;
    let state = sfu(&server).session(SESSION).state().await.unwrap();
    mock.assert_async().await;
    assert_eq!(state.tracks.len(), 2);
    assert_eq!(state.tracks[0].track_name.as_deref(), Some("mic"));
    assert_eq!(state.tracks[0].status, Some(Status::Active));
    assert_eq!(state.tracks[1].session_id, Some(SessionId::new(OTHER)));
    assert_eq!(state.tracks[1].status, Some(Status::Other("paused".into())));
    assert_eq!(state.data_channels[0].id, Some(1));
    assert_eq!(state.data_channels[0].status, Some(Status::Initializing));
    assert_eq!(state.data_channels[1].id, None, "70000 is no channel ID");
    assert_ran(&apps_api::operations::SFU_SESSION_GET);
}

/// 410 `session_error` is the expired signal: an error with its status and the SFU's words.
#[tokio::test]
async fn a_gone_session_is_an_error_with_its_code() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(session_path(""));
            then.status(410).json_body(
                json!({"errorCode": "session_error", "errorDescription": "session expired"}),
            );
        })
        .await;
    let error = sfu(&server).session(SESSION).state().await.unwrap_err();
    assert_eq!(error.status(), Some(410));
    assert_eq!(
        error.api_errors()[0].message,
        "session_error: session expired"
    );
}

#[tokio::test]
async fn add_tracks_sends_the_offer_and_the_tracks_as_the_spec_names_them() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(session_path("/tracks/new"))
                .header("authorization", BEARER)
                .header("content-type", "application/json")
                .json_body(json!({
                    "sessionDescription": {"type": "offer", "sdp": OFFER},
                    "tracks": [
                        {"location": "local", "mid": "0", "trackName": "mic"},
                        {"location": "local", "mid": "1", "trackName": "cam", "kind": "video"}
                    ]
                }));
            then.status(200).json_body(json!({
                "requiresImmediateRenegotiation": false,
                "sessionDescription": {"type": "answer", "sdp": ANSWER},
                "tracks": [
                    {"location": "local", "mid": "1", "trackName": "cam"},
                    {"location": "local", "mid": "0", "trackName": "mic"}
                ]
            }));
        })
        .await;
    let tracks = NewTracks::new([
        TrackRequest::local("0", "mic"),
        TrackRequest::local("1", "cam").kind("video"),
    ])
    .offer(SessionDescription::offer(OFFER));
    let added = sfu(&server)
        .session(SESSION)
        .add_tracks(&tracks)
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(
        added.session_description,
        Some(SessionDescription::answer(ANSWER))
    );
    assert!(!added.requires_immediate_renegotiation);
    let done = added.tracks.into_result().unwrap();
    // Keyed by the request, whatever the answer's order.
    assert_eq!(done[0].0.track_name, "mic");
    assert_eq!(done[0].1.mid.as_deref(), Some("0"));
    assert_eq!(done[1].0.track_name, "cam");
    assert_eq!(done[1].1.mid.as_deref(), Some("1"));
    assert_ran(&apps_api::operations::SFU_TRACKS_NEW);
}

/// pion/webrtc#2989: a failed item with an empty `mid` and no name, inside a 200; the success
/// beside it; and a request item the answer forgot.
#[tokio::test]
async fn per_item_failures_come_apart_keyed_by_what_the_request_said() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(session_path("/tracks/new"));
            then.status(200).json_body(json!({
                "requiresImmediateRenegotiation": true,
                "sessionDescription": {"type": "offer", "sdp": OFFER},
                "tracks": [
                    {"mid": "", "errorCode": "internal_error", "errorDescription": "Backend error"},
                    {"location": "remote", "mid": "0", "trackName": "cam", "sessionId": OTHER}
                ]
            }));
        })
        .await;
    let tracks = NewTracks::new([
        TrackRequest::remote(OTHER, "mic").kind("audio"),
        TrackRequest::remote(OTHER, "cam").kind("video"),
        TrackRequest::remote(OTHER, "screen"),
    ]);
    let added = sfu(&server)
        .session(SESSION)
        .add_tracks(&tracks)
        .await
        .unwrap();
    assert!(added.requires_immediate_renegotiation);
    assert!(!added.tracks.is_complete());
    let (done, failed) = added.tracks.into_parts();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0.track_name, "cam");
    assert_eq!(done[0].1.mid.as_deref(), Some("0"));
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].request.track_name, "mic");
    assert_eq!(failed[0].code, ItemCode::Internal);
    assert_eq!(failed[0].description.as_deref(), Some("Backend error"));
    assert_eq!(failed[1].request.track_name, "screen");
    assert_eq!(failed[1].code, ItemCode::NoAnswer);
}

#[tokio::test]
async fn bad_track_requests_are_refused_before_sending() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({}));
        })
        .await;
    let session = sfu(&server).session(SESSION);
    let too_many = NewTracks::new((0..65).map(|i| TrackRequest::local(i.to_string(), "t")));
    let unnamed = NewTracks::new([TrackRequest::local("0", "")]);
    let answer_as_offer =
        NewTracks::new([TrackRequest::local("0", "mic")]).offer(SessionDescription::answer(ANSWER));
    let hostile_publisher = NewTracks::new([TrackRequest::remote("../other", "mic")]);
    for tracks in [too_many, unnamed, answer_as_offer, hostile_publisher] {
        let error = session.add_tracks(&tracks).await.unwrap_err();
        assert!(
            matches!(&error, Error::InvalidArgument(m) if m.contains("nothing was sent")),
            "{error:?}"
        );
    }
    let bad_closes = [
        session.close_tracks(&[], &CloseTracks::Force).await,
        session.close_tracks(&[""], &CloseTracks::Force).await,
        session
            .close_tracks(
                &["0"],
                &CloseTracks::Negotiated(SessionDescription::answer(ANSWER)),
            )
            .await,
    ];
    for result in bad_closes {
        assert!(
            matches!(result, Err(Error::InvalidArgument(_))),
            "{result:?}"
        );
    }
    let offer_as_answer = session.renegotiate(&SessionDescription::offer(OFFER)).await;
    assert!(matches!(offer_as_answer, Err(Error::InvalidArgument(_))));
    let hostile_session = sfu(&server).session("a/b").state().await;
    assert!(matches!(hostile_session, Err(Error::InvalidArgument(_))));
    assert_eq!(mock.calls_async().await, 0);
}

/// tracks/new and renegotiate are never sent twice once sent; closes and updates are.
#[tokio::test]
async fn only_closes_and_updates_are_sent_again_after_a_5xx() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(502).body("bad gateway");
        })
        .await;
    let client = sfu_builder(&server)
        .retry(
            RetryConfig::default()
                .max_retries(2)
                .retry_non_idempotent(true),
        )
        .build()
        .unwrap();
    let session = client.session(SESSION);
    let tracks = NewTracks::new([TrackRequest::local("0", "mic")]);
    assert_eq!(
        session.add_tracks(&tracks).await.unwrap_err().status(),
        Some(502)
    );
    assert_eq!(mock.calls_async().await, 1);
    let answer = SessionDescription::answer(ANSWER);
    assert_eq!(
        session.renegotiate(&answer).await.unwrap_err().status(),
        Some(502)
    );
    assert_eq!(mock.calls_async().await, 2);
    let closed = session.close_tracks(&["0"], &CloseTracks::Force).await;
    assert_eq!(closed.unwrap_err().status(), Some(502));
    assert_eq!(mock.calls_async().await, 5, "a close is tried three times");
    let updated = session
        .update_tracks(vec![TrackRequest::remote(OTHER, "cam").mid("1")], None)
        .await;
    assert_eq!(updated.unwrap_err().status(), Some(502));
    assert_eq!(
        mock.calls_async().await,
        8,
        "an update is tried three times"
    );
}

#[tokio::test]
async fn renegotiate_sends_the_answer() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(session_path("/renegotiate"))
                .header("authorization", BEARER)
                .json_body(json!({"sessionDescription": {"type": "answer", "sdp": ANSWER}}));
            then.status(200).json_body(json!({}));
        })
        .await;
    let reply = sfu(&server)
        .session(SESSION)
        .renegotiate(&SessionDescription::answer(ANSWER))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(reply, None);
    assert_ran(&apps_api::operations::SFU_RENEGOTIATE);
}

/// `close_track_error` means the track is gone: closed, not failed.
#[tokio::test]
async fn close_tracks_counts_an_absent_track_as_closed() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(session_path("/tracks/close"))
                .header("authorization", BEARER)
                .json_body(json!({"tracks": [{"mid": "0"}, {"mid": "1"}, {"mid": "2"}], "force": true}));
            then.status(200).json_body(json!({
                "requiresImmediateRenegotiation": false,
                "tracks": [
                    {"mid": "1", "errorCode": "close_track_error", "errorDescription": "Track doesn't exist or was already closed"},
                    {"mid": "0"},
                    {"mid": "2", "errorCode": "internal_error"}
                ]
            }));
        })
        .await;
    let closed = sfu(&server)
        .session(SESSION)
        .close_tracks(&["0", "1", "2"], &CloseTracks::Force)
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(closed.session_description, None);
    assert_eq!(
        closed.tracks.succeeded(),
        &[
            ("0".to_string(), Closed::Closed),
            ("1".to_string(), Closed::AlreadyClosed)
        ]
    );
    assert_eq!(closed.tracks.failed()[0].request, "2");
    assert_eq!(closed.tracks.failed()[0].code, ItemCode::Internal);
    assert_ran(&apps_api::operations::SFU_TRACKS_CLOSE);
}

#[tokio::test]
async fn a_negotiated_close_carries_the_offer_and_reads_the_answer() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(session_path("/tracks/close"))
                .json_body(json!({
                    "tracks": [{"mid": "0"}],
                    "force": false,
                    "sessionDescription": {"type": "offer", "sdp": OFFER}
                }));
            then.status(200).json_body(json!({
                "sessionDescription": {"type": "answer", "sdp": ANSWER},
                "tracks": [{"mid": "0"}]
            }));
        })
        .await;
    let closed = sfu(&server)
        .session(SESSION)
        .close_tracks(
            &["0"],
            &CloseTracks::Negotiated(SessionDescription::offer(OFFER)),
        )
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(
        closed.session_description,
        Some(SessionDescription::answer(ANSWER))
    );
    assert!(closed.tracks.is_complete());
}

#[tokio::test]
async fn update_tracks_sends_the_new_pointing() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path(session_path("/tracks/update"))
                .header("authorization", BEARER)
                .json_body(json!({"tracks": [{
                    "location": "remote", "mid": "1", "sessionId": OTHER, "trackName": "cam",
                    "simulcast": {"preferredRid": "h"}
                }]}));
            then.status(200).json_body(json!({
                "requiresImmediateRenegotiation": true,
                "tracks": [{"mid": "1", "errorCode": "update_track_error"}]
            }));
        })
        .await;
    let track = TrackRequest::remote(OTHER, "cam")
        .mid("1")
        .simulcast(apps_api::cloudflare::sfu::Simulcast::preferring("h"));
    let updated = sfu(&server)
        .session(SESSION)
        .update_tracks(vec![track], None)
        .await
        .unwrap();
    mock.assert_async().await;
    assert!(updated.requires_immediate_renegotiation);
    // Named by `mid` alone: matched to the request item with that mid.
    assert_eq!(updated.tracks.failed()[0].request.track_name, "cam");
    assert_eq!(updated.tracks.failed()[0].code, ItemCode::UpdateTrack);
    assert_ran(&apps_api::operations::SFU_TRACKS_UPDATE);
}
