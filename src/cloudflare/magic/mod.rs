//! Cloudflare Magic account apps: `/accounts/{account_id}/magic/apps`; the account's sites and
//! their app configs, which give the apps their effect ([`Magic::sites`],
//! [`Magic::app_configs`], [`Magic::configs_using`]): `/accounts/{account_id}/magic/sites`.
//!
//! Reference: <https://developers.cloudflare.com/api/resources/magic_transit/subresources/apps/>
//!
//! A `null` or missing `result` in a successful envelope: a list reads as empty; every method
//! that returns one app answers [`Error::Decode`] naming the operation,
//! since it has no app to return (a create, update, patch or delete may still have taken
//! effect; the message says so). The schema allows it on Magic's single-app answers; Calls
//! marks `result` optional.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::CloudflareClient;
use crate::core::plan::{handle_limits, Limits, Planned};
use crate::generated::magic::types as gen;
use crate::operations::{self as ops, Operation};
use crate::{AccountId, Error, MagicAppId};

mod sites;
pub use sites::{
    AppConfig, AppConfigChanges, AppUse, MagicSite, NewAppConfig, SiteApp, MAX_SITES_SEARCHED,
};

/// An app the account defined. Absent or null lists read as empty.
///
/// Serialises as `{"id", "name", "type", "hostnames", "ip_subnets", "source_subnets"}`; in a
/// [`MagicListItem`], with `"kind": "account"`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct MagicApp {
    /// The app's `account_app_id`.
    pub id: MagicAppId,
    /// Display name.
    pub name: Option<String>,
    /// Free-form category (`type` in the API), e.g. "Development".
    #[serde(rename = "type")]
    pub app_type: Option<String>,
    /// FQDNs of the app.
    pub hostnames: Vec<String>,
    /// IPv4 CIDRs of the app.
    pub ip_subnets: Vec<String>,
    /// Source IPv4 CIDRs of the app.
    pub source_subnets: Vec<String>,
}

/// An app Cloudflare manages; read-only to the account. Serialises as [`MagicApp`] does.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ManagedApp {
    /// The app's `managed_app_id`, e.g. `cloudflare`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free-form category (`type` in the API).
    #[serde(rename = "type")]
    pub app_type: Option<String>,
    /// FQDNs of the app.
    pub hostnames: Vec<String>,
    /// IPv4 CIDRs of the app.
    pub ip_subnets: Vec<String>,
    /// Source IPv4 CIDRs of the app.
    pub source_subnets: Vec<String>,
}

/// An item of the list: the account's own app, or one Cloudflare manages. Serialises as the
/// app with `"kind": "account"` or `"kind": "managed"`.
///
/// ```
/// use apps_api::cloudflare::magic::MagicListItem;
/// let item: MagicListItem = serde_json::from_str(
///     r#"{"kind": "managed", "id": "cloudflare", "name": "Cloudflare", "type": "Development",
///         "hostnames": ["cloudflare.com"], "ip_subnets": [], "source_subnets": []}"#,
/// ).unwrap();
/// assert_eq!(serde_json::to_value(&item).unwrap()["kind"], "managed");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum MagicListItem {
    /// An account app (can be updated and deleted).
    Account(MagicApp),
    /// A Cloudflare-managed app.
    Managed(ManagedApp),
}

impl MagicListItem {
    /// The account app, if this is one.
    pub fn as_account_app(&self) -> Option<&MagicApp> {
        match self {
            MagicListItem::Account(app) => Some(app),
            MagicListItem::Managed(_) => None,
        }
    }
}

fn list(value: Option<gen::MagicHostnames>) -> Vec<String> {
    value.and_then(|v| v.0).unwrap_or_default()
}

fn subnets(value: Option<gen::MagicSubnets>) -> Vec<String> {
    value
        .and_then(|v| v.0)
        .map(|v| v.into_iter().map(|c| c.0).collect())
        .unwrap_or_default()
}

impl From<gen::MagicAccountApp> for MagicApp {
    fn from(app: gen::MagicAccountApp) -> Self {
        Self {
            id: MagicAppId::new(app.account_app_id),
            name: app.name,
            app_type: app.type_,
            hostnames: list(app.hostnames),
            ip_subnets: subnets(app.ip_subnets),
            source_subnets: subnets(app.source_subnets),
        }
    }
}

impl From<wire::MagicAppListItem> for MagicListItem {
    fn from(item: wire::MagicAppListItem) -> Self {
        match item {
            wire::MagicAppListItem::AccountApp(app) => MagicListItem::Account(app.into()),
            wire::MagicAppListItem::ManagedApp(app) => MagicListItem::Managed(ManagedApp {
                id: app.managed_app_id,
                name: app.name,
                app_type: app.type_,
                hostnames: list(app.hostnames),
                ip_subnets: subnets(app.ip_subnets),
                source_subnets: subnets(app.source_subnets),
            }),
        }
    }
}

/// The wire form of a list item, replacing the spec's `oneOf` in the generated code.
pub(crate) mod wire {
    use super::gen;

    /// An item of the list: the account's own app or one Cloudflare manages, told apart by
    /// which ID key it has (`account_app_id` wins if, against the spec, both are present).
    #[derive(Clone, Debug, serde::Serialize)]
    #[serde(untagged)]
    pub enum MagicAppListItem {
        /// Has `account_app_id`.
        AccountApp(gen::MagicAccountApp),
        /// Has `managed_app_id`.
        ManagedApp(gen::MagicManagedApp),
    }

    /// Both variants' fields, decoded in one pass.
    #[derive(serde::Deserialize)]
    struct Fields {
        account_app_id: Option<String>,
        managed_app_id: Option<String>,
        name: Option<String>,
        #[serde(rename = "type")]
        type_: Option<String>,
        hostnames: Option<gen::MagicHostnames>,
        ip_subnets: Option<gen::MagicSubnets>,
        source_subnets: Option<gen::MagicSubnets>,
    }

    impl<'de> serde::Deserialize<'de> for MagicAppListItem {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let f = Fields::deserialize(deserializer)?;
            match (f.account_app_id, f.managed_app_id) {
                (Some(account_app_id), _) => Ok(Self::AccountApp(gen::MagicAccountApp {
                    account_app_id,
                    name: f.name,
                    type_: f.type_,
                    hostnames: f.hostnames,
                    ip_subnets: f.ip_subnets,
                    source_subnets: f.source_subnets,
                })),
                (None, Some(managed_app_id)) => Ok(Self::ManagedApp(gen::MagicManagedApp {
                    managed_app_id,
                    name: f.name,
                    type_: f.type_,
                    hostnames: f.hostnames,
                    ip_subnets: f.ip_subnets,
                    source_subnets: f.source_subnets,
                })),
                (None, None) => Err(serde::de::Error::custom(
                    "an app has neither `account_app_id` nor `managed_app_id`",
                )),
            }
        }
    }
}

/// Body of [`Magic::create`]: `name` and `app_type` are required, and at least one of
/// hostnames, IP subnets or source subnets (an empty list counts).
///
/// ```
/// use apps_api::cloudflare::magic::NewMagicApp;
/// let app = NewMagicApp::new("Dashboard", "Development")
///     .hostnames(["dash.example.com"])
///     .ip_subnets(["192.0.2.0/24"]);
/// # let _ = app;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct NewMagicApp {
    name: String,
    app_type: String,
    hostnames: Option<Vec<String>>,
    ip_subnets: Option<Vec<String>>,
    source_subnets: Option<Vec<String>>,
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Option<Vec<String>> {
    Some(items.into_iter().map(Into::into).collect())
}

impl NewMagicApp {
    /// An app with its name and category.
    pub fn new(name: impl Into<String>, app_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            app_type: app_type.into(),
            hostnames: None,
            ip_subnets: None,
            source_subnets: None,
        }
    }

    /// FQDNs of the app.
    pub fn hostnames<I: IntoIterator<Item = S>, S: Into<String>>(mut self, items: I) -> Self {
        self.hostnames = strings(items);
        self
    }

    /// IPv4 CIDRs of the app.
    pub fn ip_subnets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, items: I) -> Self {
        self.ip_subnets = strings(items);
        self
    }

    /// Source IPv4 CIDRs of the app.
    pub fn source_subnets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, items: I) -> Self {
        self.source_subnets = strings(items);
        self
    }

    fn to_request(&self) -> Result<gen::MagicAppCreateRequest, Error> {
        if self.hostnames.is_none() && self.ip_subnets.is_none() && self.source_subnets.is_none() {
            return Err(Error::InvalidArgument(
                "a Magic app needs at least one of hostnames, ip_subnets or source_subnets".into(),
            ));
        }
        Ok(gen::MagicAppCreateRequest {
            name: self.name.clone(),
            type_: self.app_type.clone(),
            hostnames: self.hostnames.clone().map(gen::MagicRequestHostnames),
            ip_subnets: request_subnets("ip_subnets", &self.ip_subnets)?,
            source_subnets: request_source_subnets(&self.source_subnets)?,
        })
    }
}

/// Body of [`Magic::update`] (PUT, replaces) and [`Magic::patch`] (PATCH, merges): at least one
/// field must be set.
///
/// ```
/// use apps_api::cloudflare::magic::MagicAppChanges;
/// let rename = MagicAppChanges::new().name("Dashboard v2");
/// # let _ = rename;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct MagicAppChanges {
    name: Option<String>,
    app_type: Option<String>,
    hostnames: Option<Vec<String>>,
    ip_subnets: Option<Vec<String>>,
    source_subnets: Option<Vec<String>>,
}

impl MagicAppChanges {
    /// No changes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the category.
    pub fn app_type(mut self, app_type: impl Into<String>) -> Self {
        self.app_type = Some(app_type.into());
        self
    }

    /// Sets the FQDNs (an empty list clears them).
    pub fn hostnames<I: IntoIterator<Item = S>, S: Into<String>>(mut self, items: I) -> Self {
        self.hostnames = strings(items);
        self
    }

    /// Sets the IPv4 CIDRs.
    pub fn ip_subnets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, items: I) -> Self {
        self.ip_subnets = strings(items);
        self
    }

    /// Sets the source IPv4 CIDRs.
    pub fn source_subnets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, items: I) -> Self {
        self.source_subnets = strings(items);
        self
    }

    fn to_request(&self) -> Result<gen::MagicAppUpdateRequest, Error> {
        if *self == Self::default() {
            return Err(Error::InvalidArgument(
                "a Magic app update needs at least one field".into(),
            ));
        }
        Ok(gen::MagicAppUpdateRequest {
            name: self.name.clone(),
            type_: self.app_type.clone(),
            hostnames: self.hostnames.clone().map(gen::MagicRequestHostnames),
            ip_subnets: request_subnets("ip_subnets", &self.ip_subnets)?,
            source_subnets: request_source_subnets(&self.source_subnets)?,
        })
    }
}

/// A CIDR prefix length of at most `max`, in digits without a leading zero (as the spec's
/// pattern has it: `/8`, not `/08`).
fn is_prefix(prefix: &str, max: u8) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'))
        && prefix.parse::<u8>().is_ok_and(|p| p <= max)
}

/// Whether `text` is an IPv4 subnet in CIDR notation (`a.b.c.d/n`, n ≤ 32, no leading zeros),
/// as the API requires of `ip_subnets`. Agrees with `MagicIpv4Cidr`'s pattern in the spec.
pub(crate) fn is_ipv4_cidr(text: &str) -> bool {
    text.split_once('/').is_some_and(|(addr, prefix)| {
        // std refuses octets with leading zeros, as the pattern does.
        addr.parse::<Ipv4Addr>().is_ok() && is_prefix(prefix, 32)
    })
}

/// Whether `text` is an IPv4 or IPv6 subnet in CIDR notation, as `source_subnets` takes them.
pub(crate) fn is_source_cidr(text: &str) -> bool {
    is_ipv4_cidr(text)
        || text.split_once('/').is_some_and(|(addr, prefix)| {
            addr.parse::<Ipv6Addr>().is_ok() && is_prefix(prefix, 128)
        })
}

/// Checks each of `ip_subnets` is IPv4 CIDR notation, as the API requires.
fn request_subnets(
    field: &str,
    subnets: &Option<Vec<String>>,
) -> Result<Option<gen::MagicRequestSubnets>, Error> {
    checked(
        field,
        subnets,
        is_ipv4_cidr,
        "an IPv4 subnet in CIDR notation (like 192.0.2.0/24)",
    )
    .map(|list| {
        list.map(|l| gen::MagicRequestSubnets(l.into_iter().map(gen::MagicIpv4Cidr).collect()))
    })
}

/// Checks each of `source_subnets` is IPv4 or IPv6 CIDR notation.
fn request_source_subnets(
    subnets: &Option<Vec<String>>,
) -> Result<Option<gen::MagicRequestSourceSubnets>, Error> {
    checked(
        "source_subnets",
        subnets,
        is_source_cidr,
        "an IPv4 or IPv6 subnet in CIDR notation (like 192.0.2.0/24 or 2001:db8::/32)",
    )
    .map(|list| {
        list.map(|l| {
            gen::MagicRequestSourceSubnets(l.into_iter().map(gen::MagicSourceCidr).collect())
        })
    })
}

fn checked(
    field: &str,
    subnets: &Option<Vec<String>>,
    valid: fn(&str) -> bool,
    what: &str,
) -> Result<Option<Vec<String>>, Error> {
    let Some(subnets) = subnets else {
        return Ok(None);
    };
    if let Some(bad) = subnets.iter().find(|s| !valid(s)) {
        let shown: String = bad.chars().take(64).flat_map(char::escape_debug).collect();
        return Err(Error::InvalidArgument(format!(
            "{field}: \"{shown}\" is not {what}"
        )));
    }
    Ok(Some(subnets.clone()))
}

/// Magic account apps of one account: `cloudflare.magic(account)`.
#[derive(Clone, Debug)]
pub struct Magic<'a> {
    client: &'a CloudflareClient,
    account: AccountId,
    limits: Limits,
}

impl CloudflareClient {
    /// The Magic account apps of `account`.
    pub fn magic(&self, account: impl Into<AccountId>) -> Magic<'_> {
        Magic {
            client: self,
            account: account.into(),
            limits: Limits::default(),
        }
    }
}

impl Magic<'_> {
    handle_limits!();

    /// The generated client for one request of `operation`, with this handle's limits.
    fn api(&self, operation: &'static Operation) -> crate::generated::magic::Client {
        let inner = &self.client.inner;
        let op = Planned::new(operation).with_limits(self.limits);
        inner.magic.client(&inner.transport, op)
    }

    /// Lists the account's apps and the apps Cloudflare manages. There is no single-app GET.
    pub async fn list(&self) -> Result<Vec<MagicListItem>, Error> {
        let account = self.account.segment()?;
        let api = self.api(&ops::MAGIC_ACCOUNT_APPS_LIST_APPS);
        let items = self
            .client
            .request(&api, account, || api.magic_account_apps_list_apps(account))
            .await?;
        Ok(items.into_iter().map(MagicListItem::from).collect())
    }

    /// Creates an app. Checked before sending: subnets must be IPv4 CIDRs, and at least one
    /// list must be set. Never retried after it was sent.
    ///
    /// ```no_run
    /// # async fn run(cf: apps_api::cloudflare::CloudflareClient) -> Result<(), apps_api::Error> {
    /// use apps_api::cloudflare::magic::NewMagicApp;
    /// let app = cf
    ///     .magic("023e105f4ecef8ad9ca31a8372d0c353")
    ///     .create(&NewMagicApp::new("Dashboard", "Development").hostnames(["dash.example.com"]))
    ///     .await?;
    /// println!("created {}", app.id);
    /// # Ok(()) }
    /// ```
    ///
    /// A success without an app in `result` is [`Error::Decode`].
    pub async fn create(&self, app: &NewMagicApp) -> Result<MagicApp, Error> {
        let body = app.to_request()?;
        let account = self.account.segment()?;
        let api = self.api(&ops::MAGIC_ACCOUNT_APPS_ADD_APP);
        let created = self
            .client
            .request(&api, account, || {
                api.magic_account_apps_add_app(account, &body)
            })
            .await?;
        Ok(created.into())
    }

    /// Replaces the app (PUT): send its complete state, omitted lists may be cleared.
    ///
    /// A success without an app in `result` is [`Error::Decode`].
    pub async fn update(
        &self,
        app: &MagicAppId,
        changes: &MagicAppChanges,
    ) -> Result<MagicApp, Error> {
        let body = changes.to_request()?;
        let (account, app) = (self.account.segment()?, app.segment()?);
        let api = self.api(&ops::MAGIC_ACCOUNT_APPS_UPDATE_APP);
        let updated = self
            .client
            .request(&api, account, || {
                api.magic_account_apps_update_app(account, app, &body)
            })
            .await?;
        Ok(updated.into())
    }

    /// Changes only the fields set in `changes` (PATCH).
    ///
    /// A success without an app in `result` is [`Error::Decode`].
    pub async fn patch(
        &self,
        app: &MagicAppId,
        changes: &MagicAppChanges,
    ) -> Result<MagicApp, Error> {
        let body = changes.to_request()?;
        let (account, app) = (self.account.segment()?, app.segment()?);
        let api = self.api(&ops::MAGIC_ACCOUNT_APPS_PATCH_APP);
        let patched = self
            .client
            .request(&api, account, || {
                api.magic_account_apps_patch_app(account, app, &body)
            })
            .await?;
        Ok(patched.into())
    }

    /// Deletes the app and returns it as it was.
    ///
    /// A success without an app in `result` is [`Error::Decode`].
    pub async fn delete(&self, app: &MagicAppId) -> Result<MagicApp, Error> {
        let (account, app) = (self.account.segment()?, app.segment()?);
        let api = self.api(&ops::MAGIC_ACCOUNT_APPS_DELETE_APP);
        let deleted = self
            .client
            .request(&api, account, || {
                api.magic_account_apps_delete_app(account, app)
            })
            .await?;
        Ok(deleted.into())
    }
}

#[cfg(test)]
mod tests;
