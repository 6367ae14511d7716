//! `apps-api magic sites`, `magic site-apps …` and `magic usage`: the account's sites, their
//! app configs, and which of them use an app.

use apps_api::cloudflare::magic::{
    AppConfig, AppConfigChanges, AppUse, Magic, MagicSite, NewAppConfig, SiteApp,
};
use apps_api::{AppConfigId, Error, MagicAppId, SiteId};

use super::args::{AppConfigFields, Global, SiteApps};
use super::{output, Failure};

const SITE_HEADERS: &[&str] = &["ID", "NAME", "DESCRIPTION", "CONNECTOR", "HA"];
const CONFIG_HEADERS: &[&str] = &[
    "ID",
    "SITE",
    "APP",
    "BREAKOUT",
    "PRIORITY",
    "PREFERRED_WANS",
];
const USAGE_HEADERS: &[&str] = &["SITE", "SITE_NAME", "CONFIG", "BREAKOUT", "PRIORITY"];

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or("-".into(), |v| v.to_string())
}

fn site_row(site: &MagicSite) -> Vec<String> {
    vec![
        site.id.to_string(),
        or_dash(site.name.as_deref()),
        or_dash(site.description.as_deref()),
        or_dash(site.connector_id.as_deref()),
        or_dash(site.ha_mode),
    ]
}

fn config_row(config: &AppConfig) -> Vec<String> {
    let wans = if config.preferred_wans.is_empty() {
        "-".into()
    } else {
        config.preferred_wans.join(",")
    };
    vec![
        config.id.to_string(),
        config.site_id.to_string(),
        config.app.to_string(),
        or_dash(config.breakout),
        or_dash(config.priority),
        wans,
    ]
}

fn use_row(found: &AppUse) -> Vec<String> {
    vec![
        found.site.id.to_string(),
        or_dash(found.site.name.as_deref()),
        found.config.id.to_string(),
        or_dash(found.config.breakout),
        or_dash(found.config.priority),
    ]
}

/// The app named by the flags, if any.
fn app(fields: &AppConfigFields) -> Option<SiteApp> {
    match (&fields.account_app, &fields.managed_app) {
        (Some(id), _) => Some(SiteApp::Account(MagicAppId::new(id.as_str()))),
        (None, Some(id)) => Some(SiteApp::Managed(id.clone())),
        (None, None) => None,
    }
}

fn changes(fields: &AppConfigFields) -> AppConfigChanges {
    let mut changes = AppConfigChanges::new();
    if let Some(app) = app(fields) {
        changes = changes.app(app);
    }
    if let Some(breakout) = fields.breakout {
        changes = changes.breakout(breakout);
    }
    if let Some(priority) = fields.priority {
        changes = changes.priority(priority);
    }
    if !fields.preferred_wans.is_empty() {
        changes = changes.preferred_wans(fields.preferred_wans.clone());
    }
    changes
}

fn new_config(fields: &AppConfigFields) -> Result<NewAppConfig, Error> {
    let app = app(fields).ok_or_else(|| {
        Error::InvalidArgument("site-apps create needs --account-app or --managed-app".into())
    })?;
    let mut config = NewAppConfig::new(app);
    if let Some(breakout) = fields.breakout {
        config = config.breakout(breakout);
    }
    if let Some(priority) = fields.priority {
        config = config.priority(priority);
    }
    if !fields.preferred_wans.is_empty() {
        config = config.preferred_wans(fields.preferred_wans.clone());
    }
    Ok(config)
}

pub async fn sites(magic: &Magic<'_>, global: &Global) -> Result<(), Failure> {
    output::items(global.json, &magic.sites().await?, SITE_HEADERS, site_row);
    Ok(())
}

pub async fn site_apps(
    magic: &Magic<'_>,
    command: SiteApps,
    global: &Global,
) -> Result<(), Failure> {
    let single = |config: &AppConfig| output::item(global.json, config, CONFIG_HEADERS, config_row);
    match command {
        SiteApps::List { site_id } => output::items(
            global.json,
            &magic.app_configs(&SiteId::parse(site_id)?).await?,
            CONFIG_HEADERS,
            config_row,
        ),
        SiteApps::Create { site_id, fields } => {
            let config = new_config(&fields)?;
            single(
                &magic
                    .create_app_config(&SiteId::parse(site_id)?, &config)
                    .await?,
            );
        }
        SiteApps::Update {
            site_id,
            config_id,
            fields,
        } => single(
            &magic
                .update_app_config(
                    &SiteId::parse(site_id)?,
                    &AppConfigId::parse(config_id)?,
                    &changes(&fields),
                )
                .await?,
        ),
        SiteApps::Patch {
            site_id,
            config_id,
            fields,
        } => single(
            &magic
                .patch_app_config(
                    &SiteId::parse(site_id)?,
                    &AppConfigId::parse(config_id)?,
                    &changes(&fields),
                )
                .await?,
        ),
        SiteApps::Delete { site_id, config_id } => single(
            &magic
                .delete_app_config(&SiteId::parse(site_id)?, &AppConfigId::parse(config_id)?)
                .await?,
        ),
    }
    Ok(())
}

/// The app an ID names: an account app's, or with `managed`, a managed app's.
fn named_app(app_id: String, managed: bool) -> Result<SiteApp, Error> {
    Ok(if managed {
        SiteApp::Managed(app_id)
    } else {
        SiteApp::Account(MagicAppId::parse(app_id)?)
    })
}

pub async fn usage(
    magic: &Magic<'_>,
    app_id: String,
    managed: bool,
    global: &Global,
) -> Result<(), Failure> {
    let app = named_app(app_id, managed)?;
    output::items(
        global.json,
        &magic.configs_using(&app).await?,
        USAGE_HEADERS,
        use_row,
    );
    Ok(())
}

/// Refuses when site app configs use `app`, naming their sites.
pub async fn refuse_if_used(magic: &Magic<'_>, app: &MagicAppId) -> Result<(), Error> {
    let uses = magic.configs_using(&SiteApp::Account(app.clone())).await?;
    match in_use(app, &uses) {
        Some(why) => Err(Error::InvalidArgument(why)),
        None => Ok(()),
    }
}

/// Why `app` cannot be deleted, if configs use it. Site names and IDs are server text: made
/// safe for a terminal and cut, as table cells are.
fn in_use(app: &MagicAppId, uses: &[AppUse]) -> Option<String> {
    if uses.is_empty() {
        return None;
    }
    let shown = |text: &str| output::cell(&output::safe(text));
    let sites: Vec<String> = uses
        .iter()
        .take(output::FEW)
        .map(|found| {
            let (site, config) = (
                shown(found.site.id.as_str()),
                shown(found.config.id.as_str()),
            );
            match &found.site.name {
                Some(name) => format!("{} ({site}, config {config})", shown(name)),
                None => format!("{site} (config {config})"),
            }
        })
        .collect();
    Some(format!(
        "Magic app {} is used by {} site app config(s): {}; delete those configs first \
         (apps-api magic site-apps delete SITE_ID CONFIG_ID), or pass --force",
        shown(app.as_str()),
        uses.len(),
        output::first_few(&sites, uses.len())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A site named by someone else with escape sequences, or at length, is shown escaped and
    /// cut in the refusal that goes to the operator's terminal.
    #[test]
    fn the_refusal_shows_server_text_escaped_and_cut() {
        let found: AppUse = serde_json::from_value(serde_json::json!({
            "site": {"id": "s1", "name": format!("\u{1b}]52;c;aGk=\u{7}{}", "x".repeat(500)),
                     "description": null, "connector_id": null, "secondary_connector_id": null,
                     "ha_mode": null},
            "config": {"id": "c\u{202e}1", "site_id": "s1", "app": {"kind": "account", "id": "a"},
                       "breakout": null, "priority": 1, "preferred_wans": []}
        }))
        .unwrap();
        let why = in_use(&MagicAppId::new("a"), &[found]).unwrap();
        assert!(
            !why.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{why:?}"
        );
        assert!(why.contains("s1") && why.contains("--force"), "{why}");
        assert!(why.len() < 400, "{} bytes", why.len());
        assert_eq!(in_use(&MagicAppId::new("a"), &[]), None);
        // Thousands of configs from the server: the first few, then how many more.
        let many = vec![found_config(); 5000];
        let why = in_use(&MagicAppId::new("a"), &many).unwrap();
        assert!(why.len() < 1000, "{} bytes", why.len());
        assert!(
            why.contains("5000 site app config(s)") && why.contains("and 4995 more"),
            "{why}"
        );
    }

    fn found_config() -> AppUse {
        serde_json::from_value(serde_json::json!({
            "site": {"id": "s1", "name": "Site", "description": null, "connector_id": null,
                     "secondary_connector_id": null, "ha_mode": null},
            "config": {"id": "c1", "site_id": "s1", "app": {"kind": "account", "id": "a"},
                       "breakout": null, "priority": 1, "preferred_wans": []}
        }))
        .unwrap()
    }
}
