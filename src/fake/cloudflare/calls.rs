//! Calls apps: `/accounts/{account_id}/calls/apps` (the secret of a new app is shown once, and
//! kept: it is the bearer of the app's SFU data plane, see `sfu`).

use super::named::{self, Resource};
use crate::fake::resolve::Route;
use crate::operations as ops;

const APPS: Resource = Resource {
    noun: "App",
    id: "app_id",
    secret_field: "secret",
    keeps_secret: true,
    per_account: None,
    table: |store| &store.calls,
    table_mut: |store| &mut store.calls,
};

pub(super) const ROUTES: &[Route] = &[
    (&ops::CALLS_APPS_LIST, |state, params, _| {
        named::list(&APPS, state, params)
    }),
    (&ops::CALLS_APPS_CREATE_A_NEW_APP, |state, params, body| {
        named::create(&APPS, state, params, body)
    }),
    (&ops::CALLS_APPS_RETRIEVE_APP_DETAILS, |state, params, _| {
        named::get(&APPS, state, params)
    }),
    (
        &ops::CALLS_APPS_UPDATE_APP_DETAILS,
        |state, params, body| named::update(&APPS, state, params, body),
    ),
    (&ops::CALLS_APPS_DELETE_APP, |state, params, _| {
        named::delete(&APPS, state, params)
    }),
];
