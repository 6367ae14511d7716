//! The fake Hover API under `/api`: login with expiring JWTs, and the apps handlers answering
//! JSON:API documents with every attribute present (`null` where the documents show `null`).
//!
//! Hover documents no error format; errors here are Rails-style (`{"error": "..."}`, or
//! `{"errors": {"field": ["..."]}}` for validation), as the reference notes infer.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};

use super::resolve::Route;
use super::store::{hex, now, HoverRecord, Refused, TokenCheck, Weight};
use super::State;
use crate::operations as ops;
use crate::HoverAppId;

/// The organization every fake Hover app belongs to.
pub(crate) const ORGANIZATION_ID: i64 = 62;

pub(crate) const ROUTES: &[Route] = &[
    (&ops::HOVER_AUTHENTICATE, |state, _, body| {
        authenticate(state, body)
    }),
    (&ops::HOVER_APPS_CREATE, |state, _, body| {
        create(state, body)
    }),
    (&ops::HOVER_APPS_GET, |state, params, _| {
        with_app(state, params.get("id"), |id, record| {
            ok(document(id, record))
        })
    }),
    (&ops::HOVER_APPS_UPDATE, |state, params, body| {
        update(state, params.get("id"), body)
    }),
    (&ops::HOVER_APPS_ARCHIVE, |state, params, _| {
        with_app(state, params.get("id"), |id, record| {
            let at = now();
            record.archived_at = Some(at);
            record.updated_at = at;
            ok(json!({"id": id, "archived": true}))
        })
    }),
    (&ops::HOVER_APPS_RESTORE, |state, params, _| {
        with_app(state, params.get("id"), |id, record| {
            record.archived_at = None;
            record.updated_at = now();
            ok(document(id, record))
        })
    }),
];

/// What Rails answers to a route it does not have (ASSUMPTION: as JSON).
pub(crate) fn no_route(method: &Method, path: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("No route matches [{method}] \"{path}\""),
    )
}

/// A Hover error: `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// Checks the bare JWT in `Authorization`; `None` when it is valid and unexpired.
pub(crate) fn authorize(state: &State, headers: &HeaderMap) -> Option<Response> {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok());
    let check = token.map_or(TokenCheck::Unknown, |t| state.store().hover_tokens.check(t));
    match check {
        TokenCheck::Valid => None,
        TokenCheck::Expired => Some(error(StatusCode::UNAUTHORIZED, "Signature has expired")),
        TokenCheck::Unknown => Some(error(StatusCode::UNAUTHORIZED, "Not Authorized")),
    }
}

/// Whether a login body carries the fake's email and password.
pub(crate) fn credentials_match(state: &State, body: &[u8]) -> bool {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let email = body.get("email").and_then(Value::as_str);
    let password = body.get("password").and_then(Value::as_str);
    matches!((email, password), (Some(e), Some(p)) if e == state.hover_email && state.hover_password.ct_eq(p))
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

/// An app as Hover writes it: every attribute present, `null` where it has no value.
fn document(id: i64, record: &HoverRecord) -> Value {
    json!({ "data": data(id, record, false) })
}

/// The `data` of an app's document, its token and webhook secret `[redacted]` when `redacted`.
fn data<'a>(id: i64, record: &'a HoverRecord, redacted: bool) -> impl serde::Serialize + 'a {
    #[derive(serde::Serialize)]
    struct Data<'a> {
        id: String,
        #[serde(rename = "type")]
        kind: &'static str,
        attributes: Attributes<'a>,
        relationships: Value,
    }
    #[derive(serde::Serialize)]
    struct Attributes<'a> {
        id: i64,
        icon: &'static str,
        name: &'a str,
        package_name: &'a str,
        token: &'a str,
        webhook_url: Option<&'a str>,
        webhook_secret: Option<&'a str>,
        organization_id: i64,
        created_at: chrono::DateTime<chrono::Utc>,
        updated_at: chrono::DateTime<chrono::Utc>,
        archived_at: Option<chrono::DateTime<chrono::Utc>>,
        transactions_count: i64,
        is_tester: bool,
        apk_url: Option<&'a str>,
    }
    let secret = move |value: &'a str| if redacted { "[redacted]" } else { value };
    Data {
        id: id.to_string(),
        kind: "app",
        attributes: Attributes {
            id,
            icon: "noimg.svg",
            name: &record.name,
            package_name: &record.package_name,
            token: secret(&record.token),
            webhook_url: record.webhook_url.as_deref(),
            webhook_secret: record.webhook_secret.as_deref().map(secret),
            organization_id: ORGANIZATION_ID,
            created_at: record.created_at,
            updated_at: record.updated_at,
            archived_at: record.archived_at,
            transactions_count: 0,
            is_tester: false,
            apk_url: None,
        },
        relationships: json!({
            "organization": {
                "data": {"id": ORGANIZATION_ID.to_string(), "type": "organization"}
            }
        }),
    }
}

/// A JWT-shaped token (`{"alg":"HS256"}.{"user_id":62,"exp":…}.signature`), so that code which
/// reads its expiry works against the fake too. The signature is random: nothing verifies it.
fn jwt(ttl: std::time::Duration) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let exp = now()
        .timestamp()
        .saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    let payload = json!({"user_id": ORGANIZATION_ID, "exp": exp, "jti": hex(16)});
    format!(
        "{}.{}.{}",
        b64.encode(br#"{"alg":"HS256"}"#),
        b64.encode(payload.to_string()),
        b64.encode(hex(32))
    )
}

fn authenticate(state: &State, body: &[u8]) -> Response {
    if serde_json::from_slice::<Value>(body).is_err() {
        return error(StatusCode::BAD_REQUEST, "Malformed JSON in request body");
    }
    if !credentials_match(state, body) {
        return error(StatusCode::UNAUTHORIZED, "Invalid email or password");
    }
    let token = jwt(state.hover_token_ttl);
    state
        .store()
        .hover_tokens
        .issue(token.clone(), state.hover_token_ttl);
    ok(json!({"auth_token": token}))
}

/// The `app` object of a request body, or the answer to what is wrong with it.
fn fields(body: &[u8], create: bool) -> Result<serde_json::Map<String, Value>, Response> {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Malformed JSON in request body",
        ));
    };
    let Some(Value::Object(app)) = body.get("app") else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "param is missing or the value is empty: app",
        ));
    };
    let mut problems = serde_json::Map::new();
    for field in ["name", "package_name"] {
        let blank = match app.get(field) {
            None => create,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => true,
        };
        if blank {
            problems.insert(field.into(), json!(["can't be blank"]));
        }
    }
    if !matches!(
        app.get("webhook_url"),
        None | Some(Value::Null) | Some(Value::String(_))
    ) {
        problems.insert("webhook_url".into(), json!(["is invalid"]));
    }
    if problems.is_empty() {
        Ok(app.clone())
    } else {
        Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"errors": problems})),
        )
            .into_response())
    }
}

fn create(state: &State, body: &[u8]) -> Response {
    let app = match fields(body, true) {
        Ok(app) => app,
        Err(bad) => return bad,
    };
    let text = |field: &str| app.get(field).and_then(Value::as_str).map(str::to_owned);
    let at = now();
    let webhook_url = text("webhook_url");
    let record = HoverRecord {
        name: text("name").unwrap_or_default(),
        package_name: text("package_name").unwrap_or_default(),
        token: hex(32),
        webhook_secret: webhook_url.as_ref().map(|_| hex(32)),
        webhook_url,
        created_at: at,
        updated_at: at,
        archived_at: None,
    };
    let mut store = state.store();
    if let Err(why) = store.admit(record.weight(), 0, store.hover.len()) {
        return refused(why);
    }
    let id = store.next_hover_id;
    store.next_hover_id += 1;
    let answer = document(id, &record);
    store.hover.put(id, record);
    (StatusCode::CREATED, Json(answer)).into_response()
}

fn update(state: &State, id: &str, body: &[u8]) -> Response {
    let app = match fields(body, false) {
        Ok(app) => app,
        Err(bad) => return bad,
    };
    let Some(numeric) = numeric_id(id) else {
        return missing(id);
    };
    let mut store = state.store();
    let Some(old) = store.hover.get(&numeric) else {
        return missing(id);
    };
    let mut record = old.clone();
    if let Some(name) = app.get("name").and_then(Value::as_str) {
        record.name = name.into();
    }
    if let Some(package) = app.get("package_name").and_then(Value::as_str) {
        record.package_name = package.into();
    }
    match app.get("webhook_url") {
        Some(Value::Null) => {
            record.webhook_url = None;
            record.webhook_secret = None;
        }
        Some(Value::String(url)) => {
            record.webhook_url = Some(url.clone());
            record.webhook_secret.get_or_insert_with(|| hex(32));
        }
        _ => {}
    }
    record.updated_at = now();
    if let Err(why) = store.admit(record.weight(), old.weight(), store.hover.len()) {
        return refused(why);
    }
    let answer = ok(document(numeric, &record));
    store.hover.put(numeric, record);
    answer
}

/// The answer to an app the store does not take.
fn refused(why: Refused) -> Response {
    let status = match why {
        Refused::TooLarge => StatusCode::UNPROCESSABLE_ENTITY,
        Refused::Full => StatusCode::INSUFFICIENT_STORAGE,
    };
    error(status, &why.message())
}

/// Hover's 404 for an app that is not there.
fn missing(id: &str) -> Response {
    let shown: String = id.chars().take(32).flat_map(char::escape_debug).collect();
    error(
        StatusCode::NOT_FOUND,
        &format!("Couldn't find App with 'id'={shown}"),
    )
}

/// An app ID as the store keys it, if it is one.
fn numeric_id(id: &str) -> Option<i64> {
    HoverAppId::RULE.check(id).ok()?.parse().ok()
}

/// Runs `change` on an existing app, or answers 404.
fn with_app(
    state: &State,
    id: &str,
    change: impl FnOnce(i64, &mut HoverRecord) -> Response,
) -> Response {
    let Some(numeric) = numeric_id(id) else {
        return missing(id);
    };
    let mut store = state.store();
    store
        .hover
        .update(&numeric, |record| change(numeric, record))
        .unwrap_or_else(|| missing(id))
}

/// The store's Hover apps for `GET /__fake/state`, secrets redacted, serialised straight
/// from the store.
pub(crate) fn state(store: &super::store::Store) -> impl serde::Serialize + '_ {
    #[derive(serde::Serialize)]
    struct HoverState<T> {
        apps: Vec<T>,
        tokens_issued: usize,
    }
    HoverState {
        apps: store
            .hover
            .iter()
            .map(|(id, r)| data(*id, r, true))
            .collect(),
        tokens_issued: store.hover_tokens.len(),
    }
}
