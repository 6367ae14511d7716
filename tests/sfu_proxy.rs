//! The SFU proxy for browser apps, in front of the fake: what a browser (or any caller) can and
//! cannot do through it, each refusal checked against the fake's request log (nothing sent
//! upstream), and the app secret never in an answer.
#![cfg(all(feature = "proxy", feature = "fake"))]

use std::net::SocketAddr;
use std::time::Duration;

use apps_api::cloudflare::sfu::proxy::{Action, Proxy, ProxyBuilder, Refusal};
use apps_api::fake::FakeServer;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const KEY: &str = "the proxy's own signing key, 32 bytes or more";
const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n";

/// The fake, an app on it, and a proxy serving it on loopback.
struct Harness {
    fake: FakeServer,
    secret: String,
    base: String,
    http: reqwest::Client,
}

async fn harness(configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder) -> Harness {
    harness_on(FakeServer::start().await.unwrap(), configure).await
}

/// [`harness`] on a fake already started.
async fn harness_on(
    fake: FakeServer,
    configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder,
) -> Harness {
    let created = fake
        .cloudflare_client()
        .unwrap()
        .calls(fake.account_id())
        .create(Some("proxied"))
        .await
        .unwrap();
    let secret = created.secret.expose().to_string();
    let client = fake
        .realtime_client(created.app.id.clone().unwrap(), created.secret.clone())
        .unwrap();
    let proxy = configure(Proxy::builder(client.clone(), KEY).prefix("/sfu"))
        .build()
        .unwrap();
    // Another proxy of the same app with the same key, at another prefix.
    let other = Proxy::builder(client, KEY)
        .prefix("/other")
        .build()
        .unwrap();
    let app = axum::Router::new()
        .nest("/sfu", proxy.router())
        .nest("/other", other.router());
    let base = format!("{}/sfu", serve(app, true).await);
    Harness {
        fake,
        secret,
        base,
        http: http(),
    }
}

/// Serves `app` on loopback (with each peer's address when `peer_address`); its base URL.
async fn serve(app: axum::Router, peer_address: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        if peer_address {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).await.unwrap()
        } else {
            axum::serve(listener, app).await.unwrap()
        }
    });
    base
}

#[path = "common/http.rs"]
mod http_client;
use http_client::http;

/// An answer: status, headers, body as JSON (or `Null`).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Harness {
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        // Whatever the answer, the app secret is not in it.
        let everything = format!("{headers:?}{text}");
        assert!(!everything.contains(&self.secret), "{everything}");
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// A new session through the proxy: its ID and its token (from the cookie).
    async fn session(&self) -> (String, String) {
        let answer = self.call(Method::POST, "/sessions/new", &[], None).await;
        assert!(answer.status.is_success(), "{}", answer.text);
        let id = answer.body["sessionId"].as_str().unwrap().to_string();
        let cookie = answer.headers[SET_COOKIE].to_str().unwrap().to_string();
        let token = cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        (id, token)
    }

    /// Requests the fake received, of every SFU operation.
    fn upstream(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.operation.starts_with("sfu-"))
            .count()
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn publish(name: &str) -> Value {
    json!({"sessionDescription": {"type": "offer", "sdp": OFFER},
           "tracks": [{"location": "local", "mid": "0", "trackName": name}]})
}

/// The happy path a browser takes: a session (its cookie set as promised), publish, another
/// session pulls it and renegotiates, state, close; with the cookie or the bearer alike.
#[tokio::test]
async fn a_call_goes_through_and_each_session_is_its_owners() {
    let h = harness(|b| b).await;
    let created = h.call(Method::POST, "/sessions/new", &[], None).await;
    let cookie = created.headers[SET_COOKIE].to_str().unwrap().to_string();
    let id = created.body["sessionId"].as_str().unwrap();
    assert!(
        cookie.starts_with(&format!("sfu-session-{id}=v1.")),
        "{cookie}"
    );
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/sfu",
        "Max-Age=86400",
        "Secure",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let (alice, alice_token) = h.session().await;
    let (bob, bob_token) = h.session().await;
    let cookie = format!("sfu-session-{alice}={alice_token}");
    let published = h
        .call(
            Method::POST,
            &format!("/sessions/{alice}/tracks/new"),
            &[("cookie", &cookie)],
            Some(publish("mic")),
        )
        .await;
    assert_eq!(published.status, 200, "{}", published.text);
    assert_eq!(published.body["sessionDescription"]["type"], "answer");
    let pulled = h
        .call(
            Method::POST,
            &format!("/sessions/{bob}/tracks/new"),
            &[("authorization", &bearer(&bob_token))],
            Some(
                json!({"tracks": [{"location": "remote", "sessionId": alice, "trackName": "mic"}]}),
            ),
        )
        .await;
    assert_eq!(pulled.status, 200, "{}", pulled.text);
    assert_eq!(pulled.body["requiresImmediateRenegotiation"], true);
    let renegotiated = h
        .call(
            Method::PUT,
            &format!("/sessions/{bob}/renegotiate"),
            &[("authorization", &bearer(&bob_token))],
            Some(json!({"sessionDescription": {"type": "answer", "sdp": OFFER}})),
        )
        .await;
    assert_eq!(renegotiated.status, 200, "{}", renegotiated.text);
    let state = h
        .call(
            Method::GET,
            &format!("/sessions/{bob}"),
            &[("authorization", &bearer(&bob_token))],
            None,
        )
        .await;
    assert_eq!(state.status, 200);
    assert_eq!(state.body["tracks"][0]["trackName"], "mic");
    let closed = h
        .call(
            Method::PUT,
            &format!("/sessions/{bob}/tracks/close"),
            &[("authorization", &bearer(&bob_token))],
            Some(json!({"tracks": [{"mid": state.body["tracks"][0]["mid"]}], "force": true})),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    // STUN only without a TURN key.
    let ice = h
        .call(Method::GET, "/generate-ice-servers", &[], None)
        .await;
    assert_eq!(
        ice.body,
        json!({"iceServers": [{"urls": ["stun:stun.cloudflare.com:3478"]}]})
    );
}

/// Another browser's session: closing, renegotiating, publishing into or reading it with one's
/// own token, another key's, another prefix's, a tampered or an expired one, or none: refused,
/// and the fake receives nothing.
#[tokio::test]
async fn no_token_but_the_sessions_own_acts_on_it() {
    let h = harness(|b| b.per_caller(10_000, Duration::from_millis(1))).await;
    let (alice, alice_token) = h.session().await;
    let (_, mallory_token) = h.session().await;
    let forged = {
        let parts: Vec<&str> = alice_token.split('.').collect();
        format!("v1.{alice}.{}.{}", u64::from(u32::MAX), parts[3])
    };
    let other_key = token_of(
        &alice,
        "another signing key of thirty-two bytes",
        "/sfu",
        3600,
    );
    let other_prefix = token_of(&alice, KEY, "/other", 3600);
    // A token the proxy at /other (same key) issued, for a session it made: not this one's.
    let carol = h
        .http
        .post(format!("{}/sessions/new", h.base.replace("/sfu", "/other")))
        .send()
        .await
        .unwrap();
    let cookie = carol.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let carol_token = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let carol: Value = carol.json().await.unwrap();
    let carol = carol["sessionId"].as_str().unwrap().to_string();
    let elsewhere = h
        .call(
            Method::GET,
            &format!("/sessions/{carol}"),
            &[("authorization", &bearer(&carol_token))],
            None,
        )
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        elsewhere.text
    );
    let before = h.upstream();
    let expired = token_of(&alice, KEY, "/sfu", 0);
    let cases: &[(&[(&str, String)], StatusCode)] = &[
        (&[], StatusCode::UNAUTHORIZED),
        (
            &[("authorization", bearer(&mallory_token))],
            StatusCode::FORBIDDEN,
        ),
        (
            &[("cookie", format!("sfu-session-{alice}={mallory_token}"))],
            StatusCode::FORBIDDEN,
        ),
        (
            &[("authorization", bearer(&forged))],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &[("authorization", bearer(&other_key))],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &[("authorization", bearer(&other_prefix))],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &[("authorization", bearer(&expired))],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &[("authorization", "Basic YWxpY2U6".into())],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &[("cookie", format!("sfu-session-{alice}x={alice_token}"))],
            StatusCode::UNAUTHORIZED,
        ),
    ];
    let requests = [
        (
            Method::PUT,
            "renegotiate",
            Some(json!({"sessionDescription": {"type": "answer", "sdp": OFFER}})),
        ),
        (
            Method::PUT,
            "tracks/close",
            Some(json!({"tracks": [{"mid": "0"}], "force": true})),
        ),
        (Method::POST, "tracks/new", Some(publish("spoof"))),
        (
            Method::PUT,
            "tracks/update",
            Some(json!({"tracks": [{"mid": "0", "trackName": "x", "sessionId": alice}]})),
        ),
        (
            Method::PUT,
            "datachannels/close",
            Some(json!({"dataChannels": [{"id": 1}]})),
        ),
    ];
    for (headers, status) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        for (method, path, body) in &requests {
            let answer = h
                .call(
                    method.clone(),
                    &format!("/sessions/{alice}/{path}"),
                    &headers,
                    body.clone(),
                )
                .await;
            assert_eq!(
                answer.status, *status,
                "{path} {headers:?}: {}",
                answer.text
            );
            assert!(answer.body["errorCode"].is_string(), "{}", answer.text);
        }
        let read = h
            .call(Method::GET, &format!("/sessions/{alice}"), &headers, None)
            .await;
        assert_eq!(read.status, *status, "{headers:?}");
    }
    assert_eq!(h.upstream(), before, "nothing reached the SFU");
}

/// A token as another proxy would sign it (its key, its prefix), valid for `lifetime` seconds.
fn token_of(session: &str, key: &str, prefix: &str, lifetime: u64) -> String {
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + lifetime;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let message = format!("apps-api sfu proxy v1\n{prefix}\n{session}\n{expires}");
    let mac = ring::hmac::sign(&key, message.as_bytes());
    use base64::Engine;
    format!(
        "v1.{session}.{expires}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.as_ref())
    )
}

/// Paths that try to leave their segment, name no session, or name another route: a 404 or a
/// 400, and nothing reaches the SFU. (Sent as raw HTTP: a client library would resolve the
/// dot segments before sending.)
#[tokio::test]
async fn path_tricks_never_reach_upstream() {
    let h = harness(|b| b).await;
    let (alice, token) = h.session().await;
    let before = h.upstream();
    let body = publish("mic").to_string();
    for path in [
        format!("/sessions/{alice}/../{alice}/tracks/new"),
        format!("/sessions/x/../{alice}/tracks/new"),
        format!("/sessions/..%2F{alice}/tracks/new"),
        format!("/sessions/{alice}%2Ftracks%2Fnew"),
        format!("/sessions/{alice}%2F..%2Fx/renegotiate"),
        "/sessions/%2E%2E/tracks/new".to_string(),
        format!("/sessions/{alice}%00/tracks/new"),
        format!("/sessions/{alice}/tracks/new/extra"),
        format!("/sessions/{alice}/./tracks/new"),
        format!("/apps/x/sessions/{alice}/tracks/new"),
        "/sessions".to_string(),
        "/".to_string(),
        "/turn/keys/x/credentials/generate-ice-servers".to_string(),
    ] {
        let status = raw_post(&h.base, &path, &token, &body).await;
        assert!(matches!(status, 400 | 404 | 405), "{path}: {status}");
    }
    assert_eq!(h.upstream(), before);
}

/// A POST written by hand, as sent; its status.
async fn raw_post(base: &str, path: &str, token: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (address, prefix) = base
        .strip_prefix("http://")
        .unwrap()
        .split_once('/')
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /{prefix}{path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer[9..12].parse().unwrap()
}

/// Bodies over the cap are a 413, malformed or wrongly shaped ones a 400, and neither is sent.
#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_unsent() {
    let h = harness(|b| b.max_body_bytes(4096)).await;
    let (alice, token) = h.session().await;
    let before = h.upstream();
    let auth = bearer(&token);
    let path = format!("/sessions/{alice}/tracks/new");
    let huge = json!({"sessionDescription": {"type": "offer", "sdp": "a".repeat(10_000)},
                      "tracks": [{"location": "local", "mid": "0", "trackName": "mic"}]});
    let answer = h
        .call(Method::POST, &path, &[("authorization", &auth)], Some(huge))
        .await;
    assert_eq!(answer.status, 413, "{}", answer.text);
    for body in [
        json!("not an object"),
        json!({"tracks": "none"}),
        json!({"tracks": [{"location": "local", "trackName": ""}]}),
        json!({"tracks": [{"location": "remote", "trackName": "mic", "sessionId": "../x"}]}),
        json!({"tracks": (0..65).map(|i| json!({"location": "local", "mid": i.to_string(), "trackName": format!("t{i}")})).collect::<Vec<_>>()}),
    ] {
        let answer = h
            .call(
                Method::POST,
                &path,
                &[("authorization", &auth)],
                Some(body.clone()),
            )
            .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
    }
    let raw = h
        .http
        .post(format!("{}{path}", h.base))
        .header("authorization", &auth)
        .body("{\"tracks\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(h.upstream(), before);
}

/// The app's hook sees who asks for what, with the browser's query string, and its refusal
/// is the answer: nothing is sent. The default refuses adapters.
#[tokio::test]
async fn the_apps_hook_decides_and_sees_the_browsers_params() {
    type Seen = Vec<(Action, Vec<(String, String)>)>;
    let seen: std::sync::Arc<std::sync::Mutex<Seen>> = Default::default();
    let log = seen.clone();
    let h = harness(move |b| {
        b.authorize(move |request| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push((request.action.clone(), request.params.clone()));
                match &request.action {
                    Action::Tracks { pull, .. }
                        if pull.iter().any(|(_, name)| name == "secret-cam") =>
                    {
                        Err(Refusal::forbidden("not in your room"))
                    }
                    Action::CreateSession if !request.params.iter().any(|(k, _)| k == "room") => {
                        Err(Refusal::with_status(401, "join a room first"))
                    }
                    _ => Ok(()),
                }
            }
        })
    })
    .await;
    let refused = h.call(Method::POST, "/sessions/new", &[], None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["errorDescription"], "join a room first");
    assert_eq!(h.upstream(), 0);
    let answer = h
        .call(Method::POST, "/sessions/new?room=lobby&user=7", &[], None)
        .await;
    let (bob, token) = (answer.body["sessionId"].as_str().unwrap().to_string(), {
        let cookie = answer.headers[SET_COOKIE].to_str().unwrap().to_string();
        cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string()
    });
    let before = h.upstream();
    let pull =
        json!({"tracks": [{"location": "remote", "sessionId": bob, "trackName": "secret-cam"}]});
    let refused = h
        .call(
            Method::POST,
            &format!("/sessions/{bob}/tracks/new?room=lobby"),
            &[("authorization", &bearer(&token))],
            Some(pull),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(h.upstream(), before);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[1],
        (
            Action::CreateSession,
            vec![("room".into(), "lobby".into()), ("user".into(), "7".into())]
        )
    );
    assert!(matches!(&seen[2].0, Action::Tracks { pull, .. } if pull[0].1 == "secret-cam"));

    // The default hook: no adapters for browsers.
    let h = harness(|b| b).await;
    let adapters = json!({"tracks": [{"location": "local", "trackName": "in", "endpoint": "wss://example.com/a", "inputCodec": "pcm", "mode": "buffer"}]});
    let refused = h
        .call(Method::POST, "/adapters/websocket/new", &[], Some(adapters))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(h.upstream(), 0);
}

/// One caller past its burst gets 429s with `Retry-After`; nothing of those is sent.
#[tokio::test]
async fn one_caller_cannot_spend_the_apps_budget() {
    let h = harness(|b| b.per_caller(5, Duration::from_secs(60))).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let answer = h.call(Method::POST, "/sessions/new", &[], None).await;
        if answer.status == 429 {
            assert!(answer.headers.contains_key("retry-after"));
            assert_eq!(answer.body["errorCode"], "rate_limited");
        }
        statuses.push(answer.status.as_u16());
    }
    // The SFU's own status for a new session (the fake's: 201), then the limit.
    assert_eq!(statuses, [201, 201, 201, 201, 201, 429, 429, 429]);
    assert_eq!(h.upstream(), 5);
}

/// A misconfigured proxy does not start: a short key, the app secret as key, a bad prefix.
#[tokio::test]
async fn a_misconfigured_proxy_is_refused() {
    let fake = FakeServer::start().await.unwrap();
    let created = fake
        .cloudflare_client()
        .unwrap()
        .calls(fake.account_id())
        .create(None)
        .await
        .unwrap();
    let client = fake
        .realtime_client(created.app.id.clone().unwrap(), created.secret.clone())
        .unwrap();
    let secret = created.secret.expose().to_string();
    let padded = format!("{secret}{}", " ".repeat(32));
    let _ = padded;
    for (key, prefix) in [
        ("short", "/sfu"),
        (KEY, "sfu"),
        (KEY, "/sfu/"),
        (KEY, "/a/../b"),
        (KEY, "/a b"),
        (KEY, "/a//b"),
    ] {
        let built = Proxy::builder(client.clone(), key).prefix(prefix).build();
        assert!(built.is_err(), "{key:?} {prefix:?}");
    }
    if secret.len() >= 32 {
        assert!(Proxy::builder(client.clone(), secret.as_str())
            .build()
            .is_err());
    }
    let error = Proxy::builder(client, "short").build().unwrap_err();
    assert!(!error.to_string().contains("short"), "{error}");
}

/// The browser's headers never reach upstream: not its `Authorization`, `Cookie`, `Host` nor
/// anything else. (Checked on an upstream that records every header it gets.)
#[tokio::test]
async fn no_browser_header_reaches_upstream() {
    let seen: std::sync::Arc<std::sync::Mutex<Vec<HeaderMap>>> = Default::default();
    let log = seen.clone();
    let upstream = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let log = log.clone();
        async move {
            let mut copy = HeaderMap::new();
            for (name, value) in &headers {
                copy.append(name.as_str().parse::<reqwest::header::HeaderName>().unwrap(), HeaderValue::from_bytes(value.as_bytes()).unwrap());
            }
            log.lock().unwrap().push(copy);
            axum::Json(json!({"sessionId": "2a95132c15732412d22c1476fa83f27a", "tracks": [], "dataChannels": []}))
        }
    });
    let url = format!("{}/v1", serve(upstream, false).await);
    let client = apps_api::cloudflare::sfu::RealtimeClient::builder(
        "2a95132c15732412d22c1476fa83f27a",
        "app-secret-value-0123456789",
    )
    .base_url(url)
    .build()
    .unwrap();
    let proxy = Proxy::builder(client, KEY).prefix("/sfu").build().unwrap();
    let app = axum::Router::new().nest("/sfu", proxy.router());
    let base = format!("{}/sfu", serve(app, false).await);
    let http = http();
    let created = http
        .post(format!("{base}/sessions/new"))
        .header(COOKIE, "app=browser-cookie")
        .header(AUTHORIZATION, "Bearer browser-bearer")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-smuggled", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let set = created.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let token = set
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let state = http
        .get(format!("{base}/sessions/2a95132c15732412d22c1476fa83f27a"))
        .header(
            COOKIE,
            format!("other=1; sfu-session-2a95132c15732412d22c1476fa83f27a={token}"),
        )
        .header("host", "evil.example")
        .header("x-smuggled", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(state.status(), 200, "{}", state.text().await.unwrap());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for headers in seen.iter() {
        assert_eq!(headers[AUTHORIZATION], "Bearer app-secret-value-0123456789");
        for name in ["cookie", "x-forwarded-for", "x-smuggled"] {
            assert!(
                !headers.contains_key(name),
                "{name} reached upstream: {headers:?}"
            );
        }
        assert!(!format!("{headers:?}").contains("evil.example"));
        assert!(!format!("{headers:?}").contains(&token));
    }
}

/// With a TURN key, the ICE servers carry one shared TURN credential: every browser gets the
/// same one (one mint), without port 53, and the key's token is in no answer.
#[tokio::test]
async fn ice_servers_come_from_the_shared_cache() {
    use apps_api::cloudflare::turn::{IceServerCache, TurnCredentials};
    let fake = FakeServer::start().await.unwrap();
    let cf = fake.cloudflare_client().unwrap();
    let key = cf
        .turn_keys(fake.account_id())
        .create(Some("proxy"))
        .await
        .unwrap();
    let turn = TurnCredentials::builder(key.turn_key.id.clone().unwrap(), key.key.clone())
        .base_url(fake.realtime_base_url())
        .build()
        .unwrap();
    let cache = IceServerCache::new(turn, Duration::from_secs(3600)).unwrap();
    let token = key.key.expose().to_string();
    let h = harness_on(fake, move |b| b.ice_servers(cache)).await;
    // A TURN credential is billed to the app: not for a caller without a session.
    let stranger = h
        .call(Method::GET, "/generate-ice-servers", &[], None)
        .await;
    assert_eq!(stranger.status, 401, "{}", stranger.text);
    let (id, session_token) = h.session().await;
    let cookie = format!("sfu-session-{id}={session_token}");
    let mut usernames = Vec::new();
    for _ in 0..5 {
        let ice = h
            .call(
                Method::GET,
                "/generate-ice-servers",
                &[("cookie", &cookie)],
                None,
            )
            .await;
        assert_eq!(ice.status, 200, "{}", ice.text);
        assert!(
            !ice.text.contains(&token) && !ice.text.contains(":53\"") && !ice.text.contains(":53?"),
            "{}",
            ice.text
        );
        let turn = ice.body["iceServers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["username"].is_string())
            .unwrap()
            .clone();
        usernames.push(turn["username"].as_str().unwrap().to_string());
    }
    usernames.dedup();
    assert_eq!(usernames.len(), 1, "one credential for every caller");
}

/// A cookie does not vouch for a request another site made the browser send (a sibling
/// subdomain is the same site to `SameSite=Strict`): refused, unsent; a bearer is no such
/// request, and the same request from the page's own origin passes.
#[tokio::test]
async fn a_cookie_does_not_vouch_for_another_sites_request() {
    let h = harness(|b| b).await;
    let (alice, token) = h.session().await;
    let cookie = format!("sfu-session-{alice}={token}");
    let path = format!("/sessions/{alice}");
    let before = h.upstream();
    for forged in [
        [
            ("sec-fetch-site", "same-site"),
            ("origin", "https://evil.example.com"),
        ],
        [("sec-fetch-site", "cross-site"), ("x-ignored", "")],
        [("origin", "https://evil.example.com"), ("x-ignored", "")],
    ] {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend(forged.iter().filter(|(n, _)| *n != "x-ignored"));
        let answer = h.call(Method::GET, &path, &headers, None).await;
        assert_eq!(answer.status, 403, "{forged:?}: {}", answer.text);
    }
    assert_eq!(h.upstream(), before);
    let own = h
        .call(
            Method::GET,
            &path,
            &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
            None,
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let bearer_too = h
        .call(
            Method::GET,
            &path,
            &[
                ("authorization", &bearer(&token)),
                ("sec-fetch-site", "cross-site"),
            ],
            None,
        )
        .await;
    assert_eq!(bearer_too.status, 200, "{}", bearer_too.text);
}

/// A browser that made many sessions (a page reloaded all day) holds at most
/// `KEPT_SESSIONS` cookies of the proxy: a new session lets the first to expire go.
#[tokio::test]
async fn session_cookies_do_not_pile_up() {
    let h = harness(|b| b).await;
    let held: Vec<String> = (0..10)
        .map(|n| {
            let id = format!("old{n}");
            format!("sfu-session-{id}={}", token_of(&id, KEY, "/sfu", 1000 + n))
        })
        .collect();
    let answer = h
        .call(
            Method::POST,
            "/sessions/new",
            &[("cookie", &held.join("; "))],
            None,
        )
        .await;
    let set: Vec<&str> = answer
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let gone: Vec<&&str> = set.iter().filter(|c| c.contains("Max-Age=0")).collect();
    assert_eq!(gone.len(), 3, "{set:?}");
    assert!(
        gone.iter().all(|c| ["old0", "old1", "old2"]
            .iter()
            .any(|o| c.starts_with(&format!("sfu-session-{o}=")))),
        "{set:?}"
    );
    assert_eq!(set.len(), 4, "the three let go and the new one: {set:?}");
}

/// The router nested at another path than its prefix answers that it is misconfigured, and
/// sends nothing; a method a route does not take is a JSON 405.
#[tokio::test]
async fn a_proxy_nested_away_from_its_prefix_says_so() {
    let fake = FakeServer::start().await.unwrap();
    let created = fake
        .cloudflare_client()
        .unwrap()
        .calls(fake.account_id())
        .create(None)
        .await
        .unwrap();
    let client = fake
        .realtime_client(created.app.id.clone().unwrap(), created.secret.clone())
        .unwrap();
    let proxy = Proxy::builder(client, KEY).prefix("/sfu").build().unwrap();
    let app = axum::Router::new().nest("/api/sfu", proxy.router());
    let base = serve(app, false).await;
    let answer = http()
        .post(format!("{base}/api/sfu/sessions/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 500);
    assert_eq!(
        answer.json::<Value>().await.unwrap()["errorCode"],
        "misconfigured"
    );
    assert!(fake
        .requests()
        .iter()
        .all(|r| !r.operation.starts_with("sfu-")));
    let h = harness(|b| b).await;
    let wrong = h.call(Method::GET, "/sessions/new", &[], None).await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.body["errorCode"], "method_not_allowed");
}

/// Without peer addresses, callers are told apart by the session whose token they show: a
/// stranger naming a victim's session spends nothing of the victim's allowance. Behind a
/// trusted reverse proxy, the forwarded address is the caller.
#[tokio::test]
async fn nobody_spends_another_callers_allowance() {
    let fake = FakeServer::start().await.unwrap();
    let created = fake
        .cloudflare_client()
        .unwrap()
        .calls(fake.account_id())
        .create(None)
        .await
        .unwrap();
    let client = fake
        .realtime_client(created.app.id.clone().unwrap(), created.secret.clone())
        .unwrap();
    let served = |proxy: Proxy| async move {
        let app = axum::Router::new().nest("/sfu", proxy.router());
        format!("{}/sfu", serve(app, false).await)
    };
    // No connect info: per session.
    let proxy = Proxy::builder(client.clone(), KEY)
        .prefix("/sfu")
        .per_caller(3, Duration::from_secs(60))
        .build()
        .unwrap();
    let base = served(proxy).await;
    let created = http()
        .post(format!("{base}/sessions/new"))
        .send()
        .await
        .unwrap();
    let cookie = created.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let id: Value = created.json().await.unwrap();
    let id = id["sessionId"].as_str().unwrap().to_string();
    for _ in 0..10 {
        let stranger = http()
            .get(format!("{base}/sessions/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(stranger.status(), 401);
    }
    for expected in [200, 200, 200, 429] {
        let owner = http()
            .get(format!("{base}/sessions/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(owner.status(), expected);
    }
    // Behind one trusted reverse proxy: each forwarded address its own allowance.
    let proxy = Proxy::builder(client, KEY)
        .prefix("/sfu")
        .per_caller(1, Duration::from_secs(60))
        .behind_reverse_proxies(1)
        .build()
        .unwrap();
    let base = served(proxy).await;
    let from = |address: &'static str| {
        http()
            .post(format!("{base}/sessions/new"))
            .header("x-forwarded-for", format!("10.9.9.9, {address}"))
            .send()
    };
    assert!(from("198.51.100.1").await.unwrap().status().is_success());
    assert_eq!(from("198.51.100.1").await.unwrap().status(), 429);
    assert!(from("198.51.100.2").await.unwrap().status().is_success());
}
