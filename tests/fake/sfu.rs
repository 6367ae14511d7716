//! The fake Realtime SFU over raw HTTP, as a client of any language sees it: auth by the Calls
//! app's secret, sessions and tracks between two participants, data channels, adapters, strict
//! bodies, expiry, and faults (whole answers and single items).

use std::time::Duration;

use apps_api::fake::{FakeConfig, FakeServer};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::send;

mod adapters;
mod channels;
mod faults;

/// An endpoint's offer with an audio (`0`) and a video (`1`) transceiver.
const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
                     m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
                     m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n";
const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

/// A Calls app the fake's management API created, and its secret.
struct App {
    id: String,
    secret: String,
}

async fn app(fake: &FakeServer) -> App {
    let cf = fake.cloudflare_client().unwrap();
    let created = cf
        .calls(fake.account_id())
        .create(Some("sfu"))
        .await
        .unwrap();
    App {
        id: created.app.id.unwrap().to_string(),
        secret: created.secret.expose().to_string(),
    }
}

/// A request to `path` under the app, with `bearer`, answered as (status, JSON or null).
async fn call_as(
    fake: &FakeServer,
    app: &App,
    bearer: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/apps/{}{path}", fake.realtime_base_url(), app.id);
    let auth = format!("Bearer {bearer}");
    send(method, &url, &[("authorization", &auth)], body).await
}

/// A request with the app's own secret.
async fn call(
    fake: &FakeServer,
    app: &App,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    call_as(fake, app, &app.secret, method, path, body).await
}

async fn new_session(fake: &FakeServer, app: &App) -> String {
    let (status, body) = call(fake, app, Method::POST, "/sessions/new", None).await;
    assert_eq!(status, 201, "{body}");
    let id = body["sessionId"].as_str().unwrap().to_string();
    assert_eq!(body, json!({"sessionId": id}));
    assert!(id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    id
}

/// `session` publishes `names` (mids 0, 1, ...) with an offer.
async fn publish(fake: &FakeServer, app: &App, session: &str, names: &[&str]) -> Value {
    let tracks: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"location": "local", "mid": i.to_string(), "trackName": name}))
        .collect();
    let body = json!({"sessionDescription": {"type": "offer", "sdp": OFFER}, "tracks": tracks});
    let path = format!("/sessions/{session}/tracks/new");
    let (status, answer) = call(fake, app, Method::POST, &path, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn get(fake: &FakeServer, app: &App, session: &str) -> (u16, Value) {
    call(
        fake,
        app,
        Method::GET,
        &format!("/sessions/{session}"),
        None,
    )
    .await
}

fn error(code: &str, description: &str) -> Value {
    json!({"errorCode": code, "errorDescription": description})
}

fn decoding_error() -> Value {
    error("decoding_error", "JSON body validation error")
}

/// `answer` without its `sessionDescription`, which the caller checked.
fn without_sdp(mut answer: Value, kind: &str) -> Value {
    let description = answer
        .as_object_mut()
        .unwrap()
        .remove("sessionDescription")
        .unwrap_or_else(|| panic!("no sessionDescription in {answer}"));
    assert_eq!(description["type"], kind);
    assert!(description["sdp"].as_str().unwrap().starts_with("v=0\r\n"));
    answer
}

#[tokio::test]
async fn only_the_apps_own_secret_is_accepted() {
    let fake = FakeServer::start().await.unwrap();
    let (mine, other) = (app(&fake).await, app(&fake).await);
    let denied = error(
        "unauthorized",
        "the bearer is not the secret of this Calls app",
    );
    let path = "/sessions/new";
    let wrong = call_as(&fake, &mine, "not-the-secret", Method::POST, path, None).await;
    assert_eq!(wrong, (401, denied.clone()));
    let others = call_as(&fake, &mine, &other.secret, Method::POST, path, None).await;
    assert_eq!(others, (401, denied.clone()));
    let token = fake.cloudflare_token().expose().to_string();
    let api_token = call_as(&fake, &mine, &token, Method::POST, path, None).await;
    assert_eq!(api_token, (401, denied.clone()));
    let url = format!("{}/apps/{}{path}", fake.realtime_base_url(), mine.id);
    assert_eq!(
        send(Method::POST, &url, &[], None).await,
        (401, denied.clone())
    );
    // An app that does not exist has no secret to match.
    let ghost = App {
        id: "0".repeat(32),
        secret: mine.secret.clone(),
    };
    assert_eq!(call(&fake, &ghost, Method::POST, path, None).await.0, 401);
    // A deleted app's secret no longer works.
    let cf = fake.cloudflare_client().unwrap();
    new_session(&fake, &other).await;
    cf.calls(fake.account_id())
        .delete(&apps_api::CallsAppId::new(&other.id))
        .await
        .unwrap();
    assert_eq!(
        call(&fake, &other, Method::POST, path, None).await,
        (401, denied)
    );
}

#[tokio::test]
async fn two_participants_publish_pull_renegotiate_and_close() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let (a, b) = (
        new_session(&fake, &app).await,
        new_session(&fake, &app).await,
    );

    let published = publish(&fake, &app, &a, &["mic", "cam"]).await;
    let sdp = published["sessionDescription"]["sdp"].as_str().unwrap();
    assert!(
        sdp.contains("a=mid:0\r\n") && sdp.contains("a=mid:1\r\n"),
        "{sdp}"
    );
    assert!(sdp.contains("m=audio") && sdp.contains("m=video"), "{sdp}");
    assert_eq!(
        without_sdp(published, "answer"),
        json!({"requiresImmediateRenegotiation": false, "tracks": [
            {"location": "local", "mid": "0", "trackName": "mic"},
            {"location": "local", "mid": "1", "trackName": "cam"},
        ]})
    );

    let pull = json!({"tracks": [
        {"location": "remote", "sessionId": a, "trackName": "mic"},
        {"location": "remote", "sessionId": a, "trackName": "cam"},
    ]});
    let b_tracks = format!("/sessions/{b}/tracks/new");
    let (status, pulled) = call(&fake, &app, Method::POST, &b_tracks, Some(pull.clone())).await;
    assert_eq!(status, 200, "{pulled}");
    assert_eq!(
        without_sdp(pulled, "offer"),
        json!({"requiresImmediateRenegotiation": true, "tracks": [
            {"location": "remote", "mid": "0", "sessionId": a, "trackName": "mic"},
            {"location": "remote", "mid": "1", "sessionId": a, "trackName": "cam"},
        ]})
    );
    // Another negotiation before the SFU's offer is answered overlaps it.
    let overlapping = call(&fake, &app, Method::POST, &b_tracks, Some(pull)).await;
    assert_eq!(overlapping.0, 406, "{}", overlapping.1);
    assert_eq!(overlapping.1["errorCode"], "invalid_session_description");

    let renegotiate = format!("/sessions/{b}/renegotiate");
    let answer = json!({"sessionDescription": {"type": "answer", "sdp": ANSWER}});
    let done = call(&fake, &app, Method::PUT, &renegotiate, Some(answer.clone())).await;
    assert_eq!(done, (200, json!({})));
    let replayed = call(&fake, &app, Method::PUT, &renegotiate, Some(answer)).await;
    assert_eq!(
        replayed,
        (
            400,
            error(
                "invalid_session_description",
                "no offer of the SFU waits for an answer"
            )
        )
    );

    assert_eq!(
        get(&fake, &app, &a).await,
        (
            200,
            json!({"tracks": [
                {"location": "local", "mid": "0", "trackName": "mic", "status": "active"},
                {"location": "local", "mid": "1", "trackName": "cam", "status": "active"},
            ], "dataChannels": []})
        )
    );
    assert_eq!(
        get(&fake, &app, &b).await,
        (
            200,
            json!({"tracks": [
                {"location": "remote", "mid": "0", "trackName": "mic", "sessionId": a, "status": "active"},
                {"location": "remote", "mid": "1", "trackName": "cam", "sessionId": a, "status": "active"},
            ], "dataChannels": []})
        )
    );

    let close = format!("/sessions/{a}/tracks/close");
    let mids = json!([{"mid": "0"}, {"mid": "1"}]);
    let unnegotiated = json!({"tracks": mids, "force": false});
    let (status, body) = call(&fake, &app, Method::PUT, &close, Some(unnegotiated)).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (400, &json!("invalid_session_description"))
    );
    let negotiated = json!({"tracks": mids, "force": false,
        "sessionDescription": {"type": "offer", "sdp": OFFER}});
    let (status, closed) = call(&fake, &app, Method::PUT, &close, Some(negotiated)).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(
        without_sdp(closed, "answer"),
        json!({"requiresImmediateRenegotiation": false, "tracks": [{"mid": "0"}, {"mid": "1"}]})
    );
    let (_, state) = get(&fake, &app, &a).await;
    assert_eq!(state["tracks"][0]["status"], "inactive");
    assert_eq!(state["tracks"][1]["status"], "inactive");

    let forced = json!({"tracks": [{"mid": "0"}], "force": true});
    assert_eq!(
        call(&fake, &app, Method::PUT, &close, Some(forced)).await,
        (
            200,
            json!({"requiresImmediateRenegotiation": false, "tracks": [{
                "mid": "0",
                "errorCode": "close_track_error",
                "errorDescription": "Track doesn't exist or was already closed"
            }]})
        )
    );
    // A closed track can no longer be pulled.
    let again = json!({"tracks": [{"location": "remote", "sessionId": a, "trackName": "mic"}]});
    let (status, body) = call(&fake, &app, Method::POST, &b_tracks, Some(again)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tracks"][0]["errorCode"], "not_found_track_error");
    assert_eq!(body["requiresImmediateRenegotiation"], false);
}

#[tokio::test]
async fn pulling_a_track_nobody_publishes_fails_that_item_in_a_200() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let (a, b) = (
        new_session(&fake, &app).await,
        new_session(&fake, &app).await,
    );
    publish(&fake, &app, &a, &["mic"]).await;
    let pull = json!({"tracks": [
        {"location": "remote", "sessionId": a, "trackName": "ghost"},
        {"location": "remote", "sessionId": a, "trackName": "mic"},
    ]});
    let path = format!("/sessions/{b}/tracks/new");
    let (status, body) = call(&fake, &app, Method::POST, &path, Some(pull)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        without_sdp(body, "offer"),
        json!({"requiresImmediateRenegotiation": true, "tracks": [
            {"mid": "", "trackName": "ghost", "sessionId": a,
             "errorCode": "not_found_track_error", "errorDescription": "Track not found"},
            {"location": "remote", "mid": "0", "sessionId": a, "trackName": "mic"},
        ]})
    );
    // Every item failed: no SDP, nothing to renegotiate.
    let ghost = json!({"tracks": [{"location": "remote", "sessionId": b, "trackName": "x"}]});
    let c = new_session(&fake, &app).await;
    let path = format!("/sessions/{c}/tracks/new");
    assert_eq!(
        call(&fake, &app, Method::POST, &path, Some(ghost)).await,
        (
            200,
            json!({"requiresImmediateRenegotiation": false, "tracks": [
                {"mid": "", "trackName": "x", "sessionId": b,
                 "errorCode": "not_found_track_error", "errorDescription": "Track not found"},
            ]})
        )
    );
}

#[tokio::test]
async fn a_remote_transceiver_can_be_pointed_at_another_track() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let (a, b) = (
        new_session(&fake, &app).await,
        new_session(&fake, &app).await,
    );
    publish(&fake, &app, &a, &["mic", "cam"]).await;
    let pull = json!({"tracks": [{"location": "remote", "sessionId": a, "trackName": "mic"}]});
    let path = format!("/sessions/{b}/tracks/new");
    assert_eq!(
        call(&fake, &app, Method::POST, &path, Some(pull)).await.0,
        200
    );
    let update = format!("/sessions/{b}/tracks/update");
    let body = json!({"tracks": [
        {"location": "remote", "mid": "0", "sessionId": a, "trackName": "cam"},
        {"location": "remote", "mid": "9", "sessionId": a, "trackName": "cam"},
        {"location": "remote", "mid": "0", "sessionId": a, "trackName": "ghost"},
    ]});
    assert_eq!(
        call(&fake, &app, Method::PUT, &update, Some(body)).await,
        (
            200,
            json!({"requiresImmediateRenegotiation": false, "tracks": [
                {"location": "remote", "mid": "0", "sessionId": a, "trackName": "cam"},
                {"mid": "9", "errorCode": "not_found_track_error", "errorDescription": "Track not found"},
                {"location": "remote", "mid": "0", "sessionId": a, "trackName": "ghost",
                 "errorCode": "not_found_track_error", "errorDescription": "Track not found"},
            ]})
        )
    );
    let (_, state) = get(&fake, &app, &b).await;
    assert_eq!(state["tracks"][0]["trackName"], "cam");
}

#[tokio::test]
async fn bodies_are_checked_as_strictly_as_cloudflare_does() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let a = new_session(&fake, &app).await;
    let tracks = format!("/sessions/{a}/tracks/new");
    let offer = json!({"type": "offer", "sdp": OFFER});
    let cases = [
        (
            tracks.as_str(),
            Method::POST,
            json!({"sessionDescription": offer, "tracks": [{"location": "local", "mid": "0", "trackname": "mic"}]}),
        ),
        (
            tracks.as_str(),
            Method::POST,
            json!({"sessionDescription": offer, "tracks": [{"location": "local", "mid": 0, "trackName": "mic"}]}),
        ),
        (
            tracks.as_str(),
            Method::POST,
            json!({"sessionDescription": {"type": "pranswer", "sdp": OFFER}, "tracks": []}),
        ),
        (tracks.as_str(), Method::POST, json!("not an object")),
        (
            "/adapters/websocket/new",
            Method::POST,
            json!({"tracks": [], "extra": true}),
        ),
    ];
    for (path, method, body) in cases {
        let answer = call(&fake, &app, method, path, Some(body.clone())).await;
        assert_eq!(answer, (400, decoding_error()), "{body}");
    }
    let close = format!("/sessions/{a}/tracks/close");
    let yes = json!({"tracks": [{"mid": "0"}], "force": "yes"});
    assert_eq!(
        call(&fake, &app, Method::PUT, &close, Some(yes)).await,
        (400, decoding_error())
    );
    let url = format!("{}/apps/{}{tracks}", fake.realtime_base_url(), app.id);
    let not_json = crate::support::http()
        .post(&url)
        .bearer_auth(&app.secret)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(not_json.json::<Value>().await.unwrap(), decoding_error());

    // Values the schema refuses: 406.
    let unnamed = json!({"sessionDescription": offer, "tracks": [{"location": "local", "mid": "0", "trackName": ""}]});
    let (status, body) = call(&fake, &app, Method::POST, &tracks, Some(unnamed)).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (406, &json!("invalid_params"))
    );
    let many: Vec<Value> = (0..65)
        .map(|i| json!({"location": "local", "mid": i.to_string(), "trackName": format!("t{i}")}))
        .collect();
    let too_many = json!({"sessionDescription": offer, "tracks": many});
    assert_eq!(
        call(&fake, &app, Method::POST, &tracks, Some(too_many)).await,
        (
            406,
            error(
                "invalid_params",
                "Expecting at most 64 tracks in the request"
            )
        )
    );
    // Publishing needs an offer.
    let no_offer = json!({"tracks": [{"location": "local", "mid": "0", "trackName": "mic"}]});
    let (status, body) = call(&fake, &app, Method::POST, &tracks, Some(no_offer)).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (400, &json!("invalid_session_description"))
    );
    // Nothing refused changed the session.
    assert_eq!(
        get(&fake, &app, &a).await,
        (200, json!({"tracks": [], "dataChannels": []}))
    );
}

#[tokio::test]
async fn idle_sessions_expire_with_410_and_unknown_ones_are_404() {
    let config = FakeConfig::new().sfu_session_idle(Duration::from_millis(800));
    let fake = FakeServer::start_with(config).await.unwrap();
    let (app1, app2) = (app(&fake).await, app(&fake).await);
    let a = new_session(&fake, &app1).await;
    let not_found = error("not_found", "session not found in this app");
    assert_eq!(get(&fake, &app2, &a).await, (404, not_found.clone()));
    assert_eq!(get(&fake, &app1, &"0".repeat(32)).await, (404, not_found));
    // An ingest adapter holds its session open until it closes.
    let ingest = json!({"tracks": [{"location": "local", "trackName": "in",
        "endpoint": "wss://example.com/in", "inputCodec": "pcm"}]});
    let new = "/adapters/websocket/new";
    let (status, body) = call(&fake, &app1, Method::POST, new, Some(ingest)).await;
    assert_eq!(status, 200, "{body}");
    let held = body["tracks"][0]["sessionId"].as_str().unwrap().to_string();
    let adapter = body["tracks"][0]["adapterId"].clone();

    // Used within the idle time, a session lives on.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(get(&fake, &app1, &a).await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let expired = error("session_error", "session expired");
    assert_eq!(get(&fake, &app1, &a).await, (410, expired.clone()));
    let tracks = format!("/sessions/{a}/tracks/new");
    let pull = json!({"tracks": []});
    assert_eq!(
        call(&fake, &app1, Method::POST, &tracks, Some(pull)).await,
        (410, expired.clone())
    );
    assert_eq!(get(&fake, &app1, &a).await, (410, expired.clone()));

    assert_eq!(get(&fake, &app1, &held).await.0, 200, "held by its adapter");
    let close = json!({"tracks": [{"adapterId": adapter}]});
    let closed = call(
        &fake,
        &app1,
        Method::POST,
        "/adapters/websocket/close",
        Some(close),
    )
    .await;
    assert_eq!(closed.0, 200, "{}", closed.1);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(get(&fake, &app1, &held).await, (410, expired));
}

#[tokio::test]
async fn sessions_can_be_expired_at_once() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let (a, b) = (
        new_session(&fake, &app).await,
        new_session(&fake, &app).await,
    );
    fake.expire_sfu_sessions();
    assert_eq!(get(&fake, &app, &a).await.0, 410);
    let control = format!("{}/__fake/expire-sfu-sessions", fake.hover_base_url());
    assert_eq!(send(Method::POST, &control, &[], None).await.0, 204);
    assert_eq!(get(&fake, &app, &b).await.0, 410);
    assert_eq!(
        get(&fake, &app, &new_session(&fake, &app).await).await.0,
        200
    );
}

#[tokio::test]
async fn sessions_and_tracks_are_bounded() {
    let fake = FakeServer::start().await.unwrap();
    let app = app(&fake).await;
    let a = new_session(&fake, &app).await;
    let tracks = format!("/sessions/{a}/tracks/new");
    for batch in 0..4 {
        let items: Vec<Value> = (0..64)
            .map(|i| {
                let mid = (batch * 64 + i).to_string();
                json!({"location": "local", "mid": mid, "trackName": format!("t{mid}")})
            })
            .collect();
        let body = json!({"sessionDescription": {"type": "offer", "sdp": OFFER}, "tracks": items});
        assert_eq!(
            call(&fake, &app, Method::POST, &tracks, Some(body)).await.0,
            200
        );
    }
    let one_more = json!({"sessionDescription": {"type": "offer", "sdp": OFFER},
        "tracks": [{"location": "local", "mid": "999", "trackName": "last"}]});
    let (status, body) = call(&fake, &app, Method::POST, &tracks, Some(one_more)).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (406, &json!("invalid_params")),
        "{body}"
    );
    let (_, state) = get(&fake, &app, &a).await;
    assert_eq!(state["tracks"].as_array().unwrap().len(), 256);

    for _ in 1..256 {
        new_session(&fake, &app).await;
    }
    let (status, body) = call(&fake, &app, Method::POST, "/sessions/new", None).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (406, &json!("invalid_params")),
        "{body}"
    );
    // Another app has room of its own.
    new_session(&fake, &self::app(&fake).await).await;
    // Reset forgets them.
    fake.reset();
    assert_eq!(get(&fake, &app, &a).await.0, 401, "the app is gone too");
}
