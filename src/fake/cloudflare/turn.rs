//! The fake TURN credentials API (Cloudflare Realtime's data plane) under `/v1`, answering with
//! the TURN keys the fake's management API issued.
//!
//! The data plane documents no error format or status codes. ASSUMPTION: errors are
//! `{"errorCode", "errorDescription"}` as Cloudflare's Realtime SFU API (same host) writes
//! them, a bad bearer is 401, a bad TTL 400, and revoking an unknown username is a 204 no-op.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::fake::resolve::{Params, Route};
use crate::fake::store::hex;
use crate::fake::State;
use crate::operations as ops;

/// The longest TTL Cloudflare's FAQ allows: 48 hours.
const MAX_TTL_SECONDS: u64 = 48 * 60 * 60;

pub(crate) const ROUTES: &[Route] = &[
    (&ops::TURN_GENERATE_ICE_SERVERS, generate),
    (&ops::TURN_REVOKE_CREDENTIAL, revoke),
];

/// An error as the Realtime API writes them (see the module docs).
pub(crate) fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"errorCode": code, "errorDescription": description})),
    )
        .into_response()
}

pub(crate) fn no_route(method: &Method, path: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no route for {method} {path}"),
    )
}

/// `None` when the bearer is the token of the key in the path.
pub(crate) fn authorize(state: &State, params: &Params, headers: &HeaderMap) -> Option<Response> {
    let store = state.store();
    let expected = store.turn_key_token(params.get("key_id"));
    require_bearer(
        headers,
        expected,
        "the bearer is not the token of this TURN key",
    )
}

/// `None` when the request's bearer is `expected` (compared in constant time), else the
/// Realtime API's 401 saying `why`.
pub(crate) fn require_bearer(
    headers: &HeaderMap,
    expected: Option<&crate::Secret>,
    why: &str,
) -> Option<Response> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let accepted = match (expected, bearer) {
        (Some(expected), Some(bearer)) => expected.ct_eq(bearer),
        _ => false,
    };
    (!accepted).then(|| error(StatusCode::UNAUTHORIZED, "unauthorized", why))
}

fn revoke(state: &State, params: &Params, _: &[u8]) -> Response {
    let (key_id, username) = (params.get("key_id"), params.get("username"));
    let mut store = state.store();
    for credential in store
        .turn_credentials
        .iter_mut()
        .filter(|c| c.key_id == key_id && c.username == username)
    {
        credential.revoked = true;
    }
    StatusCode::NO_CONTENT.into_response()
}

fn generate(state: &State, params: &Params, body: &[u8]) -> Response {
    let ttl = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|body| body.get("ttl").and_then(Value::as_u64))
        .filter(|ttl| (1..=MAX_TTL_SECONDS).contains(ttl));
    if ttl.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "ttl must be an integer number of seconds from 1 to 172800",
        );
    }
    let (username, credential) = (hex(96), hex(96));
    state
        .store()
        .remember_credential(params.get("key_id"), &username);
    let answer = json!({
        "iceServers": [
            {"urls": ["stun:stun.cloudflare.com:3478", "stun:stun.cloudflare.com:53"]},
            {
                "urls": [
                    "turn:turn.cloudflare.com:3478?transport=udp",
                    "turn:turn.cloudflare.com:53?transport=udp",
                    "turn:turn.cloudflare.com:3478?transport=tcp",
                    "turn:turn.cloudflare.com:80?transport=tcp",
                    "turns:turn.cloudflare.com:5349?transport=tcp",
                    "turns:turn.cloudflare.com:443?transport=tcp"
                ],
                "username": username,
                "credential": credential,
            }
        ]
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}
