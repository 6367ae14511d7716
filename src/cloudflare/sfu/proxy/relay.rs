//! The router and what it does with each request: check the session's token, read the body
//! into the generated type, ask the app's hook, relay through the session's turn and pace, and
//! answer the SFU's JSON (or an error in its shape).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{RawPathParams, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde::de::DeserializeOwned;
use tower_governor::{GovernorError, GovernorLayer};

use super::hook::{Action, ProxyRequest};
use super::token::{cookie_name, Verdict};
use super::Inner;
use crate::cloudflare::sfu::{adapters, Session, MAX_TRACKS_PER_REQUEST, SESSIONS_NEW};
use crate::core::transport::Meta;
use crate::generated::sfu::types as wire;
use crate::operations::{Operation, ALL};
use crate::{Error, SessionId};

/// The prefix of every SFU operation's path in the spec; the proxy serves the rest.
const APP_PATH: &str = "/apps/{app_id}";

/// STUN only, as Cloudflare's own proxy answers without a TURN key (port 53 left out:
/// browsers block it).
const STUN_ONLY: &str = r#"{"iceServers":[{"urls":["stun:stun.cloudflare.com:3478"]}]}"#;

/// The router: one route per SFU operation of the operation table, the ICE servers, a JSON
/// 404 for anything else, and the per-caller limit in front of all of it.
pub(super) fn router(inner: Arc<Inner>) -> Router {
    inner.limit.forget_idle_callers();
    let mut router = Router::new();
    for op in ALL.iter().filter(|op| op.path.starts_with(APP_PATH)) {
        let path = &op.path[APP_PATH.len()..];
        let method = match op.method {
            "GET" => MethodFilter::GET,
            "PUT" => MethodFilter::PUT,
            _ => MethodFilter::POST,
        };
        router = router.route(
            path,
            on(
                method,
                move |State(inner): State<Arc<Inner>>, path: RawPathParams, request: Request| {
                    let session = path
                        .iter()
                        .find(|(name, _)| *name == "session_id")
                        .map(|(_, value)| value.to_string());
                    relay(inner, op, session, request)
                },
            ),
        );
    }
    let limited = GovernorLayer::new(inner.limit.config.clone()).error_handler(too_many);
    router
        .route(
            "/generate-ice-servers",
            axum::routing::get(|State(inner): State<Arc<Inner>>, request: Request| {
                ice_servers(inner, request)
            }),
        )
        .fallback(|| async { refusal(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(limited)
        .with_state(inner)
}

/// An error in the SFU's shape.
fn refusal(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"errorCode": code, "errorDescription": description});
    (status, axum::Json(body)).into_response()
}

/// A request refused before anything was sent: a 400 or a 413, with the SFU's words.
struct Refused {
    status: StatusCode,
    description: &'static str,
}

impl Refused {
    const fn bad(description: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            description,
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let code = match self.status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            _ => "invalid_request",
        };
        refusal(self.status, code, self.description)
    }
}

/// The per-caller limit's refusal, in the SFU's shape, with its `Retry-After`.
fn too_many(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests from this caller",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait_time.max(1)));
            response
        }
        _ => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "no caller",
        ),
    }
}

/// The query string's parameters, decoded (at most 64, each at most 1 KiB: what reaches the
/// hook is bounded).
fn params_of(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .take(64)
        .map(|(k, v)| {
            let cut = |s: std::borrow::Cow<'_, str>| s.chars().take(1024).collect::<String>();
            (cut(k), cut(v))
        })
        .collect()
}

/// The token the request shows for `session`: its bearer, else its cookie for the session.
fn verdict(inner: &Inner, headers: &HeaderMap, session: &str) -> Verdict {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return inner.signer.check(bearer.trim(), session);
    }
    let name = cookie_name(session);
    let mut best = Verdict::Invalid;
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            let Some((key, token)) = pair.trim().split_once('=') else {
                continue;
            };
            if key == name {
                match inner.signer.check(token, session) {
                    Verdict::Owner => return Verdict::Owner,
                    other => best = best.max_with(other),
                }
            }
        }
    }
    best
}

impl Verdict {
    /// The more telling of two verdicts for a refusal: another session's token says more than
    /// none.
    fn max_with(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Other, _) | (_, Verdict::Other) => Verdict::Other,
            (kept, _) => kept,
        }
    }
}

/// Reads the body, at most `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Refused> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Refused {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            description: "the request body is larger than this proxy accepts",
        })
}

/// The body as the operation's generated request type. (serde's words quote values from the
/// body, so they are not told.)
fn parse<B: DeserializeOwned>(body: &[u8]) -> Result<B, Refused> {
    serde_json::from_slice(body)
        .map_err(|_| Refused::bad("the request body is not the operation's JSON"))
}

/// A named session as the hook and the upstream request see it: checked like every ID.
fn session_named(raw: Option<&String>) -> Result<SessionId, Refused> {
    raw.and_then(|raw| SessionId::parse(raw.as_str()).ok())
        .ok_or(Refused::bad(
            "a remote track or channel names its publisher's session by a session ID",
        ))
}

/// An SDP offer, by what its description says.
fn is_offer(description: Option<&wire::SfuSessionDescription>) -> bool {
    description.is_some_and(|d| matches!(d.type_, Some(wire::SfuSessionDescriptionType::Offer)))
}

/// What each operation's body asks for, with the parsed body.
fn action_of(op: &Operation, body: &[u8]) -> Result<(Action, Parsed), Refused> {
    let too_many = || Refused::bad("too many items in one request");
    let pulled = |tracks: &[wire::SfuTrackObject]| -> Result<Vec<(SessionId, String)>, Refused> {
        tracks
            .iter()
            .filter(|t| {
                t.session_id.is_some() || matches!(t.location, Some(wire::SfuLocation::Remote))
            })
            .map(|t| {
                let name = t
                    .track_name
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                Ok((session_named(t.session_id.as_ref())?, name))
            })
            .collect()
    };
    Ok(match op.id {
        id if id == crate::operations::SFU_SESSION_GET.id => (Action::State, Parsed::None),
        id if id == crate::operations::SFU_TRACKS_NEW.id => {
            let request: wire::SfuTracksRequest = parse(body)?;
            if request.tracks.len() > MAX_TRACKS_PER_REQUEST {
                return Err(too_many());
            }
            let publish = request
                .tracks
                .iter()
                .filter(|t| matches!(t.location, Some(wire::SfuLocation::Local)))
                .filter_map(|t| t.track_name.as_ref().map(|n| n.to_string()))
                .collect();
            let pull = pulled(&request.tracks)?;
            (Action::Tracks { publish, pull }, Parsed::Tracks(request))
        }
        id if id == crate::operations::SFU_TRACKS_UPDATE.id => {
            let request: wire::SfuUpdateTracksRequest = parse(body)?;
            if request.tracks.len() > MAX_TRACKS_PER_REQUEST {
                return Err(too_many());
            }
            let pull = pulled(&request.tracks)?;
            (Action::UpdateTracks { pull }, Parsed::Update(request))
        }
        id if id == crate::operations::SFU_TRACKS_CLOSE.id => {
            let request: wire::SfuCloseTracksRequest = parse(body)?;
            if request.tracks.len() > MAX_TRACKS_PER_REQUEST {
                return Err(too_many());
            }
            (Action::CloseTracks, Parsed::Close(request))
        }
        id if id == crate::operations::SFU_RENEGOTIATE.id => {
            (Action::Renegotiate, Parsed::Renegotiate(parse(body)?))
        }
        id if id == crate::operations::SFU_DATACHANNELS_ESTABLISH.id => (
            Action::EstablishDataChannels,
            Parsed::Establish(parse(body)?),
        ),
        id if id == crate::operations::SFU_DATACHANNELS_NEW.id
            || id == crate::operations::SFU_DATACHANNELS_UPDATE.id =>
        {
            let request: wire::SfuDataChannelsRequest = parse(body)?;
            if request.data_channels.len() > MAX_TRACKS_PER_REQUEST {
                return Err(too_many());
            }
            let name = |c: &wire::SfuDataChannelObject| {
                c.data_channel_name
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            };
            let remote = |c: &&wire::SfuDataChannelObject| {
                c.session_id.is_some() || matches!(c.location, Some(wire::SfuLocation::Remote))
            };
            let pull = request
                .data_channels
                .iter()
                .filter(remote)
                .map(|c| Ok((session_named(c.session_id.as_ref())?, name(c))))
                .collect::<Result<Vec<_>, Refused>>()?;
            let publish = request
                .data_channels
                .iter()
                .filter(|c| !remote(c))
                .map(name)
                .collect();
            if id == crate::operations::SFU_DATACHANNELS_NEW.id {
                (
                    Action::DataChannels { publish, pull },
                    Parsed::Channels(request),
                )
            } else {
                (Action::UpdateDataChannels, Parsed::Channels(request))
            }
        }
        id if id == crate::operations::SFU_DATACHANNELS_CLOSE.id => (
            Action::CloseDataChannels,
            Parsed::CloseChannels(parse(body)?),
        ),
        id if id == crate::operations::SFU_ADAPTERS_WEBSOCKET_NEW.id => {
            (Action::NewAdapters, Parsed::NewAdapters(parse(body)?))
        }
        id if id == crate::operations::SFU_ADAPTERS_WEBSOCKET_CLOSE.id => {
            (Action::CloseAdapters, Parsed::CloseAdapters(parse(body)?))
        }
        _ => (Action::CreateSession, Parsed::None),
    })
}

/// A request body, read into its operation's generated type.
enum Parsed {
    None,
    Tracks(wire::SfuTracksRequest),
    Update(wire::SfuUpdateTracksRequest),
    Close(wire::SfuCloseTracksRequest),
    Renegotiate(wire::SfuRenegotiateRequest),
    Establish(wire::SfuEstablishRequest),
    Channels(wire::SfuDataChannelsRequest),
    CloseChannels(wire::SfuCloseDataChannelsRequest),
    NewAdapters(wire::SfuNewAdapterRequest),
    CloseAdapters(wire::SfuCloseAdapterRequest),
}

/// One request of the router: from its route's operation to the SFU's answer.
async fn relay(
    inner: Arc<Inner>,
    op: &'static Operation,
    session: Option<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let params = params_of(parts.uri.query());
    let session = match session {
        Some(raw) => match SessionId::parse(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                return refusal(StatusCode::NOT_FOUND, "not_found", "no such session");
            }
        },
        None => None,
    };
    if let Some(id) = &session {
        match verdict(&inner, &parts.headers, id.as_str()) {
            Verdict::Owner => {}
            Verdict::Other => {
                return refusal(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "this token is for another session",
                )
            }
            Verdict::Invalid => {
                return refusal(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "a valid token for this session is needed (its cookie, or a bearer)",
                )
            }
        }
    }
    let body = match read_body(body, inner.max_body_bytes).await {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let (action, parsed) = match action_of(op, &body) {
        Ok(found) => found,
        Err(refused) => return refused.into_response(),
    };
    let asked = ProxyRequest {
        session: session.clone(),
        action,
        params,
    };
    if let Err(refused) = (inner.hook)(asked).await {
        let status = StatusCode::from_u16(refused.status)
            .ok()
            .filter(StatusCode::is_client_error)
            .unwrap_or(StatusCode::FORBIDDEN);
        return refusal(
            status,
            "forbidden",
            &crate::core::scrub::short(&refused.message),
        );
    }
    match session {
        Some(id) => {
            let handle = inner.client.session(id);
            relay_session(&inner, &handle, op, parsed).await
        }
        None => relay_app(&inner, op, parsed, &parts.headers).await,
    }
}

/// Relays a request of one session through its turn and pace.
async fn relay_session(
    inner: &Inner,
    handle: &Session,
    op: &'static Operation,
    parsed: Parsed,
) -> Response {
    let (app, session) = match handle.ids() {
        Ok(ids) => ids,
        Err(error) => return failed(&error),
    };
    let api = &inner.client.inner.api;
    macro_rules! relayed {
        ($offer:expr, $call:expr) => {
            answered(handle.relay(op, $offer, || $call).await)
        };
    }
    match parsed {
        Parsed::None => relayed!(false, api.sfu_session_get(app, session)),
        Parsed::Tracks(body) => relayed!(false, api.sfu_tracks_new(app, session, &body)),
        Parsed::Update(body) => relayed!(
            is_offer(body.session_description.as_ref()),
            api.sfu_tracks_update(app, session, &body)
        ),
        Parsed::Close(body) => relayed!(
            is_offer(body.session_description.as_ref()),
            api.sfu_tracks_close(app, session, &body)
        ),
        Parsed::Renegotiate(body) => relayed!(false, api.sfu_renegotiate(app, session, &body)),
        Parsed::Establish(body) => {
            relayed!(false, api.sfu_datachannels_establish(app, session, &body))
        }
        Parsed::Channels(body) if op.id == crate::operations::SFU_DATACHANNELS_NEW.id => {
            relayed!(false, api.sfu_datachannels_new(app, session, &body))
        }
        Parsed::Channels(body) => relayed!(false, api.sfu_datachannels_update(app, session, &body)),
        Parsed::CloseChannels(body) => {
            relayed!(false, api.sfu_datachannels_close(app, session, &body))
        }
        Parsed::NewAdapters(_) | Parsed::CloseAdapters(_) => {
            refusal(StatusCode::NOT_FOUND, "not_found", "no such route")
        }
    }
}

/// Relays a request of the app: a new session (with its token), or adapters.
async fn relay_app(
    inner: &Inner,
    op: &'static Operation,
    parsed: Parsed,
    headers: &HeaderMap,
) -> Response {
    let client = &inner.client.inner;
    let app = match client.app_id.segment() {
        Ok(app) => app,
        Err(error) => return failed(&error),
    };
    match parsed {
        Parsed::NewAdapters(body) => answered(
            client
                .transport
                .run(adapters::relay_rule(op), None, || {
                    client.api.sfu_adapters_websocket_new(app, &body)
                })
                .await,
        ),
        Parsed::CloseAdapters(body) => answered(
            client
                .transport
                .run(adapters::relay_rule(op), None, || {
                    client.api.sfu_adapters_websocket_close(app, &body)
                })
                .await,
        ),
        _ => new_session(inner, headers).await,
    }
}

/// `sessions/new`: the session, and its token as a cookie.
async fn new_session(inner: &Inner, headers: &HeaderMap) -> Response {
    let client = &inner.client;
    let app = match client.inner.app_id.segment() {
        Ok(app) => app,
        Err(error) => return failed(&error),
    };
    let result = client
        .inner
        .transport
        .run(SESSIONS_NEW, None, || {
            client.inner.api.sfu_sessions_new(app, None, None)
        })
        .await;
    let (answer, meta) = match result {
        Ok(answered) => answered,
        Err(error) => return failed(&error),
    };
    // A session the SFU names with what is no session ID gets no token (it could not be
    // named in a path either).
    let Ok(session) = SessionId::parse(answer.session_id.clone()) else {
        return refusal(
            StatusCode::BAD_GATEWAY,
            "upstream_invalid",
            "the SFU answered without a usable session ID",
        );
    };
    let token = inner.signer.issue(&session);
    let mut cookie = format!(
        "{}={token}; Path={}; Max-Age={}; HttpOnly; SameSite=Strict",
        cookie_name(session.as_str()),
        inner.prefix,
        inner.signer.lifetime().as_secs()
    );
    if !is_loopback(headers) {
        cookie.push_str("; Secure");
    }
    let mut response = json_answer(meta.status, &answer);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        let mut value = value;
        value.set_sensitive(true);
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Whether the request came to a loopback host (where a browser gets no `Secure` cookie over
/// plain HTTP).
fn is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `GET generate-ice-servers`: the cache's ICE servers, or STUN only.
async fn ice_servers(inner: Arc<Inner>, request: Request) -> Response {
    let asked = ProxyRequest {
        session: None,
        action: Action::IceServers,
        params: params_of(request.uri().query()),
    };
    if let Err(refused) = (inner.hook)(asked).await {
        return refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            &crate::core::scrub::short(&refused.message),
        );
    }
    match &inner.ice {
        None => ([(header::CONTENT_TYPE, "application/json")], STUN_ONLY).into_response(),
        Some(cache) => match cache.ice_servers().await {
            Ok(ice) => json_answer(200, &ice.without_port_53()),
            Err(error) => failed(&error),
        },
    }
}

/// A JSON answer with the SFU's status.
fn json_answer(status: u16, body: &impl serde::Serialize) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, axum::Json(body)).into_response()
}

/// The SFU's answer as it came, or the error in its shape.
fn answered<T: serde::Serialize>(result: Result<(T, Meta), Error>) -> Response {
    match result {
        Ok((answer, meta)) => json_answer(meta.status, &answer),
        Err(error) => failed(&error),
    }
}

/// An error of the relayed request, in the SFU's shape, with a fitting status. The words are
/// the facade's (bounded, escaped, without the app secret); the app secret's own troubles
/// (401, 403 upstream) are the backend's, told only as a bad gateway.
fn failed(error: &Error) -> Response {
    let words = |failure: &crate::Failure| {
        failure
            .errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    match error {
        Error::Api(failure) if (400..500).contains(&failure.status) => {
            let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_REQUEST);
            let (code, description) = match words(failure).split_once(": ") {
                Some((code, description)) if is_code(code) => {
                    (code.to_string(), description.to_string())
                }
                _ => ("invalid_request".to_string(), words(failure)),
            };
            refusal(status, &code, &description)
        }
        Error::Api(failure) => refusal(StatusCode::BAD_GATEWAY, "upstream_error", &words(failure)),
        Error::NotFound(failure) => refusal(StatusCode::NOT_FOUND, "not_found", &words(failure)),
        Error::RateLimited(failure) => {
            let mut response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "the SFU asks to wait",
            );
            if let Some(wait) = failure.retry_after {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            }
            response
        }
        Error::Timeout { .. } => refusal(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the SFU did not answer in time",
        ),
        Error::InvalidArgument(message) => {
            refusal(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
        Error::Auth(_) => refusal(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "the SFU refused this backend's credentials",
        ),
        _ => refusal(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "the SFU could not be used",
        ),
    }
}

/// Whether `text` reads as an SFU error code (`snake_case`).
fn is_code(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
