//! TURN keys: `/accounts/{account_id}/calls/turn_keys` (the token of a new key is shown once,
//! and kept: it authorizes the credentials the key mints).

use super::named::{self, Resource};
use crate::fake::resolve::Route;
use crate::operations as ops;

const KEYS: Resource = Resource {
    noun: "TURN key",
    id: "key_id",
    secret_field: "key",
    keeps_secret: true,
    // Cloudflare allows 1,000 TURN keys per account.
    per_account: Some(1_000),
    table: |store| &store.turn_keys,
    table_mut: |store| &mut store.turn_keys,
};

pub(super) const ROUTES: &[Route] = &[
    (&ops::CALLS_TURN_KEY_LIST, |state, params, _| {
        named::list(&KEYS, state, params)
    }),
    (&ops::CALLS_TURN_KEY_CREATE, |state, params, body| {
        named::create(&KEYS, state, params, body)
    }),
    (&ops::CALLS_RETRIEVE_TURN_KEY_DETAILS, |state, params, _| {
        named::get(&KEYS, state, params)
    }),
    (&ops::CALLS_UPDATE_TURN_KEY, |state, params, body| {
        named::update(&KEYS, state, params, body)
    }),
    (&ops::CALLS_DELETE_TURN_KEY, |state, params, _| {
        named::delete(&KEYS, state, params)
    }),
];
