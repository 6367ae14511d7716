//! The fake's routes. Answers are built from the generated types, so they have the shapes the
//! specs describe (a test checks them against the specs' schemas too).

// Handlers return an early `Response` as their error, axum's usual shape; its size does not
// matter in a test server.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State as Shared};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};

use super::{hex, CallsRecord, Fault, HoverRecord, MagicRecord, State, ORGANIZATION_ID};
use crate::cloudflare::magic::is_ipv4_cidr;
use crate::generated::{calls, hover, magic};

type Shared_ = Shared<Arc<State>>;

pub(crate) fn router(state: Arc<State>) -> Router {
    let cf = "/client/v4/accounts/{account}";
    Router::new()
        .route(
            &format!("{cf}/calls/apps"),
            get(calls_list).post(calls_create),
        )
        .route(
            &format!("{cf}/calls/apps/{{app}}"),
            get(calls_get).put(calls_update).delete(calls_delete),
        )
        .route(
            &format!("{cf}/magic/apps"),
            get(magic_list).post(magic_create),
        )
        .route(
            &format!("{cf}/magic/apps/{{app}}"),
            put(magic_put).patch(magic_patch).delete(magic_delete),
        )
        .route("/api/authenticate", post(authenticate))
        .route("/api/apps", post(hover_create))
        .route(
            "/api/apps/{id}",
            get(hover_get).patch(hover_update).delete(hover_archive),
        )
        .route("/api/apps/{id}/restore", put(hover_restore))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no such route"})),
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), inject_faults))
        .with_state(state)
}

/// The operationId a request is for, from its method and path shape.
fn operation_of(method: &Method, path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match (method.as_str(), parts.as_slice()) {
        ("GET", ["client", "v4", "accounts", _, "calls", "apps"]) => "calls-apps-list",
        ("POST", ["client", "v4", "accounts", _, "calls", "apps"]) => "calls-apps-create-a-new-app",
        ("GET", ["client", "v4", "accounts", _, "calls", "apps", _]) => {
            "calls-apps-retrieve-app-details"
        }
        ("PUT", ["client", "v4", "accounts", _, "calls", "apps", _]) => {
            "calls-apps-update-app-details"
        }
        ("DELETE", ["client", "v4", "accounts", _, "calls", "apps", _]) => "calls-apps-delete-app",
        ("GET", ["client", "v4", "accounts", _, "magic", "apps"]) => "magic-account-apps-list-apps",
        ("POST", ["client", "v4", "accounts", _, "magic", "apps"]) => "magic-account-apps-add-app",
        ("PUT", ["client", "v4", "accounts", _, "magic", "apps", _]) => {
            "magic-account-apps-update-app"
        }
        ("PATCH", ["client", "v4", "accounts", _, "magic", "apps", _]) => {
            "magic-account-apps-patch-app"
        }
        ("DELETE", ["client", "v4", "accounts", _, "magic", "apps", _]) => {
            "magic-account-apps-delete-app"
        }
        ("POST", ["api", "authenticate"]) => "authenticate",
        ("POST", ["api", "apps"]) => "create-app",
        ("GET", ["api", "apps", _]) => "get-app",
        ("PATCH", ["api", "apps", _]) => "update-app",
        ("DELETE", ["api", "apps", _]) => "archive-app",
        ("PUT", ["api", "apps", _, "restore"]) => "restore-app",
        _ => return None,
    })
}

/// Applies the next queued fault of the request's operation, if any.
async fn inject_faults(Shared(state): Shared_, request: Request, next: Next) -> Response {
    let fault = operation_of(request.method(), request.uri().path()).and_then(|op| {
        state
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(op)
            .and_then(|queue| queue.pop_front())
    });
    let cloudflare = request.uri().path().starts_with("/client/");
    match fault {
        None => next.run(request).await,
        Some(Fault::Stall(wait)) => {
            tokio::time::sleep(wait).await;
            next.run(request).await
        }
        Some(Fault::MalformedBody) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            r#"{"success": true, "result": {"uid": "#,
        )
            .into_response(),
        Some(Fault::RateLimited { retry_after }) => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let mut response = if cloudflare {
                cf_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    971,
                    "Please wait and consider throttling your request speed",
                    None,
                )
            } else {
                hover_error(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
            };
            if let Ok(value) = seconds.to_string().parse() {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status == StatusCode::NO_CONTENT {
                return status.into_response();
            }
            let reason = status.canonical_reason().unwrap_or("Injected fault");
            if cloudflare {
                cf_error(status, 10000 + u32::from(code), reason, None)
            } else {
                hover_error(status, reason)
            }
        }
    }
}

// ----- Cloudflare -----

fn cf_error(status: StatusCode, code: u32, message: &str, pointer: Option<&str>) -> Response {
    let mut error = json!({"code": code, "message": message});
    if let Some(pointer) = pointer {
        error["source"] = json!({"pointer": pointer});
    }
    let body = json!({"success": false, "errors": [error], "messages": [], "result": null});
    cf_ok(status, body)
}

/// A Cloudflare answer, with a `cf-ray` as the real edge adds to every one.
fn cf_ok<T: serde::Serialize>(status: StatusCode, body: T) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        "cf-ray",
        format!("{}-FAKE", hex(16)).parse().expect("valid header"),
    );
    response
}

/// Checks `Authorization: Bearer <token>`.
fn cf_authorized(state: &State, headers: &HeaderMap) -> Result<(), Response> {
    let expected = format!("Bearer {}", state.cloudflare_token.expose());
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(value) if crate::Secret::new(value).ct_eq(&expected) => Ok(()),
        Some(_) => Err(cf_error(
            StatusCode::FORBIDDEN,
            10000,
            "Authentication error",
            None,
        )),
        None => Err(cf_error(
            StatusCode::UNAUTHORIZED,
            10001,
            "Unable to authenticate request",
            None,
        )),
    }
}

fn parse_json(body: &Bytes, cloudflare: bool) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            if cloudflare {
                cf_error(
                    StatusCode::BAD_REQUEST,
                    6007,
                    "Malformed JSON in request body",
                    None,
                )
            } else {
                hover_error(StatusCode::BAD_REQUEST, "Malformed JSON in request body")
            }
        })
}

fn calls_app(uid: &str, record: &CallsRecord) -> calls::types::CallsApp {
    calls::types::CallsApp {
        uid: Some(uid.to_string()),
        name: Some(record.name.clone()),
        created: Some(record.created),
        modified: Some(record.modified),
    }
}

fn calls_single(app: calls::types::CallsApp, status: StatusCode) -> Response {
    cf_ok(
        status,
        calls::types::CallsAppEnvelope {
            success: true,
            errors: calls::types::CloudflareMessages(Vec::new()),
            messages: calls::types::CloudflareMessages(Vec::new()),
            result: Some(app),
        },
    )
}

fn calls_not_found(app: &str) -> Response {
    cf_error(
        StatusCode::NOT_FOUND,
        10404,
        &format!("App {app} not found"),
        None,
    )
}

fn name_of(body: &Value) -> Result<String, Response> {
    match body.get("name") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(name)) => Ok(name.clone()),
        Some(_) => Err(cf_error(
            StatusCode::BAD_REQUEST,
            1001,
            "name must be a string",
            Some("/name"),
        )),
    }
}

async fn calls_list(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Response {
    if let Err(denied) = cf_authorized(&s, &headers) {
        return denied;
    }
    let store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    let apps = store
        .calls
        .iter()
        .filter(|((owner, _), _)| *owner == account)
        .map(|((_, uid), record)| calls_app(uid, record))
        .collect();
    cf_ok(
        StatusCode::OK,
        calls::types::CallsAppListEnvelope {
            success: true,
            errors: calls::types::CloudflareMessages(Vec::new()),
            messages: calls::types::CloudflareMessages(Vec::new()),
            result: apps,
        },
    )
}

async fn calls_create(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(denied) = cf_authorized(&s, &headers) {
        return denied;
    }
    let name = match parse_json(&body, true).and_then(|b| name_of(&b)) {
        Ok(name) => name,
        Err(bad) => return bad,
    };
    let now = Utc::now();
    let uid = hex(32);
    let record = CallsRecord {
        name,
        created: now,
        modified: now,
    };
    let app = calls_app(&uid, &record);
    s.store
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .calls
        .insert((account, uid), record);
    cf_ok(
        StatusCode::CREATED,
        calls::types::CallsAppWithSecretEnvelope {
            success: true,
            errors: calls::types::CloudflareMessages(Vec::new()),
            messages: calls::types::CloudflareMessages(Vec::new()),
            result: Some(calls::types::CallsAppWithSecret {
                uid: app.uid,
                name: app.name,
                created: app.created,
                modified: app.modified,
                // The only time the secret is ever shown.
                secret: Some(crate::Secret::new(hex(64))),
            }),
        },
    )
}

async fn calls_get(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path((account, app)): Path<(String, String)>,
) -> Response {
    if let Err(denied) = cf_authorized(&s, &headers) {
        return denied;
    }
    let store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    match store.calls.get(&(account, app.clone())) {
        Some(record) => calls_single(calls_app(&app, record), StatusCode::OK),
        None => calls_not_found(&app),
    }
}

async fn calls_update(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path((account, app)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(denied) = cf_authorized(&s, &headers) {
        return denied;
    }
    let name = match parse_json(&body, true).and_then(|b| name_of(&b)) {
        Ok(name) => name,
        Err(bad) => return bad,
    };
    let mut store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    match store.calls.get_mut(&(account, app.clone())) {
        Some(record) => {
            record.name = name;
            record.modified = Utc::now();
            calls_single(calls_app(&app, record), StatusCode::OK)
        }
        None => calls_not_found(&app),
    }
}

async fn calls_delete(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path((account, app)): Path<(String, String)>,
) -> Response {
    if let Err(denied) = cf_authorized(&s, &headers) {
        return denied;
    }
    let mut store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    match store.calls.remove(&(account, app.clone())) {
        Some(record) => calls_single(calls_app(&app, &record), StatusCode::OK),
        None => calls_not_found(&app),
    }
}

fn magic_app(id: &str, record: &MagicRecord) -> magic::types::MagicAccountApp {
    let subnets = |list: &Option<Vec<String>>| {
        list.as_ref().map(|l| {
            magic::types::MagicSubnets(Some(
                l.iter().cloned().map(magic::types::MagicCidr).collect(),
            ))
        })
    };
    magic::types::MagicAccountApp {
        account_app_id: id.to_string(),
        name: Some(record.name.clone()),
        type_: Some(record.app_type.clone()),
        hostnames: record
            .hostnames
            .clone()
            .map(|h| magic::types::MagicHostnames(Some(h))),
        ip_subnets: subnets(&record.ip_subnets),
        source_subnets: subnets(&record.source_subnets),
    }
}

fn magic_single(id: &str, record: &MagicRecord, status: StatusCode) -> Response {
    cf_ok(
        status,
        magic::types::MagicAppEnvelope {
            success: true,
            errors: magic::types::CloudflareMessages(Vec::new()),
            messages: magic::types::CloudflareMessages(Vec::new()),
            result: Some(magic_app(id, record)),
        },
    )
}

fn magic_not_found(app: &str) -> Response {
    cf_error(
        StatusCode::NOT_FOUND,
        1002,
        &format!("App {app} not found"),
        None,
    )
}

/// The fields of a Magic request body, checked like the API checks them.
struct MagicFields {
    name: Option<String>,
    app_type: Option<String>,
    hostnames: Option<Vec<String>>,
    ip_subnets: Option<Vec<String>>,
    source_subnets: Option<Vec<String>>,
}

fn magic_fields(body: &Value) -> Result<MagicFields, Response> {
    let bad = |field: &str, message: String| {
        cf_error(
            StatusCode::BAD_REQUEST,
            1003,
            &message,
            Some(&format!("/{field}")),
        )
    };
    let text = |field: &str| match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(field, format!("{field} must be a string"))),
    };
    let list = |field: &str, cidr: bool| -> Result<Option<Vec<String>>, Response> {
        let Some(value) = body.get(field) else {
            return Ok(None);
        };
        let items = value
            .as_array()
            .ok_or_else(|| bad(field, format!("{field} must be a list of strings")))?;
        let mut out = Vec::new();
        for item in items {
            let item = item
                .as_str()
                .ok_or_else(|| bad(field, format!("{field} must be a list of strings")))?;
            if cidr && !is_ipv4_cidr(item) {
                return Err(bad(field, format!("{item} is not a valid IPv4 CIDR")));
            }
            out.push(item.to_string());
        }
        Ok(Some(out))
    };
    Ok(MagicFields {
        name: text("name")?,
        app_type: text("type")?,
        hostnames: list("hostnames", false)?,
        ip_subnets: list("ip_subnets", true)?,
        source_subnets: list("source_subnets", true)?,
    })
}

async fn magic_list(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Response {
    if let Err(denied) = cf_authorized(&s, &headers) {
        return denied;
    }
    let store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    let mut items: Vec<crate::cloudflare::magic::wire::MagicAppListItem> = store
        .magic
        .iter()
        .filter(|((owner, _), _)| *owner == account)
        .map(|((_, id), record)| {
            crate::cloudflare::magic::wire::MagicAppListItem::AccountApp(magic_app(id, record))
        })
        .collect();
    // Every account also sees the apps Cloudflare manages.
    items.push(
        crate::cloudflare::magic::wire::MagicAppListItem::ManagedApp(
            magic::types::MagicManagedApp {
                managed_app_id: "cloudflare".into(),
                name: Some("Cloudflare".into()),
                type_: Some("Development".into()),
                hostnames: Some(magic::types::MagicHostnames(Some(vec![
                    "cloudflare.com".into()
                ]))),
                ip_subnets: None,
                source_subnets: None,
            },
        ),
    );
    cf_ok(
        StatusCode::OK,
        magic::types::MagicAppListEnvelope {
            success: true,
            errors: magic::types::CloudflareMessages(Vec::new()),
            messages: magic::types::CloudflareMessages(Vec::new()),
            result: Some(items),
        },
    )
}

async fn magic_create(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(denied) = cf_authorized(&s, &headers) {
        return denied;
    }
    let fields = match parse_json(&body, true).and_then(|b| magic_fields(&b)) {
        Ok(fields) => fields,
        Err(bad) => return bad,
    };
    let (Some(name), Some(app_type)) = (fields.name, fields.app_type) else {
        return cf_error(
            StatusCode::BAD_REQUEST,
            1001,
            "name and type are required",
            None,
        );
    };
    if fields.hostnames.is_none() && fields.ip_subnets.is_none() && fields.source_subnets.is_none()
    {
        return cf_error(
            StatusCode::BAD_REQUEST,
            1001,
            "at least one of hostnames, ip_subnets or source_subnets is required",
            None,
        );
    }
    let record = MagicRecord {
        name,
        app_type,
        hostnames: fields.hostnames,
        ip_subnets: fields.ip_subnets,
        source_subnets: fields.source_subnets,
    };
    let id = hex(32);
    let response = magic_single(&id, &record, StatusCode::CREATED);
    s.store
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .magic
        .insert((account, id), record);
    response
}

/// PUT replaces (omitted lists are cleared), PATCH merges.
async fn magic_change(
    state: &State,
    headers: &HeaderMap,
    account: String,
    app: String,
    body: &Bytes,
    replace: bool,
) -> Response {
    if let Err(denied) = cf_authorized(state, headers) {
        return denied;
    }
    let fields = match parse_json(body, true).and_then(|b| magic_fields(&b)) {
        Ok(fields) => fields,
        Err(bad) => return bad,
    };
    if fields.name.is_none()
        && fields.app_type.is_none()
        && fields.hostnames.is_none()
        && fields.ip_subnets.is_none()
        && fields.source_subnets.is_none()
    {
        return cf_error(
            StatusCode::BAD_REQUEST,
            1001,
            "at least one field is required",
            None,
        );
    }
    let mut store = state.store.lock().unwrap_or_else(|p| p.into_inner());
    let Some(record) = store.magic.get_mut(&(account, app.clone())) else {
        return magic_not_found(&app);
    };
    if let Some(name) = fields.name {
        record.name = name;
    }
    if let Some(app_type) = fields.app_type {
        record.app_type = app_type;
    }
    if replace {
        record.hostnames = fields.hostnames;
        record.ip_subnets = fields.ip_subnets;
        record.source_subnets = fields.source_subnets;
    } else {
        record.hostnames = fields.hostnames.or(record.hostnames.take());
        record.ip_subnets = fields.ip_subnets.or(record.ip_subnets.take());
        record.source_subnets = fields.source_subnets.or(record.source_subnets.take());
    }
    magic_single(&app, record, StatusCode::OK)
}

async fn magic_put(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path((account, app)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    magic_change(&s, &headers, account, app, &body, true).await
}

async fn magic_patch(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path((account, app)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    magic_change(&s, &headers, account, app, &body, false).await
}

async fn magic_delete(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path((account, app)): Path<(String, String)>,
) -> Response {
    if let Err(denied) = cf_authorized(&s, &headers) {
        return denied;
    }
    let mut store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    match store.magic.remove(&(account, app.clone())) {
        Some(record) => magic_single(&app, &record, StatusCode::OK),
        None => magic_not_found(&app),
    }
}

// ----- Hover -----

fn hover_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn hover_authorized(state: &State, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok());
    let store = state.store.lock().unwrap_or_else(|p| p.into_inner());
    match token {
        Some(token) if store.hover_tokens.contains(token) => Ok(()),
        _ => Err(hover_error(StatusCode::UNAUTHORIZED, "Not Authorized")),
    }
}

fn hover_document(id: i64, record: &HoverRecord) -> hover::types::HoverAppDocument {
    hover::types::HoverAppDocument {
        data: hover::types::HoverAppResource {
            id: id.to_string(),
            type_: "app".into(),
            attributes: hover::types::HoverAppAttributes {
                id,
                icon: Some("noimg.svg".into()),
                name: record.name.clone(),
                package_name: record.package_name.clone(),
                token: Some(crate::Secret::new(record.token.clone())),
                webhook_url: record.webhook_url.clone(),
                webhook_secret: record.webhook_secret.clone().map(crate::Secret::new),
                organization_id: Some(ORGANIZATION_ID),
                created_at: Some(record.created_at),
                updated_at: Some(record.updated_at),
                archived_at: record.archived_at,
                transactions_count: Some(0),
                is_tester: Some(false),
                apk_url: None,
            },
            relationships: Some(hover::types::HoverAppRelationships {
                organization: Some(hover::types::HoverOrganizationRelationship {
                    data: Some(hover::types::HoverResourceIdentifier {
                        id: ORGANIZATION_ID.to_string(),
                        type_: "organization".into(),
                    }),
                }),
            }),
        },
    }
}

async fn authenticate(Shared(s): Shared_, body: Bytes) -> Response {
    let body = match parse_json(&body, false) {
        Ok(body) => body,
        Err(bad) => return bad,
    };
    let email = body.get("email").and_then(Value::as_str);
    let password = body.get("password").and_then(Value::as_str);
    match (email, password) {
        (Some(email), Some(password))
            if email == s.hover_email && s.hover_password.ct_eq(password) =>
        {
            let token = format!("fake-jwt-{}", hex(40));
            s.store
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .hover_tokens
                .insert(token.clone());
            let answer = hover::types::HoverAuthenticated {
                auth_token: crate::Secret::new(token),
            };
            (StatusCode::OK, Json(answer)).into_response()
        }
        _ => hover_error(StatusCode::UNAUTHORIZED, "Invalid email or password"),
    }
}

/// The `app` object of a Hover request body, and what is wrong with it.
fn hover_fields(body: &Bytes, create: bool) -> Result<serde_json::Map<String, Value>, Response> {
    let body = parse_json(body, false)?;
    let Some(Value::Object(app)) = body.get("app") else {
        return Err(hover_error(
            StatusCode::BAD_REQUEST,
            "param is missing or the value is empty: app",
        ));
    };
    let mut problems = serde_json::Map::new();
    for field in ["name", "package_name"] {
        let value = app.get(field);
        let blank = match value {
            None => create,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => true,
        };
        if blank {
            problems.insert(field.into(), json!(["can't be blank"]));
        }
    }
    match app.get("webhook_url") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => {
            problems.insert("webhook_url".into(), json!(["is invalid"]));
        }
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

async fn hover_create(Shared(s): Shared_, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(denied) = hover_authorized(&s, &headers) {
        return denied;
    }
    let app = match hover_fields(&body, true) {
        Ok(app) => app,
        Err(bad) => return bad,
    };
    let text = |field: &str| app.get(field).and_then(Value::as_str).map(str::to_owned);
    let now = Utc::now();
    let webhook_url = text("webhook_url");
    let record = HoverRecord {
        name: text("name").unwrap_or_default(),
        package_name: text("package_name").unwrap_or_default(),
        token: hex(32),
        webhook_secret: webhook_url.as_ref().map(|_| hex(32)),
        webhook_url,
        created_at: now,
        updated_at: now,
        archived_at: None,
    };
    let mut store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    let id = store.next_hover_id;
    store.next_hover_id += 1;
    let document = hover_document(id, &record);
    store.hover.insert(id, record);
    (StatusCode::CREATED, Json(document)).into_response()
}

/// Runs `change` on an existing app after checking the token, or answers 401 / 404.
fn with_hover_app(
    state: &State,
    headers: &HeaderMap,
    id: &str,
    change: impl FnOnce(i64, &mut HoverRecord) -> Response,
) -> Response {
    if let Err(denied) = hover_authorized(state, headers) {
        return denied;
    }
    let missing = || {
        hover_error(
            StatusCode::NOT_FOUND,
            &format!("Couldn't find App with 'id'={id}"),
        )
    };
    let Ok(numeric) = id.parse::<i64>() else {
        return missing();
    };
    let mut store = state.store.lock().unwrap_or_else(|p| p.into_inner());
    match store.hover.get_mut(&numeric) {
        Some(record) => change(numeric, record),
        None => missing(),
    }
}

async fn hover_get(Shared(s): Shared_, headers: HeaderMap, Path(id): Path<String>) -> Response {
    with_hover_app(&s, &headers, &id, |id, record| {
        (StatusCode::OK, Json(hover_document(id, record))).into_response()
    })
}

async fn hover_update(
    Shared(s): Shared_,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    with_hover_app(&s, &headers, &id, |id, record| {
        let app = match hover_fields(&body, false) {
            Ok(app) => app,
            Err(bad) => return bad,
        };
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
        record.updated_at = Utc::now();
        (StatusCode::OK, Json(hover_document(id, record))).into_response()
    })
}

async fn hover_archive(Shared(s): Shared_, headers: HeaderMap, Path(id): Path<String>) -> Response {
    with_hover_app(&s, &headers, &id, |id, record| {
        let now = Utc::now();
        record.archived_at = Some(now);
        record.updated_at = now;
        let answer = hover::types::HoverArchived { id, archived: true };
        (StatusCode::OK, Json(answer)).into_response()
    })
}

async fn hover_restore(Shared(s): Shared_, headers: HeaderMap, Path(id): Path<String>) -> Response {
    with_hover_app(&s, &headers, &id, |id, record| {
        record.archived_at = None;
        record.updated_at = Utc::now();
        (StatusCode::OK, Json(hover_document(id, record))).into_response()
    })
}
