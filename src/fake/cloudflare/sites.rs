//! Magic sites and their app configs: `/accounts/{account_id}/magic/sites[…]/app_configs`.
//!
//! Every account has the same two sites (ASSUMPTION: the fake's fixture, as the managed apps
//! are; sites are made in the dashboard or by an API this crate does not cover). A config must
//! point at an account app of its account or a managed app the list shows; the rules of a
//! create (one app, breakout or priority, priority 0 or 1, preferred WANs only with breakout)
//! are answered with Cloudflare's validation errors. Deleting an account app deletes the
//! configs that point at it (ASSUMPTION: no source says whether the API refuses instead).

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::{error_envelope, invalid, json_object, one_of, refused, success, Owned};
use crate::fake::resolve::{Params, Route};
use crate::fake::store::{hex, AppConfigRecord, Store, Weight};
use crate::fake::State;
use crate::operations as ops;

pub(super) const ROUTES: &[Route] = &[
    (&ops::MAGIC_SITES_LIST_SITES, list_sites),
    (&ops::MAGIC_SITES_SITE_DETAILS, |_, p, _| {
        one_of("Site", sites(), p.get("site_id"))
    }),
    (&ops::MAGIC_SITE_APP_CONFIGS_LIST_APP_CONFIGS, list),
    (&ops::MAGIC_SITE_APP_CONFIGS_ADD_APP_CONFIG, create),
    (
        &ops::MAGIC_SITE_APP_CONFIGS_UPDATE_APP_CONFIG,
        |state, params, body| change(state, params, body, true),
    ),
    (
        &ops::MAGIC_SITE_APP_CONFIGS_PATCH_APP_CONFIG,
        |state, params, body| change(state, params, body, false),
    ),
    (&ops::MAGIC_SITE_APP_CONFIGS_DELETE_APP_CONFIG, delete),
];

/// The sites every account has: (id, name, description).
pub(crate) const SITES: &[(&str, &str, &str)] = &[
    (
        "5e5b1e0d1a5a4c4c8b1f0e6e3b3c9d1a",
        "headquarters",
        "The main office",
    ),
    (
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "branch",
        "A branch office",
    ),
];

/// The managed apps a config may point at (those the apps list shows).
const MANAGED_APPS: &[&str] = &["cloudflare"];

#[derive(Serialize)]
struct Site {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    connector_id: String,
    ha_mode: bool,
}

fn list_sites(_: &State, _: &Params, _: &[u8]) -> Response {
    success(StatusCode::OK, sites())
}

fn sites() -> Vec<Site> {
    SITES
        .iter()
        .map(|(id, name, description)| Site {
            id,
            name,
            description,
            connector_id: format!("{:0>32}", &id[..8]),
            ha_mode: false,
        })
        .collect()
}

/// A site app config as the API writes it.
#[derive(Serialize)]
pub(super) struct AppConfig<'a> {
    id: &'a str,
    site_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_app_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    managed_app_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    breakout: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_wans: &'a Option<Vec<String>>,
}

fn app_config<'a>(site: &'a str, id: &'a str, record: &'a AppConfigRecord) -> AppConfig<'a> {
    AppConfig {
        id,
        site_id: site,
        account_app_id: &record.account_app_id,
        managed_app_id: &record.managed_app_id,
        breakout: record.breakout,
        priority: record.priority,
        preferred_wans: &record.preferred_wans,
    }
}

/// Every app config of the store, with its account, as `GET /__fake/state` shows them.
pub(super) fn all(store: &Store) -> Vec<Owned<'_, AppConfig<'_>>> {
    store
        .app_configs
        .iter()
        .map(|((account, site, id), record)| Owned {
            account_id: account,
            item: app_config(site, id, record),
        })
        .collect()
}

/// Deletes the configs that point at an account app that is being deleted.
pub(super) fn forget_app(store: &mut Store, account: &str, app: &str) {
    let pointing: Vec<_> = store
        .app_configs
        .iter()
        .filter(|((owner, _, _), record)| {
            owner == account && record.account_app_id.as_deref() == Some(app)
        })
        .map(|(key, _)| key.clone())
        .collect();
    for key in pointing {
        store.app_configs.remove(&key);
    }
}

fn not_found(what: &str, id: &str) -> Response {
    error_envelope(
        StatusCode::NOT_FOUND,
        &[(1002, &format!("{what} {id} not found"))],
    )
}

/// The account and site of the path, if the account has the site.
fn site(params: &Params) -> Result<(String, String), Response> {
    let site = params.get("site_id");
    if SITES.iter().any(|(id, _, _)| *id == site) {
        Ok((params.account(), site.to_string()))
    } else {
        Err(not_found("Site", site))
    }
}

/// [`site`], and the fields of the body.
fn site_and_fields(params: &Params, body: &[u8]) -> Result<(String, String, Fields), Response> {
    let (account, site) = site(params)?;
    Ok((account, site, fields(body)?))
}

/// The fields of a request body, each checked for its type; `None` where absent.
#[derive(Default)]
struct Fields {
    account_app_id: Option<String>,
    managed_app_id: Option<String>,
    /// `Some(None)` for an explicit `null`.
    breakout: Option<Option<bool>>,
    priority: Option<i64>,
    preferred_wans: Option<Vec<String>>,
}

fn fields(body: &[u8]) -> Result<Fields, Response> {
    let body = json_object(body)?;
    let bad = |field: &str, message: &str| invalid(1003, message, Some(field));
    let id = |field: &str| match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(bad(field, &format!("{field} must be a non-empty string"))),
    };
    let breakout = match body.get("breakout") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Bool(b)) => Some(Some(*b)),
        Some(_) => return Err(bad("breakout", "breakout must be a boolean or null")),
    };
    let priority = match body.get("priority") {
        None => None,
        Some(value) => match value.as_i64() {
            Some(p @ 0..=1) => Some(p),
            _ => return Err(bad("priority", "priority must be 0 or 1")),
        },
    };
    let preferred_wans = match body.get("preferred_wans") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|w| w.as_str().filter(|w| !w.is_empty()).map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("preferred_wans", "preferred_wans must be WAN IDs"))?,
        ),
        Some(_) => return Err(bad("preferred_wans", "preferred_wans must be a list")),
    };
    let fields = Fields {
        account_app_id: id("account_app_id")?,
        managed_app_id: id("managed_app_id")?,
        breakout,
        priority,
        preferred_wans,
    };
    if fields.account_app_id.is_some() && fields.managed_app_id.is_some() {
        return Err(invalid(
            1001,
            "only one of account_app_id or managed_app_id may be given",
            None,
        ));
    }
    Ok(fields)
}

/// Whether the app a body names exists for the account.
fn app_exists(store: &Store, account: &str, fields: &Fields) -> Result<(), Response> {
    if let Some(app) = &fields.account_app_id {
        if store
            .magic
            .get(&(account.to_string(), app.clone()))
            .is_none()
        {
            return Err(invalid(
                1002,
                &format!("App {app} not found"),
                Some("account_app_id"),
            ));
        }
    }
    if let Some(app) = &fields.managed_app_id {
        if !MANAGED_APPS.contains(&app.as_str()) {
            return Err(invalid(
                1002,
                &format!("Managed app {app} not found"),
                Some("managed_app_id"),
            ));
        }
    }
    Ok(())
}

/// A create or a replacement must say something of the app's traffic.
fn decides(fields: &Fields) -> Result<(), Response> {
    if fields.breakout.is_none() && fields.priority.is_none() {
        return Err(invalid(
            1001,
            "at least one of breakout or priority is required",
            None,
        ));
    }
    Ok(())
}

/// The rule that holds of every stored config.
fn wans_need_breakout(record: &AppConfigRecord) -> Result<(), Response> {
    if record.preferred_wans.is_some() && record.breakout != Some(true) {
        return Err(invalid(
            1003,
            "preferred_wans can only be specified for breakout rules (breakout must be true)",
            Some("preferred_wans"),
        ));
    }
    Ok(())
}

fn list(state: &State, params: &Params, _: &[u8]) -> Response {
    let (account, site) = match site(params) {
        Ok(found) => found,
        Err(missing) => return missing,
    };
    let store = state.store();
    let configs: Vec<AppConfig<'_>> = store
        .app_configs
        .iter()
        .filter(|((owner, at, _), _)| *owner == account && *at == site)
        .map(|((_, site, id), record)| app_config(site, id, record))
        .collect();
    success(StatusCode::OK, configs)
}

fn create(state: &State, params: &Params, body: &[u8]) -> Response {
    let (account, site, fields) = match site_and_fields(params, body) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    if fields.account_app_id.is_none() && fields.managed_app_id.is_none() {
        return invalid(
            1001,
            "one of account_app_id or managed_app_id is required",
            None,
        );
    }
    if let Err(bad) = decides(&fields) {
        return bad;
    }
    let mut store = state.store();
    if let Err(missing) = app_exists(&store, &account, &fields) {
        return missing;
    }
    let record = AppConfigRecord {
        account_app_id: fields.account_app_id,
        managed_app_id: fields.managed_app_id,
        breakout: fields.breakout.flatten(),
        priority: fields.priority,
        preferred_wans: fields.preferred_wans,
    };
    if let Err(bad) = wans_need_breakout(&record) {
        return bad;
    }
    if let Err(why) = store.admit(record.weight(), 0, store.app_configs.len()) {
        return refused(why);
    }
    let id = hex(32);
    let answer = success(StatusCode::OK, app_config(&site, &id, &record));
    store.app_configs.put((account, site, id), record);
    answer
}

/// PUT replaces the traffic decision (omitted fields go back to their defaults), PATCH merges;
/// both replace the app when one is named, whichever kind it was.
fn change(state: &State, params: &Params, body: &[u8], replace: bool) -> Response {
    let (account, site, fields) = match site_and_fields(params, body) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let named_app = fields.account_app_id.is_some() || fields.managed_app_id.is_some();
    if !named_app
        && fields.breakout.is_none()
        && fields.priority.is_none()
        && fields.preferred_wans.is_none()
    {
        return invalid(1001, "at least one field is required", None);
    }
    // ASSUMPTION: a replacement decides something, as a create must.
    let decided = if replace { decides(&fields) } else { Ok(()) };
    if let Err(bad) = decided {
        return bad;
    }
    let mut store = state.store();
    if let Err(missing) = app_exists(&store, &account, &fields) {
        return missing;
    }
    let key = (account, site, params.get("app_config_id").to_string());
    let Some(old) = store.app_configs.get(&key) else {
        return not_found("App config", &key.2);
    };
    let mut record = old.clone();
    if named_app {
        record.account_app_id = fields.account_app_id;
        record.managed_app_id = fields.managed_app_id;
    }
    if replace {
        record.breakout = fields.breakout.flatten();
        record.priority = fields.priority;
        record.preferred_wans = fields.preferred_wans;
    } else {
        if let Some(breakout) = fields.breakout {
            record.breakout = breakout;
        }
        record.priority = fields.priority.or(record.priority);
        record.preferred_wans = fields.preferred_wans.or(record.preferred_wans.take());
    }
    if let Err(bad) = wans_need_breakout(&record) {
        return bad;
    }
    if let Err(why) = store.admit(record.weight(), old.weight(), store.app_configs.len()) {
        return refused(why);
    }
    let answer = success(StatusCode::OK, app_config(&key.1, &key.2, &record));
    store.app_configs.put(key, record);
    answer
}

fn delete(state: &State, params: &Params, _: &[u8]) -> Response {
    let (account, site) = match site(params) {
        Ok(found) => found,
        Err(missing) => return missing,
    };
    let key = (account, site, params.get("app_config_id").to_string());
    let mut store = state.store();
    match store.app_configs.remove(&key) {
        Some(record) => success(StatusCode::OK, app_config(&key.1, &key.2, &record)),
        None => not_found("App config", &key.2),
    }
}
