//! Magic sites and their app configs: what makes a Magic app do something. A site's app config
//! points at one app and says what happens to its traffic there: break out to the Internet
//! directly, or be prioritised.
//!
//! Reference: <https://developers.cloudflare.com/api/resources/magic_transit/subresources/sites/subresources/app_configuration/>

use super::{Magic, MagicAppId};
use crate::core::plan::OneCall;
use crate::generated::magic::types as gen;
use crate::operations as ops;
use crate::{AppConfigId, Error, SiteId};

/// A Magic WAN site of the account.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct MagicSite {
    /// The site's ID.
    pub id: SiteId,
    /// Its name.
    pub name: Option<String>,
    /// Free text about it.
    pub description: Option<String>,
    /// Its Magic WAN Connector.
    pub connector_id: Option<String>,
    /// Its second Connector, in high availability.
    pub secondary_connector_id: Option<String>,
    /// Whether it runs two Connectors in high availability.
    pub ha_mode: Option<bool>,
}

impl From<gen::MagicSite> for MagicSite {
    fn from(site: gen::MagicSite) -> Self {
        Self {
            id: SiteId::new(site.id),
            name: site.name,
            description: site.description,
            connector_id: site.connector_id,
            secondary_connector_id: site.secondary_connector_id,
            ha_mode: site.ha_mode,
        }
    }
}

/// The app a site's app config points at: one of the account's apps, or one Cloudflare
/// manages. Serialises as `{"kind": "account" | "managed", "id": …}`. Two name the same app
/// (`==`) when they are of the same kind and their IDs are equal, an account app's without
/// regard to ASCII case (those IDs are hex).
///
/// ```
/// use apps_api::cloudflare::magic::SiteApp;
/// use apps_api::MagicAppId;
/// let app = SiteApp::Managed("cloudflare".into());
/// assert_eq!(app.to_string(), "managed app cloudflare");
/// let upper = SiteApp::Account(MagicAppId::new("AC60D3D0"));
/// assert_eq!(upper, SiteApp::Account(MagicAppId::new("ac60d3d0")));
/// ```
#[derive(Clone, Debug, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum SiteApp {
    /// An account app (`account_app_id`).
    Account(MagicAppId),
    /// A managed app (`managed_app_id`, e.g. `cloudflare`).
    Managed(String),
}

impl std::fmt::Display for SiteApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SiteApp::Account(id) => write!(f, "account app {id}"),
            SiteApp::Managed(id) => write!(f, "managed app {id}"),
        }
    }
}

impl From<MagicAppId> for SiteApp {
    fn from(id: MagicAppId) -> Self {
        SiteApp::Account(id)
    }
}

impl PartialEq for SiteApp {
    fn eq(&self, other: &SiteApp) -> bool {
        match (self, other) {
            (SiteApp::Account(a), SiteApp::Account(b)) => {
                a.as_str().eq_ignore_ascii_case(b.as_str())
            }
            (SiteApp::Managed(a), SiteApp::Managed(b)) => a == b,
            _ => false,
        }
    }
}

impl std::hash::Hash for SiteApp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            SiteApp::Account(id) => {
                state.write_u8(0);
                std::hash::Hash::hash(&id.as_str().to_ascii_lowercase(), state);
            }
            SiteApp::Managed(id) => {
                state.write_u8(1);
                std::hash::Hash::hash(id, state);
            }
        }
    }
}

impl SiteApp {
    /// The two ID fields of a request body, exactly one of them set.
    fn fields(&self) -> Result<(Option<String>, Option<String>), Error> {
        Ok(match self {
            SiteApp::Account(id) => (Some(id.segment()?.to_string()), None),
            SiteApp::Managed(id) if id.is_empty() => {
                return Err(Error::InvalidArgument(
                    "a managed app ID cannot be empty".into(),
                ))
            }
            SiteApp::Managed(id) => (None, Some(id.clone())),
        })
    }
}

/// A site's traffic decision for one app.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AppConfig {
    /// The app config's ID.
    pub id: AppConfigId,
    /// The site it belongs to.
    pub site_id: SiteId,
    /// The app it applies to.
    pub app: SiteApp,
    /// Whether the app's traffic breaks out to the Internet directly; `None` is the default.
    pub breakout: Option<bool>,
    /// Priority of the app's traffic: 0 (or `None`) is the default, 1 is prioritised.
    pub priority: Option<i64>,
    /// WAN interface IDs preferred for breakout, highest priority first.
    pub preferred_wans: Vec<String>,
}

impl TryFrom<gen::MagicAppConfig> for AppConfig {
    type Error = &'static str;

    fn try_from(config: gen::MagicAppConfig) -> Result<Self, Self::Error> {
        let app = match (config.account_app_id, config.managed_app_id) {
            (Some(id), None) => SiteApp::Account(MagicAppId::new(id)),
            (None, Some(id)) => SiteApp::Managed(id),
            (Some(_), Some(_)) => {
                return Err("an app config names both an account app and a managed app")
            }
            (None, None) => return Err("an app config names no app"),
        };
        Ok(Self {
            id: AppConfigId::new(config.id),
            site_id: SiteId::new(config.site_id),
            app,
            breakout: config.breakout.and_then(|b| b.0),
            priority: config.priority.map(|p| p.0),
            preferred_wans: config.preferred_wans.map(|w| w.0).unwrap_or_default(),
        })
    }
}

/// The highest priority the API accepts today.
const MAX_PRIORITY: i64 = 1;

/// The traffic decision fields shared by a create and a change, checked as the API checks them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Decision {
    breakout: Option<bool>,
    priority: Option<i64>,
    preferred_wans: Option<Vec<String>>,
}

impl Decision {
    /// `breakout_known`: whether the request sets the config's whole state (create, PUT), so
    /// that a breakout it leaves out is not true.
    fn check(&self, breakout_known: bool) -> Result<(), Error> {
        if let Some(priority) = self.priority {
            if !(0..=MAX_PRIORITY).contains(&priority) {
                return Err(Error::InvalidArgument(format!(
                    "priority must be 0 (the default) or 1 (prioritised), not {priority}"
                )));
            }
        }
        let breakout_true = self.breakout == Some(true);
        let breakout_maybe = self.breakout.is_none() && !breakout_known;
        if self.preferred_wans.is_some() && !breakout_true && !breakout_maybe {
            return Err(Error::InvalidArgument(
                "preferred_wans are allowed only with breakout set to true".into(),
            ));
        }
        if let Some(wan) = self.preferred_wans.iter().flatten().find(|w| w.is_empty()) {
            return Err(Error::InvalidArgument(format!(
                "preferred_wans: {wan:?} is not a WAN interface ID"
            )));
        }
        Ok(())
    }
}

macro_rules! decision_setters {
    () => {
        /// Whether the app's traffic breaks out to the Internet directly.
        pub fn breakout(mut self, breakout: bool) -> Self {
            self.decision.breakout = Some(breakout);
            self
        }

        /// The priority of the app's traffic: 0 is the default, 1 prioritises it (the only
        /// values the API accepts today; others are refused before sending).
        pub fn priority(mut self, priority: i64) -> Self {
            self.decision.priority = Some(priority);
            self
        }

        /// WAN interface IDs to prefer for breakout, highest priority first (only with
        /// breakout set to true).
        pub fn preferred_wans<I: IntoIterator<Item = S>, S: Into<String>>(
            mut self,
            wans: I,
        ) -> Self {
            self.decision.preferred_wans = Some(wans.into_iter().map(Into::into).collect());
            self
        }
    };
}

/// Body of [`Magic::create_app_config`]: one app, and at least one of breakout or priority.
///
/// ```
/// use apps_api::cloudflare::magic::{NewAppConfig, SiteApp};
/// use apps_api::MagicAppId;
/// let breakout = NewAppConfig::new(MagicAppId::new("ac60d3d0435248289d446cedd870bcf4"))
///     .breakout(true)
///     .preferred_wans(["77c1b3ee9a2d4f7e8c6b5a4d3c2b1a09"]);
/// let prioritise = NewAppConfig::new(SiteApp::Managed("cloudflare".into())).priority(1);
/// # let _ = (breakout, prioritise);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct NewAppConfig {
    app: SiteApp,
    decision: Decision,
}

impl NewAppConfig {
    /// A config for `app`; set breakout or priority (or both).
    pub fn new(app: impl Into<SiteApp>) -> Self {
        Self {
            app: app.into(),
            decision: Decision::default(),
        }
    }

    decision_setters!();

    fn to_request(&self) -> Result<gen::MagicAppConfigCreateRequest, Error> {
        let (account_app_id, managed_app_id) = self.app.fields()?;
        if self.decision.breakout.is_none() && self.decision.priority.is_none() {
            return Err(Error::InvalidArgument(
                "an app config needs breakout or priority (or both)".into(),
            ));
        }
        self.decision.check(true)?;
        let d = &self.decision;
        Ok(gen::MagicAppConfigCreateRequest {
            account_app_id,
            managed_app_id,
            breakout: d.breakout.map(|b| gen::MagicAppBreakout(Some(b))),
            priority: d.priority.map(gen::MagicAppPriority),
            preferred_wans: d.preferred_wans.clone().map(gen::MagicPreferredWans),
        })
    }
}

/// Body of [`Magic::update_app_config`] (PUT, replaces) and [`Magic::patch_app_config`]
/// (PATCH, merges): at least one field.
///
/// ```
/// use apps_api::cloudflare::magic::{AppConfigChanges, SiteApp};
/// let to_managed = AppConfigChanges::new().app(SiteApp::Managed("cloudflare".into()));
/// let prioritise = AppConfigChanges::new().priority(1);
/// # let _ = (to_managed, prioritise);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct AppConfigChanges {
    app: Option<SiteApp>,
    decision: Decision,
}

impl AppConfigChanges {
    /// No changes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Points the config at another app, of either kind. The request names only the new app
    /// (the other kind's field is left out, as the request schema has it); a config holds one
    /// app, so the API replaces the old one.
    pub fn app(mut self, app: impl Into<SiteApp>) -> Self {
        self.app = Some(app.into());
        self
    }

    decision_setters!();

    fn to_request(&self, replace: bool) -> Result<gen::MagicAppConfigUpdateRequest, Error> {
        if *self == Self::default() {
            return Err(Error::InvalidArgument(
                "an app config change needs at least one field".into(),
            ));
        }
        let (account_app_id, managed_app_id) = match &self.app {
            Some(app) => app.fields()?,
            None => (None, None),
        };
        // A replacement without either would leave a config that decides nothing, which a
        // create may not make either.
        if replace && self.decision.breakout.is_none() && self.decision.priority.is_none() {
            return Err(Error::InvalidArgument(
                "a replaced app config needs breakout or priority (or both)".into(),
            ));
        }
        self.decision.check(replace)?;
        let d = &self.decision;
        Ok(gen::MagicAppConfigUpdateRequest {
            account_app_id,
            managed_app_id,
            breakout: d.breakout.map(|b| gen::MagicAppBreakout(Some(b))),
            priority: d.priority.map(gen::MagicAppPriority),
            preferred_wans: d.preferred_wans.clone().map(gen::MagicPreferredWans),
        })
    }
}

/// A site app config that points at an app, with its site: what [`Magic::configs_using`] finds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AppUse {
    /// The site.
    pub site: MagicSite,
    /// Its config for the app.
    pub config: AppConfig,
}

fn configs(list: Vec<gen::MagicAppConfig>) -> Result<Vec<AppConfig>, &'static str> {
    list.into_iter().map(AppConfig::try_from).collect()
}

impl Magic<'_> {
    /// Lists the account's Magic sites.
    pub async fn sites(&self) -> Result<Vec<MagicSite>, Error> {
        let account = self.account.segment()?;
        let api = self.api(&ops::MAGIC_SITES_LIST_SITES);
        let sites = self
            .client
            .request(&api, account, || api.magic_sites_list_sites(account))
            .await?;
        Ok(sites.into_iter().map(MagicSite::from).collect())
    }

    /// Fetches one of the account's Magic sites.
    ///
    /// A success without a site in `result` is [`Error::Decode`].
    pub async fn site(&self, site: &SiteId) -> Result<MagicSite, Error> {
        let (account, site) = (self.account.segment()?, site.segment()?);
        let api = self.api(&ops::MAGIC_SITES_SITE_DETAILS);
        let found = self
            .client
            .request(&api, account, || {
                api.magic_sites_site_details(account, site)
            })
            .await?;
        Ok(found.into())
    }

    /// Lists a site's app configs. There is no single-config GET.
    ///
    /// A config that names no app, or both kinds, is [`Error::Decode`].
    pub async fn app_configs(&self, site: &SiteId) -> Result<Vec<AppConfig>, Error> {
        let (account, site) = (self.account.segment()?, site.segment()?);
        let api = self.api(&ops::MAGIC_SITE_APP_CONFIGS_LIST_APP_CONFIGS);
        self.client
            .request_checked(
                &api,
                account,
                || api.magic_site_app_configs_list_app_configs(account, site),
                configs,
            )
            .await
    }

    /// Creates an app config on a site. Checked before sending: one app, breakout or priority,
    /// priority 0 or 1, preferred WANs only with breakout true. Never retried after it was sent.
    ///
    /// ```no_run
    /// # async fn run(cf: apps_api::cloudflare::CloudflareClient) -> Result<(), apps_api::Error> {
    /// use apps_api::cloudflare::magic::NewAppConfig;
    /// use apps_api::{MagicAppId, SiteId};
    /// let magic = cf.magic("023e105f4ecef8ad9ca31a8372d0c353");
    /// let config = magic
    ///     .create_app_config(
    ///         &SiteId::new("5e5b1e0d1a5a4c4c8b1f0e6e3b3c9d1a"),
    ///         &NewAppConfig::new(MagicAppId::new("ac60d3d0435248289d446cedd870bcf4")).breakout(true),
    ///     )
    ///     .await?;
    /// println!("{} now breaks out at site {}", config.app, config.site_id);
    /// # Ok(()) }
    /// ```
    pub async fn create_app_config(
        &self,
        site: &SiteId,
        config: &NewAppConfig,
    ) -> Result<AppConfig, Error> {
        let body = config.to_request()?;
        let (account, site) = (self.account.segment()?, site.segment()?);
        let api = self.api(&ops::MAGIC_SITE_APP_CONFIGS_ADD_APP_CONFIG);
        self.client
            .request_checked(
                &api,
                account,
                || api.magic_site_app_configs_add_app_config(account, site, &body),
                AppConfig::try_from,
            )
            .await
    }

    /// Replaces an app config (PUT): send its complete state, breakout or priority included.
    pub async fn update_app_config(
        &self,
        site: &SiteId,
        config: &AppConfigId,
        changes: &AppConfigChanges,
    ) -> Result<AppConfig, Error> {
        let body = changes.to_request(true)?;
        let (account, site, config) = (self.account.segment()?, site.segment()?, config.segment()?);
        let api = self.api(&ops::MAGIC_SITE_APP_CONFIGS_UPDATE_APP_CONFIG);
        self.client
            .request_checked(
                &api,
                account,
                || api.magic_site_app_configs_update_app_config(account, site, config, &body),
                AppConfig::try_from,
            )
            .await
    }

    /// Changes only the fields set in `changes` (PATCH).
    pub async fn patch_app_config(
        &self,
        site: &SiteId,
        config: &AppConfigId,
        changes: &AppConfigChanges,
    ) -> Result<AppConfig, Error> {
        let body = changes.to_request(false)?;
        let (account, site, config) = (self.account.segment()?, site.segment()?, config.segment()?);
        let api = self.api(&ops::MAGIC_SITE_APP_CONFIGS_PATCH_APP_CONFIG);
        self.client
            .request_checked(
                &api,
                account,
                || api.magic_site_app_configs_patch_app_config(account, site, config, &body),
                AppConfig::try_from,
            )
            .await
    }

    /// Deletes an app config and returns it as it was.
    pub async fn delete_app_config(
        &self,
        site: &SiteId,
        config: &AppConfigId,
    ) -> Result<AppConfig, Error> {
        let (account, site, config) = (self.account.segment()?, site.segment()?, config.segment()?);
        let api = self.api(&ops::MAGIC_SITE_APP_CONFIGS_DELETE_APP_CONFIG);
        self.client
            .request_checked(
                &api,
                account,
                || api.magic_site_app_configs_delete_app_config(account, site, config),
                AppConfig::try_from,
            )
            .await
    }

    /// Who uses this app: every site app config of the account that points at `app`, with its
    /// site. One request for the sites, then one per site, one after another, so that the job
    /// takes its turn in the rate budget like any other; a site deleted in between is skipped.
    ///
    /// One call: every request ends by one deadline (the handle's `total_timeout`, else the
    /// client's), and an account listing more than [`MAX_SITES_SEARCHED`] sites is
    /// [`Error::FanOut`], nothing sent for them (list them with [`Magic::sites`] and read
    /// each one's [`Magic::app_configs`] to go further).
    pub async fn configs_using(&self, app: &SiteApp) -> Result<Vec<AppUse>, Error> {
        let call = OneCall::start(
            "Magic::configs_using",
            MAX_SITES_SEARCHED,
            self.limits,
            self.client.inner.transport.total_timeout(),
        );
        let magic = Magic {
            limits: call.limits,
            ..self.clone()
        };
        let sites = magic.sites().await?;
        call.fan_out(sites.len(), "sites")?;
        let mut uses = Vec::new();
        for site in sites {
            let configs = match magic.app_configs(&site.id).await {
                Ok(configs) => configs,
                // Deleted since the list: it has no configs.
                Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            for config in configs {
                if config.app == *app {
                    uses.push(AppUse {
                        site: site.clone(),
                        config,
                    });
                }
            }
        }
        Ok(uses)
    }
}

/// The most sites [`Magic::configs_using`] reads in one call: a request per site, so a sixth of
/// Cloudflare's 1,200 requests per 5 minutes at most.
pub const MAX_SITES_SEARCHED: usize = 200;

#[cfg(test)]
#[path = "sites_tests.rs"]
mod tests;
