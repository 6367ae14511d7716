//! Hover apps: `/api/apps`. JSON:API documents are flattened into [`HoverApp`].
//!
//! Reference: <https://docs.usehover.com/api/apps>

use chrono::{DateTime, Utc};

use super::HoverClient;
use crate::core::plan::{handle_limits, Limits, Planned};
use crate::generated::hover::types as gen;
use crate::operations as ops;
use crate::{Error, HoverAppId, Secret};

/// A Hover app: `data.id`, `data.attributes` and the organization relationship in one struct.
/// `token` and `webhook_secret` are [`Secret`]s.
///
/// Serialises as `{"id", "name", "package_name", "icon", "webhook_url", "organization_id",
/// "created_at", "updated_at", "archived_at", "transactions_count", "is_tester", "apk_url"}`:
/// without its secrets, which are never written out (nor read back).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct HoverApp {
    /// The app's ID (`data.id`).
    pub id: HoverAppId,
    /// App name.
    pub name: String,
    /// Android package name.
    pub package_name: String,
    /// Icon (may be a placeholder such as `noimg.svg`).
    pub icon: Option<String>,
    /// The app's API token.
    #[serde(skip)]
    pub token: Option<Secret>,
    /// Where Hover posts transaction events.
    pub webhook_url: Option<String>,
    /// The secret Hover echoes in each webhook payload (see [`verify_webhook`]).
    #[serde(skip)]
    pub webhook_secret: Option<Secret>,
    /// The owning organization (`attributes.organization_id`, or the relationship's ID).
    pub organization_id: Option<i64>,
    /// When the app was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When the app was last updated.
    pub updated_at: Option<DateTime<Utc>>,
    /// When the app was archived; `None` while it is active.
    pub archived_at: Option<DateTime<Utc>>,
    /// Number of transactions.
    pub transactions_count: Option<i64>,
    /// Whether this is a tester app.
    pub is_tester: Option<bool>,
    /// Where the APK can be downloaded.
    pub apk_url: Option<String>,
}

impl From<gen::HoverAppDocument> for HoverApp {
    fn from(document: gen::HoverAppDocument) -> Self {
        let data = document.data;
        let a = data.attributes;
        let related_org = data
            .relationships
            .and_then(|r| r.organization)
            .and_then(|o| o.data)
            .and_then(|d| d.id.parse().ok());
        Self {
            id: HoverAppId::new(data.id),
            name: a.name,
            package_name: a.package_name,
            icon: a.icon,
            token: a.token,
            webhook_url: a.webhook_url,
            webhook_secret: a.webhook_secret,
            organization_id: a.organization_id.or(related_org),
            created_at: a.created_at,
            updated_at: a.updated_at,
            archived_at: a.archived_at,
            transactions_count: a.transactions_count,
            is_tester: a.is_tester,
            apk_url: a.apk_url,
        }
    }
}

/// The answer to [`HoverApps::archive`]: `{"id": 43120, "archived": true}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Archived {
    /// The app's ID, as an integer.
    pub id: i64,
    /// Whether it is archived now.
    pub archived: bool,
}

/// Body of [`HoverApps::create`].
///
/// ```
/// use apps_api::hover::NewHoverApp;
/// let app = NewHoverApp::new("Example App", "com.example.app")
///     .webhook_url("https://example.com/app");
/// # let _ = app;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct NewHoverApp {
    name: String,
    package_name: String,
    webhook_url: Option<String>,
}

impl NewHoverApp {
    /// An app with its name and Android package name (both required).
    pub fn new(name: impl Into<String>, package_name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            package_name: package_name.into(),
            webhook_url: None,
        }
    }

    /// Where Hover should post transaction events.
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }
}

/// Body of [`HoverApps::update`] (PATCH): only the fields set are sent, and the webhook URL
/// can be cleared (sent as `null`).
///
/// ```
/// use apps_api::hover::HoverAppChanges;
/// let changes = HoverAppChanges::new().package_name("com.example.app.v1").clear_webhook_url();
/// assert_eq!(
///     serde_json::to_string(&changes).unwrap(),
///     r#"{"package_name":"com.example.app.v1","webhook_url":null}"#
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[must_use]
pub struct HoverAppChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    package_name: Option<String>,
    /// `None`: unchanged; `Some(None)`: cleared; `Some(Some(url))`: set.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    webhook_url: Option<Option<String>>,
}

/// Tells a field that is present as `null` (`Some(None)`) from one that is absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

impl HoverAppChanges {
    /// No changes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Renames the app.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Changes the Android package name.
    pub fn package_name(mut self, package_name: impl Into<String>) -> Self {
        self.package_name = Some(package_name.into());
        self
    }

    /// Sets the webhook URL.
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(Some(url.into()));
        self
    }

    /// Removes the webhook URL.
    pub fn clear_webhook_url(mut self) -> Self {
        self.webhook_url = Some(None);
        self
    }
}

/// Checks a received webhook payload's `meta.secret` against the app's `webhook_secret`, in
/// constant time. Hover signs nothing; this echo is the only proof the webhook came from Hover.
///
/// ```
/// use apps_api::{hover::verify_webhook, Secret};
/// let secret = Secret::new("9a62320275d84bb241a0d34d11a1b27a");
/// let payload = br#"{"meta": {"secret": "9a62320275d84bb241a0d34d11a1b27a"}, "data": {}}"#;
/// assert!(verify_webhook(payload, &secret));
/// assert!(!verify_webhook(br#"{"meta": {"secret": "guess"}}"#, &secret));
/// // An app without a webhook secret verifies nothing, not even an empty echo.
/// assert!(!verify_webhook(br#"{"meta": {"secret": ""}}"#, &Secret::new("")));
/// ```
pub fn verify_webhook(payload: &[u8], webhook_secret: &Secret) -> bool {
    if webhook_secret.expose().is_empty() {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Payload {
        meta: Meta,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        secret: String,
    }
    match serde_json::from_slice::<Payload>(payload) {
        Ok(payload) => webhook_secret.ct_eq(&payload.meta.secret),
        Err(_) => false,
    }
}

/// The organization's apps: `hover.apps()`.
#[derive(Clone, Debug)]
pub struct HoverApps<'a> {
    client: &'a HoverClient,
    limits: Limits,
}

impl HoverClient {
    /// The apps API.
    pub fn apps(&self) -> HoverApps<'_> {
        HoverApps {
            client: self,
            limits: Limits::default(),
        }
    }
}

impl HoverApps<'_> {
    handle_limits!();

    /// Creates an app. Never retried after it was sent (a retry would make a second app).
    pub async fn create(&self, app: &NewHoverApp) -> Result<HoverApp, Error> {
        let body = gen::HoverAppCreateRequest {
            app: gen::HoverAppCreateFields {
                name: app.name.clone(),
                package_name: app.package_name.clone(),
                webhook_url: app.webhook_url.clone(),
            },
        };
        let api = self
            .client
            .api(Planned::new(&ops::HOVER_APPS_CREATE).with_limits(self.limits));
        let document = self
            .client
            .request(&api, || api.hover_apps_create(&body))
            .await?;
        Ok(document.into())
    }

    /// Fetches one app.
    pub async fn get(&self, id: &HoverAppId) -> Result<HoverApp, Error> {
        let id = id.segment()?;
        let api = self
            .client
            .api(Planned::new(&ops::HOVER_APPS_GET).with_limits(self.limits));
        Ok(self
            .client
            .request(&api, || api.hover_apps_get(id))
            .await?
            .into())
    }

    /// Changes the attributes set in `changes` (PATCH).
    ///
    /// ```no_run
    /// # async fn run(hover: apps_api::hover::HoverClient) -> Result<(), apps_api::Error> {
    /// use apps_api::{hover::HoverAppChanges, HoverAppId};
    /// let id = HoverAppId::new("43120");
    /// let app = hover.apps().update(&id, &HoverAppChanges::new().package_name("com.example.app.v1")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update(
        &self,
        id: &HoverAppId,
        changes: &HoverAppChanges,
    ) -> Result<HoverApp, Error> {
        if *changes == HoverAppChanges::default() {
            return Err(Error::InvalidArgument(
                "an app update needs at least one change".into(),
            ));
        }
        let id = id.segment()?;
        let body = gen::HoverAppUpdateRequest {
            app: changes.clone(),
        };
        let api = self
            .client
            .api(Planned::new(&ops::HOVER_APPS_UPDATE).with_limits(self.limits));
        Ok(self
            .client
            .request(&api, || api.hover_apps_update(id, &body))
            .await?
            .into())
    }

    /// Archives the app (undo with [`HoverApps::restore`]).
    pub async fn archive(&self, id: &HoverAppId) -> Result<Archived, Error> {
        let id = id.segment()?;
        let api = self
            .client
            .api(Planned::new(&ops::HOVER_APPS_ARCHIVE).with_limits(self.limits));
        let archived = self
            .client
            .request(&api, || api.hover_apps_archive(id))
            .await?;
        Ok(Archived {
            id: archived.id,
            archived: archived.archived,
        })
    }

    /// Restores an archived app; its `archived_at` is `None` again.
    pub async fn restore(&self, id: &HoverAppId) -> Result<HoverApp, Error> {
        let id = id.segment()?;
        let api = self
            .client
            .api(Planned::new(&ops::HOVER_APPS_RESTORE).with_limits(self.limits));
        Ok(self
            .client
            .request(&api, || api.hover_apps_restore(id))
            .await?
            .into())
    }
}
