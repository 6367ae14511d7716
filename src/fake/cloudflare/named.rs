//! Calls apps and TURN keys are the same resource twice: `{uid, name, created, modified}`, a
//! name to edit, a secret shown once on create. One set of handlers serves both.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{error_envelope, invalid, json_object, refused, success, NamedItem, Owned};
use crate::fake::resolve::Params;
use crate::fake::store::{hex, now, NamedRecord, Store, Table, Weight};
use crate::fake::State;

/// The store's key of an item: (account, uid).
pub(crate) type Key = (String, String);

/// One of the resources.
pub(crate) struct Resource {
    /// What the API calls one, in its 404 message ("App", "TURN key").
    pub(crate) noun: &'static str,
    /// The path parameter of its ID.
    pub(crate) id: &'static str,
    /// The field of the create answer that holds the secret shown once.
    pub(crate) secret_field: &'static str,
    /// Whether the store keeps the secret (a TURN key's token authorizes minting, a Calls app's
    /// secret the SFU data plane). It is never shown again.
    pub(crate) keeps_secret: bool,
    /// The most one account may have, as the API documents it.
    pub(crate) per_account: Option<usize>,
    pub(crate) table: fn(&Store) -> &Table<Key, NamedRecord>,
    pub(crate) table_mut: fn(&mut Store) -> &mut Table<Key, NamedRecord>,
}

/// An item as the API writes it.
pub(crate) fn item<'a>(uid: &'a str, record: &'a NamedRecord) -> NamedItem<'a> {
    NamedItem {
        uid,
        name: &record.name,
        created: record.created,
        modified: record.modified,
    }
}

/// Every item of the store, with its account, as `GET /__fake/state` shows them.
pub(crate) fn all<'a>(table: &'a Table<Key, NamedRecord>) -> Vec<Owned<'a, NamedItem<'a>>> {
    table
        .iter()
        .map(|((account, uid), record)| Owned {
            account_id: account,
            item: item(uid, record),
        })
        .collect()
}

fn not_found(resource: &Resource, id: &str) -> Response {
    error_envelope(
        StatusCode::NOT_FOUND,
        &[(10_404, &format!("{} {id} not found", resource.noun))],
    )
}

/// `name` of an editable-fields body (`{}` is valid: the name defaults to "").
fn name_of(body: &[u8]) -> Result<String, Response> {
    let body = json_object(body)?;
    match body.get("name") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(name)) => Ok(name.clone()),
        Some(_) => Err(invalid(1001, "name must be a string", Some("name"))),
    }
}

pub(crate) fn list(resource: &Resource, state: &State, params: &Params) -> Response {
    let store = state.store();
    let account = params.account();
    let items: Vec<NamedItem<'_>> = (resource.table)(&store)
        .iter()
        .filter(|((owner, _), _)| *owner == account)
        .map(|((_, uid), record)| item(uid, record))
        .collect();
    success(StatusCode::OK, items)
}

pub(crate) fn create(resource: &Resource, state: &State, params: &Params, body: &[u8]) -> Response {
    let name = match name_of(body) {
        Ok(name) => name,
        Err(bad) => return bad,
    };
    let mut store = state.store();
    let account = params.account();
    if let Some(most) = resource.per_account {
        let held = (resource.table)(&store)
            .keys()
            .filter(|(owner, _)| *owner == account)
            .count();
        if held >= most {
            let message = format!("an account can have at most {most} of them");
            return invalid(1001, &message, None);
        }
    }
    let created = now();
    let (uid, secret) = (hex(32), hex(64));
    let record = NamedRecord {
        name,
        created,
        modified: created,
        token: resource
            .keeps_secret
            .then(|| crate::Secret::new(secret.clone())),
    };
    let count = (resource.table)(&store).len();
    if let Err(why) = store.admit(record.weight(), 0, count) {
        return refused(why);
    }
    let mut answer = json!(item(&uid, &record));
    // The only time the secret is ever shown.
    answer[resource.secret_field] = json!(secret);
    (resource.table_mut)(&mut store).put((account, uid), record);
    success(StatusCode::CREATED, answer)
}

pub(crate) fn get(resource: &Resource, state: &State, params: &Params) -> Response {
    let store = state.store();
    let id = params.get(resource.id);
    match (resource.table)(&store).get(&(params.account(), id.to_string())) {
        Some(record) => success(StatusCode::OK, item(id, record)),
        None => not_found(resource, id),
    }
}

pub(crate) fn update(resource: &Resource, state: &State, params: &Params, body: &[u8]) -> Response {
    let name = match name_of(body) {
        Ok(name) => name,
        Err(bad) => return bad,
    };
    let mut store = state.store();
    let key = (params.account(), params.get(resource.id).to_string());
    let table = (resource.table)(&store);
    let Some(old) = table.get(&key) else {
        return not_found(resource, &key.1);
    };
    let record = NamedRecord {
        name,
        modified: now(),
        ..old.clone()
    };
    if let Err(why) = store.admit(record.weight(), old.weight(), table.len()) {
        return refused(why);
    }
    let answer = success(StatusCode::OK, item(&key.1, &record));
    (resource.table_mut)(&mut store).put(key, record);
    answer
}

pub(crate) fn delete(resource: &Resource, state: &State, params: &Params) -> Response {
    let mut store = state.store();
    let id = params.get(resource.id);
    match (resource.table_mut)(&mut store).remove(&(params.account(), id.to_string())) {
        Some(record) => success(StatusCode::OK, item(id, &record)),
        None => not_found(resource, id),
    }
}
