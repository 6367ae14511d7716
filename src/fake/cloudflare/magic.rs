//! Magic account apps: `/accounts/{account_id}/magic/apps`: PUT replaces, PATCH merges,
//! validation answered with Cloudflare's errors, and the apps Cloudflare manages listed too.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};

use super::{error_envelope, invalid, json_object, refused, success, Owned};
use crate::cloudflare::magic::{is_ipv4_cidr, is_source_cidr};
use crate::fake::resolve::{Params, Route};
use crate::fake::store::{hex, MagicRecord, Store, Weight};
use crate::fake::State;
use crate::operations as ops;

pub(super) const ROUTES: &[Route] = &[
    (&ops::MAGIC_ACCOUNT_APPS_LIST_APPS, list),
    (&ops::MAGIC_ACCOUNT_APPS_ADD_APP, create),
    (
        &ops::MAGIC_ACCOUNT_APPS_UPDATE_APP,
        |state, params, body| change(state, params, body, true),
    ),
    (&ops::MAGIC_ACCOUNT_APPS_PATCH_APP, |state, params, body| {
        change(state, params, body, false)
    }),
    (&ops::MAGIC_ACCOUNT_APPS_DELETE_APP, delete),
];

/// Every account app of the store, with its account, as `GET /__fake/state` shows them.
pub(super) fn all(store: &Store) -> Vec<Owned<'_, MagicApp<'_>>> {
    store
        .magic
        .iter()
        .map(|((account, id), record)| Owned {
            account_id: account,
            item: magic_app(id, record),
        })
        .collect()
}

/// A Magic account app as the API writes it.
#[derive(Serialize)]
pub(super) struct MagicApp<'a> {
    account_app_id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    app_type: &'a str,
    hostnames: &'a Option<Vec<String>>,
    ip_subnets: &'a Option<Vec<String>>,
    source_subnets: &'a Option<Vec<String>>,
}

pub(super) fn magic_app<'a>(id: &'a str, record: &'a MagicRecord) -> MagicApp<'a> {
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
    error_envelope(
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

fn list(state: &State, params: &Params, _: &[u8]) -> Response {
    let account = params.account();
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
        .filter(|((owner, _), _)| *owner == account)
        .map(|((_, id), record)| Item::Account(magic_app(id, record)))
        .collect();
    items.push(Item::Managed(managed_apps()));
    success(StatusCode::OK, items)
}

fn create(state: &State, params: &Params, body: &[u8]) -> Response {
    let account = params.account();
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
fn change(state: &State, params: &Params, body: &[u8], replace: bool) -> Response {
    let (account, app) = (params.account(), params.get("account_app_id").to_string());
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

fn delete(state: &State, params: &Params, _: &[u8]) -> Response {
    let (account, app) = (params.account(), params.get("account_app_id").to_string());
    let mut store = state.store();
    match store.magic.remove(&(account.clone(), app.clone())) {
        Some(record) => {
            super::sites::forget_app(&mut store, &account, &app);
            success(StatusCode::OK, magic_app(&app, &record))
        }
        None => magic_not_found(&app),
    }
}
