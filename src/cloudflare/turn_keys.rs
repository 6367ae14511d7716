//! Cloudflare Calls TURN keys: `/accounts/{account_id}/calls/turn_keys`, with the account
//! token. A key's token, shown once when it is created, mints the short-lived credentials of
//! [`turn`](super::turn).
//!
//! Reference: <https://developers.cloudflare.com/api/resources/calls/subresources/turn/>
//!
//! A `null` or missing `result` in a successful envelope: a list reads as empty; every method
//! that returns one key answers [`Error::Decode`] naming the operation, since it has no key to
//! return (a create, update or delete may still have taken effect; the message says so).

use chrono::{DateTime, Utc};

use super::CloudflareClient;
use crate::core::plan::{handle_limits, Limits, Planned};
use crate::generated::calls::types as gen;
use crate::operations::{self as ops, Operation};
use crate::{AccountId, Error, Secret, TurnKeyId};

// The envelopes are wired up with the Calls apps' (one generated module): see calls.rs.

/// A TURN key. Cloudflare marks every field optional.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct TurnKey {
    /// The key's `uid`, which paths call `key_id`.
    pub id: Option<TurnKeyId>,
    /// A short description, not shown to end users.
    pub name: Option<String>,
    /// When the key was created.
    pub created: Option<DateTime<Utc>>,
    /// When the key was last modified.
    pub modified: Option<DateTime<Utc>>,
}

/// A TURN key just created, with its token, which Cloudflare returns this once and never again.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedTurnKey {
    /// The key.
    pub turn_key: TurnKey,
    /// The key's bearer token for minting credentials ([`TurnCredentials`](super::turn::TurnCredentials)). Store it now.
    pub key: Secret,
}

impl From<gen::CallsTurnKey> for TurnKey {
    fn from(key: gen::CallsTurnKey) -> Self {
        Self {
            id: key.uid.map(TurnKeyId::new),
            name: key.name,
            created: key.created,
            modified: key.modified,
        }
    }
}

/// TURN keys of one account: `cloudflare.turn_keys(account)`. Like Calls apps, TURN keys take
/// API tokens only.
#[derive(Clone, Debug)]
pub struct TurnKeys<'a> {
    client: &'a CloudflareClient,
    account: AccountId,
    limits: Limits,
}

impl CloudflareClient {
    /// The Calls TURN keys of `account`.
    pub fn turn_keys(&self, account: impl Into<AccountId>) -> TurnKeys<'_> {
        TurnKeys {
            client: self,
            account: account.into(),
            limits: Limits::default(),
        }
    }
}

fn editable(name: Option<&str>) -> gen::CallsTurnKeyEditableFields {
    gen::CallsTurnKeyEditableFields {
        name: name.map(str::to_owned),
    }
}

impl TurnKeys<'_> {
    handle_limits!();

    /// The generated client for one request of `operation`, with this handle's limits.
    fn api(&self, operation: &'static Operation) -> crate::generated::calls::Client {
        let inner = &self.client.inner;
        let op = Planned::new(operation).with_limits(self.limits);
        inner.calls.client(&inner.transport, op)
    }

    fn account(&self) -> Result<&str, Error> {
        self.client.calls_account(&self.account)
    }

    /// Lists every TURN key of the account (without their tokens; no pagination).
    pub async fn list(&self) -> Result<Vec<TurnKey>, Error> {
        let account = self.account()?;
        let api = self.api(&ops::CALLS_TURN_KEY_LIST);
        let keys = self
            .client
            .request(&api, account, || api.calls_turn_key_list(account))
            .await?;
        Ok(keys.into_iter().map(TurnKey::from).collect())
    }

    /// Creates a TURN key; the answer carries its token, once (read from `key`, or from
    /// `secret`, as one report says a live answer names it). Never retried after it was sent:
    /// a second try would make a second key.
    ///
    /// A success without a key and its token in `result` is [`Error::Decode`].
    pub async fn create(&self, name: Option<&str>) -> Result<CreatedTurnKey, Error> {
        let account = self.account()?;
        let body = editable(name);
        let api = self.api(&ops::CALLS_TURN_KEY_CREATE);
        self.client
            .request_checked(
                &api,
                account,
                || api.calls_turn_key_create(account, &body),
                |created| {
                    let key = created
                        .key
                        .or(created.secret)
                        .ok_or("the created TURN key has no `key` (nor `secret`)")?;
                    Ok(CreatedTurnKey {
                        turn_key: TurnKey {
                            id: created.uid.map(TurnKeyId::new),
                            name: created.name,
                            created: created.created,
                            modified: created.modified,
                        },
                        key,
                    })
                },
            )
            .await
    }

    /// Fetches one TURN key (without its token).
    ///
    /// A success without a key in `result` is [`Error::Decode`].
    pub async fn get(&self, key: &TurnKeyId) -> Result<TurnKey, Error> {
        let (account, key) = (self.account()?, key.segment()?);
        let api = self.api(&ops::CALLS_RETRIEVE_TURN_KEY_DETAILS);
        let found = self
            .client
            .request(&api, account, || {
                api.calls_retrieve_turn_key_details(account, key)
            })
            .await?;
        Ok(found.into())
    }

    /// Renames a TURN key (PUT: send the full intended state).
    ///
    /// A success without a key in `result` is [`Error::Decode`].
    pub async fn update(&self, key: &TurnKeyId, name: Option<&str>) -> Result<TurnKey, Error> {
        let (account, key) = (self.account()?, key.segment()?);
        let body = editable(name);
        let api = self.api(&ops::CALLS_UPDATE_TURN_KEY);
        let updated = self
            .client
            .request(&api, account, || {
                api.calls_update_turn_key(account, key, &body)
            })
            .await?;
        Ok(updated.into())
    }

    /// Deletes a TURN key and returns it as it was; the credentials it minted stop working.
    ///
    /// A success without a key in `result` is [`Error::Decode`].
    pub async fn delete(&self, key: &TurnKeyId) -> Result<TurnKey, Error> {
        let (account, key) = (self.account()?, key.segment()?);
        let api = self.api(&ops::CALLS_DELETE_TURN_KEY);
        let deleted = self
            .client
            .request(&api, account, || api.calls_delete_turn_key(account, key))
            .await?;
        Ok(deleted.into())
    }
}

// ----- Credentials (data plane) -----
