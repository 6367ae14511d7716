//! Cloudflare Calls (Realtime SFU) apps: `/accounts/{account_id}/calls/apps`.
//!
//! Reference: <https://developers.cloudflare.com/api/resources/calls/subresources/sfu/>
//!
//! A `null` or missing `result` in a successful envelope: a list reads as empty; every method
//! that returns one app answers [`Error::Decode`] naming the operation,
//! since it has no app to return (a create, update, patch or delete may still have taken
//! effect; the message says so). The schema allows it on Magic's single-app answers; Calls
//! marks `result` optional.

use chrono::{DateTime, Utc};

use super::CloudflareClient;
use crate::core::plan::{handle_limits, Limits, Planned};
use crate::generated::calls::types as gen;
use crate::operations::{self as ops, Operation};
use crate::{AccountId, CallsAppId, Error, Secret};

/// A Calls app. Cloudflare marks every field optional.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CallsApp {
    /// The app's `uid`.
    pub id: Option<CallsAppId>,
    /// A short description, not shown to end users.
    pub name: Option<String>,
    /// When the app was created.
    pub created: Option<DateTime<Utc>>,
    /// When the app was last modified.
    pub modified: Option<DateTime<Utc>>,
}

/// A Calls app just created, with the secret Cloudflare returns this once and never again.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedCallsApp {
    /// The app.
    pub app: CallsApp,
    /// The app's SFU bearer secret. Store it now: no other request returns it.
    pub secret: Secret,
}

impl From<gen::CallsApp> for CallsApp {
    fn from(app: gen::CallsApp) -> Self {
        Self {
            id: app.uid.map(CallsAppId::new),
            name: app.name,
            created: app.created,
            modified: app.modified,
        }
    }
}

/// Calls apps of one account: `cloudflare.calls(account)`.
#[derive(Clone, Debug)]
pub struct Calls<'a> {
    client: &'a CloudflareClient,
    account: AccountId,
    limits: Limits,
}

impl CloudflareClient {
    /// The Calls apps of `account`.
    pub fn calls(&self, account: impl Into<AccountId>) -> Calls<'_> {
        Calls {
            client: self,
            account: account.into(),
            limits: Limits::default(),
        }
    }
}

fn editable(name: Option<&str>) -> gen::CallsAppEditableFields {
    gen::CallsAppEditableFields {
        name: name.map(str::to_owned),
    }
}

impl Calls<'_> {
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

    /// Lists every app of the account (there is no pagination).
    ///
    /// ```no_run
    /// # async fn run(cf: apps_api::cloudflare::CloudflareClient) -> Result<(), apps_api::Error> {
    /// let apps = cf.calls("023e105f4ecef8ad9ca31a8372d0c353").list().await?;
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<CallsApp>, Error> {
        let account = self.account()?;
        let api = self.api(&ops::CALLS_APPS_LIST);
        let apps = self
            .client
            .request(&api, account, || api.calls_apps_list(account))
            .await?;
        Ok(apps.into_iter().map(CallsApp::from).collect())
    }

    /// Creates an app; the answer carries its secret, once. Never retried after it was sent,
    /// since a second try would make a second app.
    ///
    /// ```no_run
    /// # async fn run(cf: apps_api::cloudflare::CloudflareClient) -> Result<(), apps_api::Error> {
    /// let created = cf.calls("023e105f4ecef8ad9ca31a8372d0c353").create(Some("prod")).await?;
    /// let secret = created.secret.expose(); // store it now
    /// # Ok(()) }
    /// ```
    ///
    /// A success without an app in `result` is [`Error::Decode`].
    pub async fn create(&self, name: Option<&str>) -> Result<CreatedCallsApp, Error> {
        let account = self.account()?;
        let body = editable(name);
        let api = self.api(&ops::CALLS_APPS_CREATE_A_NEW_APP);
        self.client
            .request_checked(
                &api,
                account,
                || api.calls_apps_create_a_new_app(account, &body),
                |app| {
                    let secret = app.secret.ok_or("the created app has no `secret`")?;
                    Ok(CreatedCallsApp {
                        app: CallsApp {
                            id: app.uid.map(CallsAppId::new),
                            name: app.name,
                            created: app.created,
                            modified: app.modified,
                        },
                        secret,
                    })
                },
            )
            .await
    }

    /// Fetches one app (without its secret).
    ///
    /// A success without an app in `result` is [`Error::Decode`].
    pub async fn get(&self, app: &CallsAppId) -> Result<CallsApp, Error> {
        let (account, app) = (self.account()?, app.segment()?);
        let api = self.api(&ops::CALLS_APPS_RETRIEVE_APP_DETAILS);
        let found = self
            .client
            .request(&api, account, || {
                api.calls_apps_retrieve_app_details(account, app)
            })
            .await?;
        Ok(found.into())
    }

    /// Replaces the app's editable fields (PUT: send the full intended state).
    ///
    /// A success without an app in `result` is [`Error::Decode`].
    pub async fn update(&self, app: &CallsAppId, name: Option<&str>) -> Result<CallsApp, Error> {
        let (account, app) = (self.account()?, app.segment()?);
        let body = editable(name);
        let api = self.api(&ops::CALLS_APPS_UPDATE_APP_DETAILS);
        let updated = self
            .client
            .request(&api, account, || {
                api.calls_apps_update_app_details(account, app, &body)
            })
            .await?;
        Ok(updated.into())
    }

    /// Deletes the app and returns it as it was.
    ///
    /// A success without an app in `result` is [`Error::Decode`].
    pub async fn delete(&self, app: &CallsAppId) -> Result<CallsApp, Error> {
        let (account, app) = (self.account()?, app.segment()?);
        let api = self.api(&ops::CALLS_APPS_DELETE_APP);
        let deleted = self
            .client
            .request(&api, account, || api.calls_apps_delete_app(account, app))
            .await?;
        Ok(deleted.into())
    }
}
