//! The router and what it does with each request: check the session's token, the caller's
//! allowance, read the body into the generated type, ask the app's hook, relay through the
//! session's turn and pace, and answer the SFU's JSON (or an error in its shape).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, NestedPath, RawPathParams, Request, State};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;

use super::cookies::{self, Shown};
use super::hook::{Action, ProxyRequest, Refusal};
use super::parse::{action_of, is_offer, refusal, Parsed, Refused};
use super::token::Verdict;
use super::Inner;
use crate::cloudflare::sfu::{Session, SESSIONS_NEW};
use crate::core::run::{run, Meta};
use crate::operations::{Operation, ALL};
use crate::{Error, SessionId};

/// The prefix of every SFU operation's path in the spec; the proxy serves the rest.
const APP_PATH: &str = "/apps/{app_id}";

/// STUN only, as Cloudflare's own proxy answers without a TURN key (port 53 left out:
/// browsers block it).
const STUN_ONLY: &str = r#"{"iceServers":[{"urls":["stun:stun.cloudflare.com:3478"]}]}"#;

/// A request answered before it is relayed (boxed: a response is large beside `Ok(())`).
type Early = Box<Response>;

/// How long a request body may take to arrive.
const BODY_TIME: Duration = Duration::from_secs(10);

/// The router: one route per SFU operation of the operation table, the ICE servers, and JSON
/// for a path or method it does not serve.
pub(super) fn router(inner: Arc<Inner>) -> Router {
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
    router
        .route(
            "/generate-ice-servers",
            axum::routing::get(|State(inner): State<Arc<Inner>>, request: Request| {
                ice_servers(inner, request)
            }),
        )
        .method_not_allowed_fallback(|| async {
            refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "not this method on this route",
            )
        })
        .fallback(|| async { refusal(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(inner)
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

/// Refused unless the router is nested where the proxy says it is (else its cookies would
/// be scoped to another path, and its tokens refused).
fn check_nesting(inner: &Inner, parts: &Parts) -> Result<(), Early> {
    let at = parts
        .extensions
        .get::<NestedPath>()
        .map_or("/", NestedPath::as_str);
    if at == inner.prefix {
        return Ok(());
    }
    tracing::error!(
        nested = at,
        prefix = %inner.prefix,
        "the SFU proxy is nested at a path other than its prefix"
    );
    Err(Box::new(refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "misconfigured",
        "the proxy is not served at its prefix",
    )))
}

/// The caller's allowance: a 429 with `Retry-After` once it is spent.
fn allowance(inner: &Inner, parts: &Parts, owner: Option<&SessionId>) -> Result<(), Early> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let caller = inner.limit.caller(peer, &parts.headers, owner);
    inner.limit.check(&caller).map_err(|wait| {
        let mut response = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests from this caller",
        );
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        Box::new(response)
    })
}

/// The token check of a request about `session`.
fn owner(inner: &Inner, parts: &Parts, session: &SessionId) -> Result<(), Early> {
    let (verdict, shown) = cookies::verdict(&inner.signer, &parts.headers, session.as_str());
    let refused = |status, code, description| Err(Box::new(refusal(status, code, description)));
    match verdict {
        Verdict::Owner
            if shown == Shown::Cookie && cookies::sent_by_another_site(&parts.headers) =>
        {
            refused(
                StatusCode::FORBIDDEN,
                "forbidden",
                "a session's cookie does not vouch for a request another site made",
            )
        }
        Verdict::Owner => Ok(()),
        Verdict::Other => refused(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token is for another session",
        ),
        Verdict::Invalid => refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid token for this session is needed (its cookie, or a bearer)",
        ),
    }
}

/// The hook's say on `asked`.
async fn decide(inner: &Inner, asked: ProxyRequest) -> Result<(), Early> {
    (inner.hook)(asked).await.map_err(|refused: Refusal| {
        let status = StatusCode::from_u16(refused.status)
            .ok()
            .filter(StatusCode::is_client_error)
            .unwrap_or(StatusCode::FORBIDDEN);
        let message = crate::core::scrub::short(&refused.message);
        Box::new(refusal(status, "forbidden", &message))
    })
}

/// Reads the body: at most `limit` bytes, within [`BODY_TIME`].
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Refused> {
    match tokio::time::timeout(BODY_TIME, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(Refused {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            description: "the request body is larger than this proxy accepts",
        }),
        Err(_) => Err(Refused {
            status: StatusCode::REQUEST_TIMEOUT,
            description: "the request body took too long",
        }),
    }
}

/// One request of the router: from its route's operation to the SFU's answer.
async fn relay(
    inner: Arc<Inner>,
    op: &'static Operation,
    session: Option<String>,
    request: Request,
) -> Response {
    match relay_checked(&inner, op, session, request).await {
        Ok(answer) => answer,
        Err(early) => *early,
    }
}

async fn relay_checked(
    inner: &Inner,
    op: &'static Operation,
    session: Option<String>,
    request: Request,
) -> Result<Response, Early> {
    let (parts, body) = request.into_parts();
    check_nesting(inner, &parts)?;
    let session = match session {
        Some(raw) => Some(
            SessionId::parse(raw)
                .map_err(|_| refusal(StatusCode::NOT_FOUND, "not_found", "no such session"))?,
        ),
        None => None,
    };
    if let Some(id) = &session {
        owner(inner, &parts, id)?;
    }
    allowance(inner, &parts, session.as_ref())?;
    let early = |refused: Refused| Box::new(refused.into_response());
    let body = read_body(body, inner.max_body_bytes).await.map_err(early)?;
    let (action, parsed) = action_of(op, &body).map_err(early)?;
    let asked = ProxyRequest {
        session: session.clone(),
        action,
        params: params_of(parts.uri.query()),
    };
    decide(inner, asked).await?;
    Ok(match session {
        Some(id) => relay_session(inner, &inner.client.session(id), op, parsed).await,
        None => relay_app(inner, op, parsed, &parts).await,
    })
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
    macro_rules! relayed {
        ($offer:expr, |$api:ident| $call:expr) => {
            answered(
                async {
                    let (rule, _turn) = handle.relayed(op, $offer).await?;
                    let $api = inner.client.api(rule);
                    handle.send(&$api, || $call).await
                }
                .await,
            )
        };
    }
    match parsed {
        Parsed::None => relayed!(false, |api| api.sfu_session_get(app, session)),
        Parsed::Tracks(body) => relayed!(false, |api| api.sfu_tracks_new(app, session, &body)),
        Parsed::Update(body) => relayed!(is_offer(body.session_description.as_ref()), |api| api
            .sfu_tracks_update(app, session, &body)),
        Parsed::Close(body) => relayed!(is_offer(body.session_description.as_ref()), |api| api
            .sfu_tracks_close(app, session, &body)),
        Parsed::Renegotiate(body) => {
            relayed!(false, |api| api.sfu_renegotiate(app, session, &body))
        }
        Parsed::Establish(body) => {
            relayed!(false, |api| api
                .sfu_datachannels_establish(app, session, &body))
        }
        Parsed::Channels(body) if op.id == crate::operations::SFU_DATACHANNELS_NEW.id => {
            relayed!(false, |api| api.sfu_datachannels_new(app, session, &body))
        }
        Parsed::Channels(body) => {
            relayed!(false, |api| api
                .sfu_datachannels_update(app, session, &body))
        }
        Parsed::CloseChannels(body) => {
            relayed!(false, |api| api.sfu_datachannels_close(app, session, &body))
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
    parts: &Parts,
) -> Response {
    let client = &inner.client.inner;
    let app = match client.app_id.segment() {
        Ok(app) => app,
        Err(error) => return failed(&error),
    };
    let api = inner.client.api(crate::core::plan::Planned::new(op));
    match parsed {
        Parsed::NewAdapters(body) => {
            answered(run(&api, None, || api.sfu_adapters_websocket_new(app, &body)).await)
        }
        Parsed::CloseAdapters(body) => {
            answered(run(&api, None, || api.sfu_adapters_websocket_close(app, &body)).await)
        }
        _ => new_session(inner, app, parts).await,
    }
}

/// `sessions/new`: the session, its token as a cookie, and the oldest of the browser's other
/// session cookies let go past [`cookies::KEPT_SESSIONS`].
async fn new_session(inner: &Inner, app: &str, parts: &Parts) -> Response {
    let api = inner.client.api(SESSIONS_NEW);
    let result = run(&api, None, || api.sfu_sessions_new(app, None, None)).await;
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
    let (prefix, secure) = (&inner.prefix, inner.secure_cookies);
    let mut response = json_answer(meta.status, &answer);
    let headers = response.headers_mut();
    for gone in cookies::let_go(&parts.headers, prefix, secure) {
        headers.append(header::SET_COOKIE, gone);
    }
    let lifetime = inner.signer.lifetime().as_secs();
    if let Some(cookie) =
        cookies::session_cookie(session.as_str(), &token, prefix, lifetime, secure)
    {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET generate-ice-servers`: the cache's ICE servers for a caller that holds a session of
/// this proxy, or STUN only (to anyone) without a cache.
async fn ice_servers(inner: Arc<Inner>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    if let Err(refused) = check_nesting(&inner, &parts) {
        return *refused;
    }
    let held = cookies::any_session(&inner.signer, &parts.headers)
        .filter(|(_, shown)| {
            *shown == Shown::Bearer || !cookies::sent_by_another_site(&parts.headers)
        })
        .and_then(|(session, _)| SessionId::parse(session).ok());
    let Some(cache) = &inner.ice else {
        return ([(header::CONTENT_TYPE, "application/json")], STUN_ONLY).into_response();
    };
    // A TURN credential is billed to the app: only for a caller with a session.
    let Some(session) = held else {
        return refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "TURN credentials are for a caller with a session of this proxy",
        );
    };
    if let Err(refused) = allowance(&inner, &parts, Some(&session)) {
        return *refused;
    }
    let asked = ProxyRequest {
        session: Some(session),
        action: Action::IceServers,
        params: params_of(parts.uri.query()),
    };
    if let Err(refused) = decide(&inner, asked).await {
        return *refused;
    }
    match cache.ice_servers().await {
        Ok(ice) => json_answer(200, &ice.without_port_53()),
        Err(error) => failed(&error),
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
