//! The fake Cloudflare API under `/client/v4`: routing, authentication and the Calls apps and
//! Magic account apps handlers, answering with Cloudflare's envelopes.
//!
//! Where the sources show how the real API answers, the fake does the same; where they do not,
//! the choice is marked ASSUMPTION and listed in the README's "Testing your code".

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::store::{hex, now, CallsRecord, MagicRecord, Refused, TurnKeyRecord, Weight};
use super::State;
use crate::cloudflare::magic::{is_ipv4_cidr, is_source_cidr};
use crate::core::ids::IdRule;
use crate::{AccountId, CallsAppId, MagicAppId, TurnKeyId};

/// A Cloudflare operation with its path parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    CallsList { account: String },
    CallsCreate { account: String },
    CallsGet { account: String, app: String },
    CallsUpdate { account: String, app: String },
    CallsDelete { account: String, app: String },
    MagicList { account: String },
    MagicCreate { account: String },
    MagicUpdate { account: String, app: String },
    MagicPatch { account: String, app: String },
    MagicDelete { account: String, app: String },
    TurnKeyList { account: String },
    TurnKeyCreate { account: String },
    TurnKeyGet { account: String, key: String },
    TurnKeyUpdate { account: String, key: String },
    TurnKeyDelete { account: String, key: String },
}

impl Call {
    pub(crate) fn operation(&self) -> &'static str {
        match self {
            Call::CallsList { .. } => "calls-apps-list",
            Call::CallsCreate { .. } => "calls-apps-create-a-new-app",
            Call::CallsGet { .. } => "calls-apps-retrieve-app-details",
            Call::CallsUpdate { .. } => "calls-apps-update-app-details",
            Call::CallsDelete { .. } => "calls-apps-delete-app",
            Call::MagicList { .. } => "magic-account-apps-list-apps",
            Call::MagicCreate { .. } => "magic-account-apps-add-app",
            Call::MagicUpdate { .. } => "magic-account-apps-update-app",
            Call::MagicPatch { .. } => "magic-account-apps-patch-app",
            Call::MagicDelete { .. } => "magic-account-apps-delete-app",
            Call::TurnKeyList { .. } => "calls-turn-key-list",
            Call::TurnKeyCreate { .. } => "calls-turn-key-create",
            Call::TurnKeyGet { .. } => "calls-retrieve-turn-key-details",
            Call::TurnKeyUpdate { .. } => "calls-update-turn-key",
            Call::TurnKeyDelete { .. } => "calls-delete-turn-key",
        }
    }

    /// Whether it lists a collection (its answer grows with the store).
    pub(crate) fn is_list(&self) -> bool {
        matches!(
            self,
            Call::CallsList { .. } | Call::MagicList { .. } | Call::TurnKeyList { .. }
        )
    }

    fn is_calls(&self) -> bool {
        self.operation().starts_with("calls-")
    }
}

/// Why a request under `/client/v4` reaches no operation.
pub(crate) enum NoRoute {
    /// No route has this shape (or this method): 400 with 7003 and 7000.
    Unknown,
    /// A route has this shape but an identifier in it is not one: 404 with 7003.
    BadIdentifier,
}

/// The operation for `method` and the path `rest` (after `/client/v4`).
///
/// ASSUMPTION: a wrong method on a known path is answered like an unknown path (Cloudflare's
/// router matches method and path together, and says "No route for that URI"); no captured
/// answer to a wrong method was found.
pub(crate) fn route(method: &Method, rest: &str) -> Result<Call, NoRoute> {
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let account_ok = |a: &str| AccountId::RULE.check(a).is_ok();
    let (account, tail) = match segments.as_slice() {
        ["accounts", account, tail @ ..] => (*account, tail),
        _ => return Err(NoRoute::Unknown),
    };
    let account_s = account.to_string();
    let call = match (method.as_str(), tail) {
        ("GET", ["calls", "apps"]) => Call::CallsList { account: account_s },
        ("POST", ["calls", "apps"]) => Call::CallsCreate { account: account_s },
        (m, ["calls", "apps", app]) => item(
            m,
            account,
            app,
            CallsAppId::RULE,
            &[
                ("GET", |account, app| Call::CallsGet { account, app }),
                ("PUT", |account, app| Call::CallsUpdate { account, app }),
                ("DELETE", |account, app| Call::CallsDelete { account, app }),
            ],
        )?,
        ("GET", ["calls", "turn_keys"]) => Call::TurnKeyList { account: account_s },
        ("POST", ["calls", "turn_keys"]) => Call::TurnKeyCreate { account: account_s },
        (m, ["calls", "turn_keys", key]) => item(
            m,
            account,
            key,
            TurnKeyId::RULE,
            &[
                ("GET", |account, key| Call::TurnKeyGet { account, key }),
                ("PUT", |account, key| Call::TurnKeyUpdate { account, key }),
                ("DELETE", |account, key| Call::TurnKeyDelete {
                    account,
                    key,
                }),
            ],
        )?,
        ("GET", ["magic", "apps"]) => Call::MagicList { account: account_s },
        ("POST", ["magic", "apps"]) => Call::MagicCreate { account: account_s },
        (m, ["magic", "apps", app]) => item(
            m,
            account,
            app,
            MagicAppId::RULE,
            &[
                ("PUT", |account, app| Call::MagicUpdate { account, app }),
                ("PATCH", |account, app| Call::MagicPatch { account, app }),
                ("DELETE", |account, app| Call::MagicDelete { account, app }),
            ],
        )?,
        _ => return Err(NoRoute::Unknown),
    };
    if !account_ok(account) {
        return Err(NoRoute::BadIdentifier);
    }
    Ok(call)
}

/// The call a method makes on one item (`…/{id}`): an unknown method is no route; a known one
/// with an identifier that is not one is a bad identifier, as Cloudflare tells them apart.
type MakeCall = fn(String, String) -> Call;

fn item(
    method: &str,
    account: &str,
    id: &str,
    rule: IdRule,
    calls: &[(&str, MakeCall)],
) -> Result<Call, NoRoute> {
    let make = calls
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, make)| make)
        .ok_or(NoRoute::Unknown)?;
    if AccountId::RULE.check(account).is_err() || rule.check(id).is_err() {
        return Err(NoRoute::BadIdentifier);
    }
    Ok(make(account.to_string(), id.to_string()))
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
        NoRoute::Unknown => failure(
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
        NoRoute::BadIdentifier => failure(
            StatusCode::NOT_FOUND,
            &[(
                7003,
                &format!("Could not route to {path}, perhaps your object identifier is invalid?"),
            )],
        ),
    }
}

/// A failure envelope with these `(code, message)` errors, and a `cf-ray`.
pub(crate) fn failure(status: StatusCode, errors: &[(u32, &str)]) -> Response {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(code, message)| json!({"code": code, "message": message}))
        .collect();
    envelope(
        status,
        json!({"success": false, "errors": errors, "messages": [], "result": null}),
    )
}

/// A validation failure pointing at a field of the request body.
fn invalid(code: u32, message: &str, field: Option<&str>) -> Response {
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
fn success(status: StatusCode, result: impl Serialize) -> Response {
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
fn envelope(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(ray) = HeaderValue::from_str(&format!("{}-FAKE", hex(16))) {
        response.headers_mut().insert("cf-ray", ray);
    }
    response
}

/// Checks the request's credentials for `call`: a bearer token for every operation, or the
/// global key and its email for Magic. `None` when they are accepted, else the answer.
///
/// Sources: no credentials is 400 with 9106 (xiaotianxt/bypass-cloudflare-for-github-action#2),
/// a malformed `Authorization` 400 with 6003/6111 (jeessy2/ddns-go#240), a token that is not
/// accepted 403 with 10000 (cloudflare/cloudflare-docs#13405). ASSUMPTIONS: a wrong key or
/// email is 403 with 9103 (the code Cloudflare's docs give for it; no captured status), and
/// the global key on Calls, which documents tokens only, is 403 with 10000.
pub(crate) fn authorize(state: &State, call: &Call, headers: &HeaderMap) -> Option<Response> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (authorization, email, key) = (
        text("authorization"),
        text("x-auth-email"),
        text("x-auth-key"),
    );
    let denied = || failure(StatusCode::FORBIDDEN, &[(10_000, "Authentication error")]);
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
        (None, None) => Some(failure(
            StatusCode::BAD_REQUEST,
            &[(
                9106,
                "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
            )],
        )),
        (Some(_), Some(_)) if call.is_calls() => Some(denied()),
        (Some(email), Some(key))
            if email == state.cloudflare_email && state.cloudflare_key.ct_eq(key) =>
        {
            None
        }
        (Some(_), Some(_)) => Some(failure(
            StatusCode::FORBIDDEN,
            &[(9103, "Unknown X-Auth-Key or X-Auth-Email")],
        )),
        _ => Some(failure(
            StatusCode::BAD_REQUEST,
            &[(
                9106,
                "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
            )],
        )),
    }
}

/// Serves an authorized `call`.
pub(crate) fn handle(state: &State, call: Call, body: &[u8]) -> Response {
    match call {
        Call::CallsList { account } => calls_list(state, &account),
        Call::CallsCreate { account } => calls_create(state, account, body),
        Call::CallsGet { account, app } => calls_get(state, account, app),
        Call::CallsUpdate { account, app } => calls_update(state, account, app, body),
        Call::CallsDelete { account, app } => calls_delete(state, account, app),
        Call::MagicList { account } => magic_list(state, &account),
        Call::MagicCreate { account } => magic_create(state, account, body),
        Call::MagicUpdate { account, app } => magic_change(state, account, app, body, true),
        Call::MagicPatch { account, app } => magic_change(state, account, app, body, false),
        Call::MagicDelete { account, app } => magic_delete(state, account, app),
        Call::TurnKeyList { account } => turn_key_list(state, &account),
        Call::TurnKeyCreate { account } => turn_key_create(state, account, body),
        Call::TurnKeyGet { account, key } => turn_key_get(state, account, key),
        Call::TurnKeyUpdate { account, key } => turn_key_update(state, account, key, body),
        Call::TurnKeyDelete { account, key } => turn_key_delete(state, account, key),
    }
}

/// The request body as a JSON object, or the answer to a malformed one.
fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(6007, "Malformed JSON in request body", None)),
    }
}

/// The answer to an item the store does not take.
fn refused(why: Refused) -> Response {
    match why {
        Refused::TooLarge => invalid(1003, &why.message(), None),
        Refused::Full => failure(
            StatusCode::INSUFFICIENT_STORAGE,
            &[(10_507, &why.message())],
        ),
    }
}

/// A Calls app or a TURN key as the API writes it (the two have the same fields).
#[derive(Serialize)]
struct NamedItem<'a> {
    uid: &'a str,
    name: &'a str,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
}

/// An item with the account it belongs to, as `GET /__fake/state` shows it.
#[derive(Serialize)]
struct Owned<'a, T> {
    account_id: &'a str,
    #[serde(flatten)]
    item: T,
}

// ----- Calls apps -----

fn calls_app<'a>(uid: &'a str, record: &'a CallsRecord) -> NamedItem<'a> {
    NamedItem {
        uid,
        name: &record.name,
        created: record.created,
        modified: record.modified,
    }
}

fn calls_not_found(app: &str) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        &[(10_404, &format!("App {app} not found"))],
    )
}

/// `name` of an editable-fields body (`{}` is valid: the name defaults to "").
pub(crate) fn name_of(body: &[u8]) -> Result<String, Response> {
    let body = json_object(body)?;
    match body.get("name") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(name)) => Ok(name.clone()),
        Some(_) => Err(invalid(1001, "name must be a string", Some("name"))),
    }
}

fn calls_list(state: &State, account: &str) -> Response {
    let store = state.store();
    let apps: Vec<NamedItem<'_>> = store
        .calls
        .iter()
        .filter(|((owner, _), _)| owner == account)
        .map(|((_, uid), record)| calls_app(uid, record))
        .collect();
    success(StatusCode::OK, apps)
}

fn calls_create(state: &State, account: String, body: &[u8]) -> Response {
    let name = match name_of(body) {
        Ok(name) => name,
        Err(bad) => return bad,
    };
    let mut store = state.store();
    let created = now();
    let uid = hex(32);
    let record = CallsRecord {
        name,
        created,
        modified: created,
    };
    if let Err(why) = store.admit(record.weight(), 0, store.calls.len()) {
        return refused(why);
    }
    let mut app = json!(calls_app(&uid, &record));
    // The only time the secret is ever shown; the fake does not keep it.
    app["secret"] = json!(hex(64));
    store.calls.put((account, uid), record);
    success(StatusCode::CREATED, app)
}

fn calls_get(state: &State, account: String, app: String) -> Response {
    let store = state.store();
    match store.calls.get(&(account, app.clone())) {
        Some(record) => success(StatusCode::OK, calls_app(&app, record)),
        None => calls_not_found(&app),
    }
}

fn calls_update(state: &State, account: String, app: String, body: &[u8]) -> Response {
    let name = match name_of(body) {
        Ok(name) => name,
        Err(bad) => return bad,
    };
    let mut store = state.store();
    let key = (account, app);
    let Some(old) = store.calls.get(&key) else {
        return calls_not_found(&key.1);
    };
    let record = CallsRecord {
        name,
        modified: now(),
        ..old.clone()
    };
    if let Err(why) = store.admit(record.weight(), old.weight(), store.calls.len()) {
        return refused(why);
    }
    let answer = success(StatusCode::OK, calls_app(&key.1, &record));
    store.calls.put(key, record);
    answer
}

fn calls_delete(state: &State, account: String, app: String) -> Response {
    let mut store = state.store();
    match store.calls.remove(&(account, app.clone())) {
        Some(record) => success(StatusCode::OK, calls_app(&app, &record)),
        None => calls_not_found(&app),
    }
}

// ----- TURN keys -----

fn turn_key<'a>(uid: &'a str, record: &'a TurnKeyRecord) -> NamedItem<'a> {
    NamedItem {
        uid,
        name: &record.name,
        created: record.created,
        modified: record.modified,
    }
}

fn turn_key_not_found(key: &str) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        &[(10_404, &format!("TURN key {key} not found"))],
    )
}

fn turn_key_list(state: &State, account: &str) -> Response {
    let store = state.store();
    let keys: Vec<NamedItem<'_>> = store
        .turn_keys
        .iter()
        .filter(|((owner, _), _)| owner == account)
        .map(|((_, uid), record)| turn_key(uid, record))
        .collect();
    success(StatusCode::OK, keys)
}

fn turn_key_create(state: &State, account: String, body: &[u8]) -> Response {
    let name = match name_of(body) {
        Ok(name) => name,
        Err(bad) => return bad,
    };
    let mut store = state.store();
    // Cloudflare allows 1,000 TURN keys per account; the fake's own bound is per kind.
    let in_account = store
        .turn_keys
        .keys()
        .filter(|(owner, _)| *owner == account)
        .count();
    if in_account >= 1_000 {
        return invalid(1001, "an account can have at most 1000 TURN keys", None);
    }
    let created = now();
    let uid = hex(32);
    let token = hex(64);
    let record = TurnKeyRecord {
        name,
        created,
        modified: created,
        key: crate::Secret::new(token.clone()),
    };
    if let Err(why) = store.admit(record.weight(), 0, store.turn_keys.len()) {
        return refused(why);
    }
    let mut key = json!(turn_key(&uid, &record));
    // The only time the token is ever shown.
    key["key"] = json!(token);
    store.turn_keys.put((account, uid), record);
    success(StatusCode::CREATED, key)
}

fn turn_key_get(state: &State, account: String, key: String) -> Response {
    let store = state.store();
    match store.turn_keys.get(&(account, key.clone())) {
        Some(record) => success(StatusCode::OK, turn_key(&key, record)),
        None => turn_key_not_found(&key),
    }
}

fn turn_key_update(state: &State, account: String, key: String, body: &[u8]) -> Response {
    let name = match name_of(body) {
        Ok(name) => name,
        Err(bad) => return bad,
    };
    let mut store = state.store();
    let id = (account, key);
    let Some(old) = store.turn_keys.get(&id) else {
        return turn_key_not_found(&id.1);
    };
    let record = TurnKeyRecord {
        name,
        modified: now(),
        ..old.clone()
    };
    if let Err(why) = store.admit(record.weight(), old.weight(), store.turn_keys.len()) {
        return refused(why);
    }
    let answer = success(StatusCode::OK, turn_key(&id.1, &record));
    store.turn_keys.put(id, record);
    answer
}

fn turn_key_delete(state: &State, account: String, key: String) -> Response {
    let mut store = state.store();
    match store.turn_keys.remove(&(account, key.clone())) {
        Some(record) => success(StatusCode::OK, turn_key(&key, &record)),
        None => turn_key_not_found(&key),
    }
}

// ----- Magic account apps -----

/// A Magic account app as the API writes it.
#[derive(Serialize)]
struct MagicApp<'a> {
    account_app_id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    app_type: &'a str,
    hostnames: &'a Option<Vec<String>>,
    ip_subnets: &'a Option<Vec<String>>,
    source_subnets: &'a Option<Vec<String>>,
}

fn magic_app<'a>(id: &'a str, record: &'a MagicRecord) -> MagicApp<'a> {
    MagicApp {
        account_app_id: id,
        name: &record.name,
        app_type: &record.app_type,
        hostnames: &record.hostnames,
        ip_subnets: &record.ip_subnets,
        source_subnets: &record.source_subnets,
    }
}

fn magic_not_found(app: &str) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        &[(1002, &format!("App {app} not found"))],
    )
}

/// The fields of a Magic request body, checked as the API checks them.
struct MagicFields {
    name: Option<String>,
    app_type: Option<String>,
    hostnames: Option<Vec<String>>,
    ip_subnets: Option<Vec<String>>,
    source_subnets: Option<Vec<String>>,
}

impl MagicFields {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.app_type.is_none()
            && self.hostnames.is_none()
            && self.ip_subnets.is_none()
            && self.source_subnets.is_none()
    }

    fn has_a_list(&self) -> bool {
        self.hostnames.is_some() || self.ip_subnets.is_some() || self.source_subnets.is_some()
    }
}

fn magic_fields(body: &[u8]) -> Result<MagicFields, Response> {
    let body = json_object(body)?;
    let bad = |field: &str, message: String| invalid(1003, &message, Some(field));
    let text = |field: &str| match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(field, format!("{field} must be a string"))),
    };
    let list = |field: &str, valid: Option<fn(&str) -> bool>, what: &str| {
        let Some(value) = body.get(field) else {
            return Ok(None);
        };
        let items = value
            .as_array()
            .ok_or_else(|| bad(field, format!("{field} must be a list of strings")))?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let item = item
                .as_str()
                .ok_or_else(|| bad(field, format!("{field} must be a list of strings")))?;
            if valid.is_some_and(|valid| !valid(item)) {
                return Err(bad(field, format!("{item} is not a valid {what}")));
            }
            out.push(item.to_string());
        }
        Ok(Some(out))
    };
    Ok(MagicFields {
        name: text("name")?,
        app_type: text("type")?,
        hostnames: list("hostnames", None, "")?,
        ip_subnets: list("ip_subnets", Some(is_ipv4_cidr), "IPv4 CIDR")?,
        source_subnets: list("source_subnets", Some(is_source_cidr), "CIDR")?,
    })
}

/// The apps Cloudflare manages, which every account sees.
fn managed_apps() -> Value {
    json!({
        "managed_app_id": "cloudflare",
        "name": "Cloudflare",
        "type": "Development",
        "hostnames": ["cloudflare.com"],
        "ip_subnets": null,
        "source_subnets": null,
    })
}

fn magic_list(state: &State, account: &str) -> Response {
    /// An item of the list: the account's own app, or one Cloudflare manages.
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Item<'a> {
        Account(MagicApp<'a>),
        Managed(Value),
    }
    let store = state.store();
    let mut items: Vec<Item<'_>> = store
        .magic
        .iter()
        .filter(|((owner, _), _)| owner == account)
        .map(|((_, id), record)| Item::Account(magic_app(id, record)))
        .collect();
    items.push(Item::Managed(managed_apps()));
    success(StatusCode::OK, items)
}

fn magic_create(state: &State, account: String, body: &[u8]) -> Response {
    let fields = match magic_fields(body) {
        Ok(fields) => fields,
        Err(bad) => return bad,
    };
    if !fields.has_a_list() {
        return invalid(
            1001,
            "at least one of hostnames, ip_subnets or source_subnets is required",
            None,
        );
    }
    let (Some(name), Some(app_type)) = (fields.name, fields.app_type) else {
        return invalid(1001, "name and type are required", None);
    };
    let record = MagicRecord {
        name,
        app_type,
        hostnames: fields.hostnames,
        ip_subnets: fields.ip_subnets,
        source_subnets: fields.source_subnets,
    };
    let mut store = state.store();
    if let Err(why) = store.admit(record.weight(), 0, store.magic.len()) {
        return refused(why);
    }
    let id = hex(32);
    let answer = success(StatusCode::CREATED, magic_app(&id, &record));
    store.magic.put((account, id), record);
    answer
}

/// PUT replaces (omitted lists are cleared), PATCH merges.
fn magic_change(
    state: &State,
    account: String,
    app: String,
    body: &[u8],
    replace: bool,
) -> Response {
    let fields = match magic_fields(body) {
        Ok(fields) => fields,
        Err(bad) => return bad,
    };
    if fields.is_empty() {
        return invalid(1001, "at least one field is required", None);
    }
    let mut store = state.store();
    let key = (account, app);
    let Some(old) = store.magic.get(&key) else {
        return magic_not_found(&key.1);
    };
    let mut record = old.clone();
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
    if let Err(why) = store.admit(record.weight(), old.weight(), store.magic.len()) {
        return refused(why);
    }
    let answer = success(StatusCode::OK, magic_app(&key.1, &record));
    store.magic.put(key, record);
    answer
}

fn magic_delete(state: &State, account: String, app: String) -> Response {
    let mut store = state.store();
    match store.magic.remove(&(account, app.clone())) {
        Some(record) => success(StatusCode::OK, magic_app(&app, &record)),
        None => magic_not_found(&app),
    }
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
        magic_apps: Vec<Owned<'a, MagicApp<'a>>>,
        turn_keys: Vec<Owned<'a, NamedItem<'a>>>,
        turn_credentials: Credentials,
    }
    CloudflareState {
        calls_apps: store
            .calls
            .iter()
            .map(|((account, uid), r)| Owned {
                account_id: account,
                item: calls_app(uid, r),
            })
            .collect(),
        magic_apps: store
            .magic
            .iter()
            .map(|((account, id), r)| Owned {
                account_id: account,
                item: magic_app(id, r),
            })
            .collect(),
        turn_keys: store
            .turn_keys
            .iter()
            .map(|((account, uid), r)| Owned {
                account_id: account,
                item: turn_key(uid, r),
            })
            .collect(),
        turn_credentials: Credentials {
            minted: store.turn_credentials.len(),
            revoked: store.turn_credentials.iter().filter(|c| c.revoked).count(),
        },
    }
}
