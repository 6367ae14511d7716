//! The control API under `/__fake` (a prefix no API uses), so a test suite in any language can
//! inject faults, empty the store and look at it over HTTP:
//!
//! | request | effect | answer |
//! |---|---|---|
//! | `POST /__fake/faults` `{"operation", "count"?, "fault"}` | queues faults | 201 `{"operation", "queued"}` |
//! | `POST /__fake/item-faults` `{"operation", "count"?, "error_code", "error_description"?}` | the next `count` (default 1) items of an SFU batch operation fail inside its answer with this `errorCode` and `errorDescription` (default "Backend error") | 201 `{"operation", "queued"}` |
//! | `DELETE /__fake/item-faults` | removes every queued item fault | 204 |
//! | `DELETE /__fake/faults` | removes every queued fault, item faults included | 204 |
//! | `POST /__fake/reset` | forgets every app and key, SFU session and adapter (tokens stay valid) | 204 |
//! | `POST /__fake/expire-hover-tokens` | every Hover JWT issued so far expires | 204 |
//! | `POST /__fake/expire-sfu-sessions` | every SFU session expires (later requests for one: 410) | 204 |
//! | `GET /__fake/state` | the store, secrets redacted, and the faults and item faults waiting | 200 |
//! | `GET /__fake/requests` | the last requests served, bodies with secrets redacted | 200 |
//! | `POST /__fake/rate-limit` `{"requests", "window_secs"}` | limits the Cloudflare API per credential | 204 |
//! | `DELETE /__fake/rate-limit` | lifts the limit | 204 |
//!
//! A bad request gets a 400 `{"error": "..."}` saying what is wrong.
//!
//! Item faults apply to `sfu-tracks-new`, `sfu-tracks-update`, `sfu-tracks-close`,
//! `sfu-datachannels-new`, `sfu-datachannels-update`, `sfu-datachannels-close`,
//! `sfu-adapters-websocket-new` and `sfu-adapters-websocket-close`; `queued` is how many items
//! of the operation will fail. An item that fails is not carried out, and is answered with its
//! request's identity: `{"mid": "", "trackName", "sessionId"?, ...}` for a new track (an empty
//! `mid`, as Cloudflare's failed pulls have), the `mid` for an update or a close, the
//! `dataChannelName` (or `id` for a close) for a data channel, the `trackName` (or `adapterId`)
//! for an adapter.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::faults::{Fault, Injection, ItemFault, ItemInjection};
use super::{cloudflare, hover, State};

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.into()})),
    )
        .into_response()
}

/// The control API is for test code, not web pages: a request a browser sent on a page's
/// behalf (it carries an `Origin`), or one for a host name that is not this machine (a DNS
/// rebinding), is refused, so that a page cannot reset a developer's fake or queue faults. The
/// host is read from every place a request names it: exactly one `Host` header, and the
/// request target when it is in absolute form (`POST http://evil.example/__fake/reset`).
pub(crate) fn refuse_browsers(parts: &axum::http::request::Parts) -> Option<Response> {
    let refused =
        |why: &str| Some((StatusCode::FORBIDDEN, Json(json!({"error": why}))).into_response());
    if parts.headers.contains_key("origin") {
        return refused("the control API refuses requests from web pages (they carry an Origin)");
    }
    let hosts: Vec<&str> = parts
        .headers
        .get_all("host")
        .iter()
        .map(|h| h.to_str().unwrap_or("\u{fffd}"))
        .collect();
    let [host] = hosts.as_slice() else {
        return refused("the control API needs exactly one Host header");
    };
    let target = parts.uri.authority().map(|a| a.as_str());
    if !is_loopback_authority(host) || target.is_some_and(|t| !is_loopback_authority(t)) {
        return refused("the control API answers only requests for 127.0.0.1 or localhost");
    }
    None
}

/// Whether `authority` (`host[:port]`) names this machine.
fn is_loopback_authority(authority: &str) -> bool {
    let name = match authority.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => authority,
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]"
    )
}

/// Whether a control request's answer can be large (the state, the log).
pub(crate) fn large_answer(method: &Method, path: &str) -> bool {
    method == Method::GET
        && matches!(
            path.trim_end_matches('/'),
            "/__fake/state" | "/__fake/requests"
        )
}

/// A 200 with JSON serialised beforehand.
fn json_bytes(body: Result<Vec<u8>, serde_json::Error>) -> Response {
    match body {
        Ok(body) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

pub(crate) fn handle(state: &State, method: &Method, path: &str, body: &[u8]) -> Response {
    match (method.as_str(), path.trim_end_matches('/')) {
        ("POST", "/__fake/faults") => inject(state, body),
        ("POST", "/__fake/item-faults") => inject_items(state, body),
        ("DELETE", "/__fake/item-faults") => {
            state.faults().clear_items();
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/__fake/expire-sfu-sessions") => {
            state.store().sfu.expire_all();
            StatusCode::NO_CONTENT.into_response()
        }
        ("DELETE", "/__fake/faults") => {
            state.faults().clear();
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/__fake/reset") => {
            state.store().reset();
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/__fake/expire-hover-tokens") => {
            state.store().hover_tokens.expire_all();
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", "/__fake/state") => {
            #[derive(serde::Serialize)]
            struct Everything<C, H> {
                cloudflare: C,
                hover: H,
                faults: serde_json::Map<String, serde_json::Value>,
                item_faults: serde_json::Map<String, serde_json::Value>,
                rate_limit: Option<serde_json::Value>,
            }
            let (faults, item_faults) = {
                let faults = state.faults();
                (faults.waiting(), faults.waiting_items())
            };
            let rate_limit = state.rate().quota().map(|quota| {
                json!({"requests": quota.requests, "window_secs": quota.window.as_secs_f64()})
            });
            let store = state.store();
            // Written while the store is locked, from its items: one copy of the answer.
            let body = serde_json::to_vec(&Everything {
                cloudflare: cloudflare::state(&store),
                hover: hover::state(&store),
                faults,
                item_faults,
                rate_limit,
            });
            drop(store);
            json_bytes(body)
        }
        ("GET", "/__fake/requests") => json_bytes(requests(state)),
        ("POST", "/__fake/rate-limit") => rate_limit(state, body),
        ("DELETE", "/__fake/rate-limit") => {
            state.rate().set(None);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!(
                "no control route {method} {path}; there are POST /__fake/faults, DELETE \
                 /__fake/faults, POST /__fake/item-faults, DELETE /__fake/item-faults, POST \
                 /__fake/reset, POST /__fake/expire-hover-tokens, POST \
                 /__fake/expire-sfu-sessions, GET /__fake/state, GET /__fake/requests, POST \
                 /__fake/rate-limit and DELETE /__fake/rate-limit"
            )})),
        )
            .into_response(),
    }
}

/// The request log as `{"requests": [...]}`, secret-named values redacted, written one entry
/// at a time: each body is parsed only while it is written, so a reader holds the answer and
/// one parsed body, never the whole log as JSON values.
fn requests(state: &State) -> Result<Vec<u8>, serde_json::Error> {
    let parsed = |body: &Option<axum::body::Bytes>| {
        body.as_ref()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
    };
    let mut out = b"{\"requests\":[".to_vec();
    for (i, r) in state.recorded().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // A revoke's path holds the TURN username.
        let path = if r.operation == "turn-revoke-credential" {
            "/v1/turn/keys/{key_id}/credentials/[redacted]/revoke"
        } else {
            r.path.as_str()
        };
        let mut entry = json!({
            "operation": r.operation,
            "method": r.method,
            "path": path,
            "request": parsed(&r.request),
            "status": r.status,
            "response": parsed(&r.response),
        });
        crate::core::scrub::redact_secret_keys(&mut entry);
        serde_json::to_writer(&mut out, &entry)?;
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

fn rate_limit(state: &State, body: &[u8]) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limit {
        requests: u32,
        window_secs: u64,
    }
    let limit: Limit = match serde_json::from_slice(body) {
        Ok(limit) => limit,
        Err(e) => {
            return bad(format!(
                "a rate limit is {{\"requests\": 30, \"window_secs\": 6}}: {e}"
            ))
        }
    };
    let quota = crate::Quota::new(
        limit.requests,
        std::time::Duration::from_secs(limit.window_secs),
    );
    match crate::core::budget::checked(quota) {
        Ok(quota) => {
            state.rate().set(Some(quota));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => bad(message),
    }
}

fn inject(state: &State, body: &[u8]) -> Response {
    let injection: Injection = match serde_json::from_slice(body) {
        Ok(injection) => injection,
        Err(e) => {
            return bad(format!(
                "a fault is {{\"operation\": \"<operationId>\", \"count\": N, \"fault\": F}}, \
                 F one of {{\"status\": 503}}, {{\"rate_limited\": {{\"retry_after_secs\": 2}}}}, \
                 \"malformed_body\", {{\"stall_ms\": 2000}}, \"waf_block\", \"success_false\", \
                 \"closed_mid_body\", {{\"trickle_ms\": 100}}: {e}"
            ))
        }
    };
    let fault = Fault::from(injection.fault);
    match state
        .faults()
        .inject(&injection.operation, injection.count, fault)
    {
        Ok(queued) => (
            StatusCode::CREATED,
            Json(json!({"operation": injection.operation, "queued": queued})),
        )
            .into_response(),
        Err(message) => bad(message),
    }
}

fn inject_items(state: &State, body: &[u8]) -> Response {
    let injection: ItemInjection = match serde_json::from_slice(body) {
        Ok(injection) => injection,
        Err(e) => {
            return bad(format!(
                "an item fault is {{\"operation\": \"sfu-tracks-new\", \"count\": N, \
                 \"error_code\": \"internal_error\", \"error_description\": \"Backend error\"}}: {e}"
            ))
        }
    };
    let fault = ItemFault::new(injection.error_code, injection.error_description);
    match state
        .faults()
        .inject_items(&injection.operation, injection.count, fault)
    {
        Ok(queued) => (
            StatusCode::CREATED,
            Json(json!({"operation": injection.operation, "queued": queued})),
        )
            .into_response(),
        Err(message) => bad(message),
    }
}
