//! The fake Cloudflare API under `/client/v4`: authentication, Cloudflare's envelopes and
//! routing errors, and the handlers of Calls apps, TURN keys, Magic apps and Magic sites (one
//! module each, as the facade has them); and the Realtime data plane under `/v1` (TURN
//! credentials, the SFU).
//!
//! Where the sources show how the real API answers, the fake does the same; where they do not,
//! the choice is marked ASSUMPTION and listed in the README's "Testing your code".

mod calls;
mod magic;
mod named;
pub(crate) mod sfu;
mod sites;
pub(crate) mod turn;
mod turn_keys;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::resolve::{NoRoute, Route};
use super::store::{hex, Refused};
use super::State;
use crate::operations::{Credential, Operation};

/// What serves each Cloudflare operation, the TURN credentials' on the data plane included.
pub(crate) fn routes() -> impl Iterator<Item = &'static Route> {
    calls::ROUTES
        .iter()
        .chain(turn_keys::ROUTES)
        .chain(magic::ROUTES)
        .chain(sites::ROUTES)
        .chain(turn::ROUTES)
        .chain(sfu::ROUTES)
}

/// The answer to a request that reaches no operation, as Cloudflare gives it. Sources: an
/// unroutable path is HTTP 400 with 7003 and 7000 (cloudflare/wrangler-legacy#1598 and #211);
/// a known route with an identifier that is not one is HTTP 404 with a single 7003 whose message
/// names the whole path (anomalyco/opencode#18552, 2026).
pub(crate) fn no_route(why: NoRoute, path: &str) -> Response {
    let rest = match path.strip_prefix("/client/v4").unwrap_or(path) {
        "" => "/",
        rest => rest,
    };
    match why {
        NoRoute::Unknown => error_envelope(
            StatusCode::BAD_REQUEST,
            &[
                (
                    7003,
                    &format!(
                        "Could not route to {rest}, perhaps your object identifier is invalid?"
                    ),
                ),
                (7000, "No route for that URI"),
            ],
        ),
        NoRoute::BadIdentifier => error_envelope(
            StatusCode::NOT_FOUND,
            &[(
                7003,
                &format!("Could not route to {path}, perhaps your object identifier is invalid?"),
            )],
        ),
    }
}

/// A failure envelope with these `(code, message)` errors, and a `cf-ray`.
pub(crate) fn error_envelope(status: StatusCode, errors: &[(u32, &str)]) -> Response {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(code, message)| json!({"code": code, "message": message}))
        .collect();
    envelope(
        status,
        json!({"success": false, "errors": errors, "messages": [], "result": null}),
    )
}

/// A single GET of what a list shows: the item of `items` whose `id` is `id`, or a 404 naming
/// `what` (so a new read-only operation is one line of a route table).
pub(crate) fn one_of(what: &str, items: impl Serialize, id: &str) -> Response {
    let items = serde_json::to_value(items).unwrap_or_default();
    match items
        .as_array()
        .into_iter()
        .flatten()
        .find(|item| item["id"] == id)
    {
        Some(item) => success(StatusCode::OK, item),
        None => error_envelope(
            StatusCode::NOT_FOUND,
            &[(1002, &format!("{what} {id} not found"))],
        ),
    }
}

/// A validation failure pointing at a field of the request body.
pub(crate) fn invalid(code: u32, message: &str, field: Option<&str>) -> Response {
    let mut error = json!({"code": code, "message": message});
    if let Some(field) = field {
        error["source"] = json!({"pointer": format!("/{field}")});
    }
    envelope(
        StatusCode::BAD_REQUEST,
        json!({"success": false, "errors": [error], "messages": [], "result": null}),
    )
}

/// A success envelope holding `result`, serialised straight from the store's items (a list
/// answer is never built as a tree of JSON values first).
pub(crate) fn success(status: StatusCode, result: impl Serialize) -> Response {
    #[derive(Serialize)]
    struct Success<R> {
        success: bool,
        errors: [(); 0],
        messages: [(); 0],
        result: R,
    }
    envelope(
        status,
        Success {
            success: true,
            errors: [],
            messages: [],
            result,
        },
    )
}

/// A Cloudflare answer, with a `cf-ray` as the real edge adds to every one.
pub(crate) fn envelope(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(ray) = HeaderValue::from_str(&format!("{}-FAKE", hex(16))) {
        response.headers_mut().insert("cf-ray", ray);
    }
    response
}

/// Checks the request's credentials for `operation`: a bearer token for every operation, or
/// the global key and its email for Magic. `None` when they are accepted, else the answer.
///
/// Sources: no credentials is 400 with 9106 (xiaotianxt/bypass-cloudflare-for-github-action#2),
/// a malformed `Authorization` 400 with 6003/6111 (jeessy2/ddns-go#240), a token that is not
/// accepted 403 with 10000 (cloudflare/cloudflare-docs#13405). ASSUMPTIONS: a wrong key or
/// email is 403 with 9103 (the code Cloudflare's docs give for it; no captured status), and
/// the global key on Calls, which documents tokens only, is 403 with 10000.
pub(crate) fn authorize(
    state: &State,
    operation: &Operation,
    headers: &HeaderMap,
) -> Option<Response> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (authorization, email, key) = (
        text("authorization"),
        text("x-auth-email"),
        text("x-auth-key"),
    );
    let denied = || error_envelope(StatusCode::FORBIDDEN, &[(10_000, "Authentication error")]);
    if let Some(value) = authorization {
        let Some(token) = value.strip_prefix("Bearer ") else {
            return Some(envelope(
                StatusCode::BAD_REQUEST,
                json!({"success": false, "errors": [{
                    "code": 6003,
                    "message": "Invalid request headers",
                    "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}]
                }], "messages": [], "result": null}),
            ));
        };
        return (!state.cloudflare_token.ct_eq(token)).then(denied);
    }
    match (email, key) {
        (None, None) => Some(error_envelope(
            StatusCode::BAD_REQUEST,
            &[(
                9106,
                "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
            )],
        )),
        (Some(_), Some(_)) if operation.credential == Credential::ApiToken => Some(denied()),
        (Some(email), Some(key))
            if email == state.cloudflare_email && state.cloudflare_key.ct_eq(key) =>
        {
            None
        }
        (Some(_), Some(_)) => Some(error_envelope(
            StatusCode::FORBIDDEN,
            &[(9103, "Unknown X-Auth-Key or X-Auth-Email")],
        )),
        _ => Some(error_envelope(
            StatusCode::BAD_REQUEST,
            &[(
                9106,
                "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
            )],
        )),
    }
}

/// The credential an accepted request carries (its token, or its email and key), as the rate
/// limit counts requests by it.
pub(crate) fn credential(headers: &HeaderMap) -> String {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    match headers.get("authorization") {
        Some(_) => text("authorization").to_string(),
        None => format!("{}\n{}", text("x-auth-email"), text("x-auth-key")),
    }
}

/// The request body as a JSON object, or the answer to a malformed one.
pub(crate) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(6007, "Malformed JSON in request body", None)),
    }
}

/// The answer to an item the store does not take.
pub(crate) fn refused(why: Refused) -> Response {
    match why {
        Refused::TooLarge => invalid(1003, &why.message(), None),
        Refused::Full => error_envelope(
            StatusCode::INSUFFICIENT_STORAGE,
            &[(10_507, &why.message())],
        ),
    }
}

/// A Calls app or a TURN key as the API writes it (the two have the same fields).
#[derive(Serialize)]
pub(crate) struct NamedItem<'a> {
    pub(crate) uid: &'a str,
    pub(crate) name: &'a str,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
}

/// An item with the account it belongs to, as `GET /__fake/state` shows it.
#[derive(Serialize)]
pub(crate) struct Owned<'a, T> {
    pub(crate) account_id: &'a str,
    #[serde(flatten)]
    pub(crate) item: T,
}

/// The store's Cloudflare items for `GET /__fake/state` (which hold no secret), serialised
/// straight from the store.
pub(crate) fn state(store: &super::store::Store) -> impl Serialize + '_ {
    #[derive(Serialize)]
    struct Credentials {
        minted: usize,
        revoked: usize,
    }
    #[derive(Serialize)]
    struct CloudflareState<'a> {
        calls_apps: Vec<Owned<'a, NamedItem<'a>>>,
        magic_apps: Vec<Owned<'a, magic::MagicApp<'a>>>,
        site_app_configs: Vec<Owned<'a, sites::AppConfig<'a>>>,
        turn_keys: Vec<Owned<'a, NamedItem<'a>>>,
        turn_credentials: Credentials,
        sfu_sessions: Vec<sfu::SessionSummary<'a>>,
        sfu_adapters: Vec<sfu::AdapterSummary<'a>>,
    }
    CloudflareState {
        calls_apps: named::all(&store.calls),
        magic_apps: magic::all(store),
        site_app_configs: sites::all(store),
        turn_keys: named::all(&store.turn_keys),
        turn_credentials: Credentials {
            minted: store.turn_credentials.len(),
            revoked: store.turn_credentials.iter().filter(|c| c.revoked).count(),
        },
        sfu_sessions: sfu::sessions(store),
        sfu_adapters: sfu::adapters(store),
    }
}
