//! The control API under `/__fake` (a prefix no API uses), so a test suite in any language can
//! inject faults, empty the store and look at it over HTTP:
//!
//! | request | effect | answer |
//! |---|---|---|
//! | `POST /__fake/faults` `{"operation", "count"?, "fault"}` | queues faults | 201 `{"operation", "queued"}` |
//! | `DELETE /__fake/faults` | removes every queued fault | 204 |
//! | `POST /__fake/reset` | forgets every app and key (tokens stay valid) | 204 |
//! | `POST /__fake/expire-hover-tokens` | every Hover JWT issued so far expires | 204 |
//! | `GET /__fake/state` | the store, secrets redacted, and the faults waiting | 200 |
//! | `GET /__fake/requests` | the last requests served, bodies with secrets redacted | 200 |
//!
//! A bad request gets a 400 `{"error": "..."}` saying what is wrong.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::faults::{Fault, Injection};
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
/// rebinding), is refused, so that a page cannot reset a developer's fake or queue faults.
pub(crate) fn refuse_browsers(headers: &axum::http::HeaderMap) -> Option<Response> {
    let refused =
        |why: &str| Some((StatusCode::FORBIDDEN, Json(json!({"error": why}))).into_response());
    if headers.contains_key("origin") {
        return refused("the control API refuses requests from web pages (they carry an Origin)");
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if !matches!(name, "127.0.0.1" | "localhost" | "[::1]" | "") {
        return refused("the control API answers only requests for 127.0.0.1 or localhost");
    }
    None
}

pub(crate) fn handle(state: &State, method: &Method, path: &str, body: &[u8]) -> Response {
    match (method.as_str(), path.trim_end_matches('/')) {
        ("POST", "/__fake/faults") => inject(state, body),
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
            let store = state.store();
            let body = json!({
                "cloudflare": cloudflare::state_json(&store),
                "hover": hover::state_json(&store),
                "faults": state.faults().waiting(),
            });
            (StatusCode::OK, Json(body)).into_response()
        }
        ("GET", "/__fake/requests") => {
            let requests: Vec<_> = state
                .recorded()
                .into_iter()
                .map(|r| {
                    // A revoke's path holds the TURN username.
                    let path = if r.operation == "turn-revoke-credential" {
                        "/v1/turn/keys/{key_id}/credentials/[redacted]/revoke".to_string()
                    } else {
                        r.path
                    };
                    let mut entry = json!({
                        "operation": r.operation,
                        "method": r.method,
                        "path": path,
                        "request": r.request,
                        "status": r.status,
                        "response": r.response,
                    });
                    crate::core::scrub::redact_secret_keys(&mut entry);
                    entry
                })
                .collect();
            (StatusCode::OK, Json(json!({"requests": requests}))).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!(
                "no control route {method} {path}; there are POST /__fake/faults, DELETE \
                 /__fake/faults, POST /__fake/reset, POST /__fake/expire-hover-tokens, GET \
                 /__fake/state and GET /__fake/requests"
            )})),
        )
            .into_response(),
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
