//! The SFU client against a server that lies or is unclear: answers whose items do not line up
//! with the request (discovered tracks, duplicates, items naming nothing, numbers written as
//! floats), request-level errors beside items, a 503 whose items claim success, secrets and
//! SDP in what it sends back; and arguments that would send something other than what they say.

use apps_api::cloudflare::sfu::{
    AdapterRequest, CloseTracks, DataChannelRequest, ItemCode, NewTracks, OutputCodec,
    SessionDescription, SessionOptions, TrackRequest,
};
use apps_api::{Error, RetryConfig};
use httpmock::Method::{POST, PUT};
use httpmock::MockServer;
use serde_json::json;

use crate::sfu::{
    session_path, sfu, sfu_builder, sfu_path, ANSWER, APP_SECRET, OFFER, OTHER, SESSION,
};

/// With `autoDiscover` the SFU names the tracks itself: they are in the batch, failures too.
#[tokio::test]
async fn discovered_tracks_are_in_the_batch_failures_included() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path(session_path("/tracks/new"))
                .json_body(json!({
                    "sessionDescription": {"type": "offer", "sdp": OFFER},
                    "tracks": [],
                    "autoDiscover": true
                }));
            then.status(200).json_body(json!({"tracks": [
                {"location": "local", "trackName": "screen", "mid": "0"},
                {"location": "local", "trackName": "cam", "mid": "1", "errorCode": "internal_error"}
            ]}));
        })
        .await;
    let tracks = NewTracks::new([])
        .offer(SessionDescription::offer(OFFER))
        .auto_discover();
    let added = sfu(&server)
        .session(SESSION)
        .add_tracks(&tracks)
        .await
        .unwrap();
    let (done, failed) = added.tracks.into_parts();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0.track_name, "screen");
    assert_eq!(done[0].1.mid.as_deref(), Some("0"));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].request.track_name, "cam");
    assert_eq!(failed[0].code, ItemCode::Internal);
}

/// A second item naming a track, with an error, is not lost behind the first; an item that
/// names nothing is never a success.
#[tokio::test]
async fn a_duplicate_failure_wins_and_an_anonymous_item_is_no_success() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(session_path("/tracks/new"));
            then.status(200).json_body(json!({"tracks": [
                {"trackName": "mic", "mid": "0"},
                {"trackName": "mic", "errorCode": "internal_error"},
                {"mid": ""}
            ]}));
        })
        .await;
    let tracks = NewTracks::new([
        TrackRequest::remote(OTHER, "mic"),
        TrackRequest::remote(OTHER, "cam"),
    ]);
    let added = sfu(&server)
        .session(SESSION)
        .add_tracks(&tracks)
        .await
        .unwrap();
    let (done, failed) = added.tracks.into_parts();
    assert!(done.is_empty(), "{done:?}");
    assert_eq!(failed[0].request.track_name, "mic");
    assert_eq!(failed[0].code, ItemCode::Internal);
    assert_eq!(failed[1].request.track_name, "cam");
    assert_eq!(failed[1].code, ItemCode::NoAnswer);
}

#[tokio::test]
async fn close_items_that_name_nothing_are_no_answer() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(PUT).path(session_path("/datachannels/close"));
            then.status(200)
                .json_body(json!({"dataChannels": [{}, {"id": 70000}]}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(PUT).path(session_path("/tracks/close"));
            then.status(200).json_body(json!({"tracks": [{"mid": ""}]}));
        })
        .await;
    let session = sfu(&server).session(SESSION);
    let closed = session.close_data_channels(&[5, 6]).await.unwrap();
    assert!(closed.succeeded().is_empty(), "{closed:?}");
    assert!(closed.failed().iter().all(|f| f.code == ItemCode::NoAnswer));
    let closed = session
        .close_tracks(&["0"], &CloseTracks::Force)
        .await
        .unwrap();
    assert_eq!(closed.tracks.failed()[0].code, ItemCode::NoAnswer);
}

/// Two subscriptions of one channel name from two publishers: each gets its own ID, whatever
/// the answer's order; an ID written as `2.0` is 2.
#[tokio::test]
async fn channels_of_one_name_from_two_publishers_keep_their_own_ids() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(session_path("/datachannels/new"));
            then.status(200).json_body(json!({"dataChannels": [
                {"location": "remote", "dataChannelName": "chat", "sessionId": OTHER, "id": 2.0},
                {"location": "remote", "dataChannelName": "chat", "sessionId": SESSION, "id": 3}
            ]}));
        })
        .await;
    let batch = sfu(&server)
        .session(SESSION)
        .add_data_channels(vec![
            DataChannelRequest::remote(SESSION, "chat"),
            DataChannelRequest::remote(OTHER, "chat"),
        ])
        .await
        .unwrap();
    let done = batch.into_result().unwrap();
    assert_eq!(done[0].0.session_id.as_ref().unwrap().as_str(), SESSION);
    assert_eq!(done[0].1.id, 3);
    assert_eq!(done[1].1.id, 2);
}

/// An `errorCode` at the top of a 200 is an error even beside items; in a 503, an item without
/// a code of its own failed all the same.
#[tokio::test]
async fn adapters_read_a_top_level_error_and_a_503_without_item_codes_as_failures() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(sfu_path("/adapters/websocket/new"));
            then.status(200).json_body(json!({
                "errorCode": "internal_error",
                "tracks": [{"trackName": "mic", "location": "local", "adapterId": "a1"}]
            }));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path(sfu_path("/adapters/websocket/close"));
            then.status(503)
                .json_body(json!({"tracks": [{"adapterId": "a1"}]}));
        })
        .await;
    let client = sfu(&server);
    let error = client
        .new_websocket_adapters(vec![AdapterRequest::ingest("mic", "wss://in.example")])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Api(f) if f.status == 200),
        "{error:?}"
    );
    let closed = client.close_websocket_adapters(&["a1"]).await.unwrap();
    assert!(closed.succeeded().is_empty());
    assert_eq!(closed.failed()[0].code, ItemCode::TemporarilyUnavailable);
}

/// A `sessions/new` 200 that is only an error: the SFU's error, not a decode error.
#[tokio::test]
async fn a_2xx_that_is_only_an_error_code_is_the_sfus_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(sfu_path("/sessions/new"));
            then.status(200)
                .json_body(json!({"errorCode": "unauthorized"}));
        })
        .await;
    let error = sfu(&server).create_session().await.unwrap_err();
    assert!(
        matches!(&error, Error::Api(f) if f.errors[0].message == "unauthorized"),
        "{error:?}"
    );
}

/// A close or update carrying an offer is not sent again after a 5xx: its offer would be stale.
#[tokio::test]
async fn a_close_or_update_with_an_offer_is_never_sent_twice() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(502).body("");
        })
        .await;
    let client = sfu_builder(&server)
        .retry(RetryConfig::default().max_retries(2))
        .build()
        .unwrap();
    let session = client.session(SESSION);
    let negotiated = CloseTracks::Negotiated(SessionDescription::offer(OFFER));
    let closed = session.close_tracks(&["0"], &negotiated).await;
    assert_eq!(closed.unwrap_err().status(), Some(502));
    assert_eq!(mock.calls_async().await, 1);
    let track = TrackRequest::remote(OTHER, "cam").mid("1");
    let updated = session
        .update_tracks(vec![track], Some(SessionDescription::offer(OFFER)))
        .await;
    assert_eq!(updated.unwrap_err().status(), Some(502));
    assert_eq!(mock.calls_async().await, 2);
}

#[tokio::test]
async fn arguments_that_would_send_something_else_are_refused() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({}));
        })
        .await;
    let client = sfu(&server);
    let session = client.session(SESSION);
    let cam = || TrackRequest::remote(OTHER, "cam").mid("1");
    let refused = [
        session
            .update_tracks(vec![cam()], Some(SessionDescription::answer(ANSWER)))
            .await
            .err(),
        session
            .update_tracks(vec![TrackRequest::remote(OTHER, "cam")], None)
            .await
            .err(),
        session.update_tracks(vec![], None).await.err(),
        session.close_data_channels(&[65535]).await.err(),
        client
            .new_websocket_adapters(vec![AdapterRequest::ingest("mic", "wss://ho\nst/x")])
            .await
            .err(),
        client
            .new_websocket_adapters(vec![AdapterRequest::ingest("mic", "wss://host/x\t")])
            .await
            .err(),
        client
            .create_session_with(&SessionOptions::new().correlation_id("x".repeat(257)))
            .await
            .err(),
        client
            .create_session_with(&SessionOptions::new().correlation_id("a\r\nb"))
            .await
            .err(),
    ];
    for (i, error) in refused.into_iter().enumerate() {
        assert!(
            matches!(error, Some(Error::InvalidArgument(_))),
            "{i}: {error:?}"
        );
    }
    assert_eq!(mock.calls_async().await, 0);
}

/// SDP carries ICE credentials, an adapter endpoint often a token: a dry run shows neither, and
/// `Debug` of an adapter request only the endpoint's scheme and host.
#[tokio::test]
async fn dry_runs_and_debug_show_no_sdp_and_no_endpoint_credentials() {
    let server = MockServer::start_async().await;
    let session = sfu(&server).session(SESSION);
    let tracks =
        NewTracks::new([TrackRequest::local("0", "mic")]).offer(SessionDescription::offer(OFFER));
    let prepared = apps_api::dry_run(session.add_tracks(&tracks))
        .await
        .unwrap_or_else(|_| panic!("a request is prepared"));
    let shown = serde_json::to_string(&prepared).unwrap();
    assert!(!shown.contains("ice-pwd"), "{shown}");
    assert!(shown.contains("trackName"), "{shown}");
    let adapter = AdapterRequest::stream(
        OTHER,
        "mic",
        "wss://user:hunter2@out.example/a?token=t0ps3cret",
        OutputCodec::Pcm,
    );
    let debug = format!("{adapter:?}");
    assert!(debug.contains("wss://out.example"), "{debug}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("t0ps3cret"),
        "{debug}"
    );
    // A dry run of the adapter request: the endpoint's scheme, host and path, nothing else.
    let client = sfu(&server);
    let prepared = apps_api::dry_run(client.new_websocket_adapters(vec![adapter.clone()]))
        .await
        .unwrap_or_else(|_| panic!("a request is prepared"));
    let shown = serde_json::to_string(&prepared).unwrap();
    assert!(
        shown.contains("wss://[redacted]@out.example/a?[redacted]"),
        "{shown}"
    );
    assert!(
        !shown.contains("hunter2") && !shown.contains("t0ps3cret"),
        "{shown}"
    );
}

/// An SFU that quotes an adapter's endpoint back (in an item's description, a request-level
/// description, or a body that is no JSON) shows neither its user info nor its query.
#[tokio::test]
async fn an_endpoint_quoted_back_by_the_sfu_shows_no_credentials() {
    let endpoint = "wss://user:hunter2@out.example/a?token=t0ps3cret";
    let quoted = format!("cannot reach {endpoint}");
    let adapter = || {
        AdapterRequest::stream(
            OTHER,
            "mic",
            endpoint,
            apps_api::cloudflare::sfu::OutputCodec::Pcm,
        )
    };
    for (status, body) in [
        (
            200,
            json!({"tracks": [{"trackName": "mic", "sessionId": OTHER,
                               "errorCode": "adapter_error", "errorDescription": quoted}]}),
        ),
        (
            400,
            json!({"errorCode": "invalid_request", "errorDescription": quoted}),
        ),
        (400, json!(format!("<html>{quoted}</html>"))),
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path(sfu_path("/adapters/websocket/new"));
                then.status(status).json_body(body.clone());
            })
            .await;
        let shown = match sfu(&server).new_websocket_adapters(vec![adapter()]).await {
            Ok(batch) => format!("{:?}", batch.failed()),
            Err(error) => format!("{error} {error:?}"),
        };
        assert!(shown.contains("out.example"), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("t0ps3cret"),
            "{status}: {shown}"
        );
    }
}

/// A caller's label cannot add a query parameter: `correlationId` is one encoded value.
#[tokio::test]
async fn a_correlation_id_cannot_add_a_query_parameter() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(sfu_path("/sessions/new"))
                .query_param("correlationId", "room 7&thirdparty=true#x")
                .query_param_missing("thirdparty");
            then.status(201).json_body(json!({"sessionId": SESSION}));
        })
        .await;
    let options = SessionOptions::new().correlation_id("room 7&thirdparty=true#x");
    sfu(&server).create_session_with(&options).await.unwrap();
    mock.assert_async().await;
}

/// The SFU never redirects: a redirect is an error naming its host, not followed with the
/// app's secret, and a create is not sent again.
#[tokio::test]
async fn a_redirect_is_not_followed_with_the_secret() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path(sfu_path("/sessions/new"));
            then.status(307)
                .header("location", "https://evil.example/v1/apps/x/sessions/new");
        })
        .await;
    let error = sfu(&server).create_session().await.unwrap_err();
    assert_eq!(mock.calls_async().await, 1);
    let failure = error.failure().expect("an API failure");
    assert_eq!(failure.status, 307);
    assert_eq!(failure.redirect_host.as_deref(), Some("evil.example"));
}

/// An operator's slip: a plain-HTTP base URL off loopback, or one with user info, is refused
/// when the client is built; nothing is sent.
#[test]
fn a_cleartext_or_credentialed_base_url_is_refused() {
    for url in [
        "http://rtc.example/v1",
        "https://user:pw@rtc.live.cloudflare.com/v1",
        "rtc.live.cloudflare.com/v1",
    ] {
        let built = apps_api::cloudflare::sfu::RealtimeClient::builder(
            "2a95132c15732412d22c1476fa83f27a",
            "s",
        )
        .base_url(url)
        .build();
        assert!(matches!(built, Err(Error::Config(_))), "{url}: {built:?}");
    }
}

/// A request-level `errorCode` in a 200 fails every one of the 12 operations with the SFU's
/// words, whatever items the answer also lists; a 400 too.
#[tokio::test]
async fn every_operation_fails_on_a_request_level_error() {
    for status in [200, 400] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.any_request();
                then.status(status).json_body(json!({
                    "errorCode": "invalid_params", "errorDescription": "bad",
                    "sessionId": SESSION, "tracks": [], "dataChannels": []
                }));
            })
            .await;
        let client = sfu(&server);
        let session = client.session(SESSION);
        let offer = || SessionDescription::offer(OFFER);
        let local = || DataChannelRequest::local("chat");
        let results: Vec<Result<(), Error>> = vec![
            client.create_session().await.map(drop),
            session.state().await.map(drop),
            session
                .add_tracks(&NewTracks::new([TrackRequest::local("0", "mic")]).offer(offer()))
                .await
                .map(drop),
            session
                .renegotiate(&SessionDescription::answer(ANSWER))
                .await
                .map(drop),
            session
                .close_tracks(&["0"], &CloseTracks::Force)
                .await
                .map(drop),
            session
                .update_tracks(vec![TrackRequest::remote(OTHER, "cam").mid("1")], None)
                .await
                .map(drop),
            session
                .establish_data_channels(local(), None)
                .await
                .map(drop),
            session.add_data_channels(vec![local()]).await.map(drop),
            session.update_data_channels(vec![local()]).await.map(drop),
            session.close_data_channels(&[1]).await.map(drop),
            client
                .new_websocket_adapters(vec![AdapterRequest::ingest("mic", "wss://x.example")])
                .await
                .map(drop),
            client.close_websocket_adapters(&["a1"]).await.map(drop),
        ];
        assert_eq!(results.len(), 12);
        for (i, result) in results.into_iter().enumerate() {
            let error = result.expect_err(&format!("{status}: operation {i} failed"));
            assert_eq!(error.status(), Some(status), "{i}");
            assert_eq!(
                error.api_errors()[0].message,
                "invalid_params: bad",
                "{status}: {i}"
            );
        }
    }
}

/// A session ID from the server that would leave its path segment is returned as given (the
/// session may exist), but no request is ever sent with it.
#[tokio::test]
async fn a_hostile_session_id_from_the_server_is_never_used_in_a_path() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST).path(sfu_path("/sessions/new"));
            then.status(201)
                .json_body(json!({"sessionId": "../../apps/other"}));
        })
        .await;
    let client = sfu(&server);
    let created = client.create_session().await.unwrap();
    assert_eq!(created.session_id.as_str(), "../../apps/other");
    assert_eq!(create.calls_async().await, 1);
    let anything = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({}));
        })
        .await;
    let state = client.session(&created.session_id).state().await;
    assert!(matches!(state, Err(Error::InvalidArgument(_))), "{state:?}");
    assert_eq!(anything.calls_async().await, 0);
}

/// A caller's track name is data: quotes and braces stay inside the JSON string.
#[tokio::test]
async fn a_track_name_cannot_break_out_of_its_json_string() {
    let server = MockServer::start_async().await;
    let name = "mic\",\"sessionId\":\"x\"}],\"autoDiscover\":true,\"a\":[{\"b\":\"\u{0}";
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(session_path("/tracks/new"))
                .json_body(
                    json!({"tracks": [{"location": "local", "mid": "0", "trackName": name}]}),
                );
            then.status(200)
                .json_body(json!({"tracks": [{"trackName": name, "mid": "0"}]}));
        })
        .await;
    let added = sfu(&server)
        .session(SESSION)
        .add_tracks(&NewTracks::new([TrackRequest::local("0", name)]))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(added.tracks.into_result().unwrap()[0].0.track_name, name);
}

/// The app secret and SDP stay out of `Debug` and errors; the SFU's words are bounded and
/// escaped, and a description that quotes the secret is withheld.
#[tokio::test]
async fn secrets_and_sdp_stay_out_of_debug_and_errors() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(session_path("/tracks/new"));
            then.status(200).json_body(json!({
                "sessionDescription": {"type": "answer", "sdp": ANSWER},
                "tracks": [
                    {"trackName": "mic", "errorCode": "internal_error",
                     "errorDescription": format!("no \u{1b}[31m{}{}", APP_SECRET, "x".repeat(500))},
                    {"trackName": "cam", "errorCode": format!("\u{1b}[2J{APP_SECRET}{}", "y".repeat(5000))}
                ]
            }));
        })
        .await;
    let client = sfu(&server);
    assert!(!format!("{client:?}").contains(APP_SECRET));
    let tracks = NewTracks::new([
        TrackRequest::local("0", "mic"),
        TrackRequest::local("1", "cam"),
    ])
    .offer(SessionDescription::offer(OFFER));
    let added = client.session(SESSION).add_tracks(&tracks).await.unwrap();
    // A code the client does not know is kept, as safe text.
    let unknown = added.tracks.failed()[1].code.as_str();
    assert!(
        !unknown.contains(APP_SECRET) && !unknown.contains('\u{1b}'),
        "{unknown}"
    );
    assert!(unknown.len() <= 160, "{}", unknown.len());
    let shown = format!("{added:?} {tracks:?}");
    assert!(!shown.contains("ice-pwd"), "{shown}");
    let description = added.tracks.failed()[0].description.clone().unwrap();
    assert!(!description.contains(APP_SECRET), "{description}");
    assert!(!description.contains('\u{1b}'), "{description}");
    assert!(description.len() <= 160, "{}", description.len());
}
